"""Batch-invariant sampling: the same seed gives the same samples whatever the batch they are generated in.

Each sample (prompt i, sample j) draws its tokens from its own random stream (``sample_seed(seeds[i], j)``), so
neither ``--batch_size``, nor the other prompts of a chunk, nor their padding change it; and the evaluation
harness seeds each problem from ``--seed`` and its id, so a resume with another ``--batch_size`` adds nothing.
"""

from __future__ import annotations

import json

import pytest
import torch

from helpers import toy_problems
from thrifty import runs
from thrifty.data import build_prompt
from thrifty.eval import EvalArguments, evaluate_benchmark, results_of, sample_settings
from thrifty.eval.harness import SAMPLER, problem_seed
from thrifty.generation import SamplingParams, derive_seed, prompt_seeds, sample_seed
from thrifty.generation.hf import HFBackend, PerRowSampler, row_uniform


QUESTIONS = ["1+1", "12 + 345 = ?", "x", "a much longer question, with 123456 in it"]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(str(tiny_model_dir))


def _prompts(backend, questions=QUESTIONS) -> list[str]:
    return [build_prompt(q, backend.tokenizer, "{question}") for q in questions]


# --------------------------------------------------------------------------------------------- the sampler
def test_seeds_are_derived_by_hashing_and_one_per_prompt():
    assert prompt_seeds(5, 3) == [derive_seed(5, 0), derive_seed(5, 1), derive_seed(5, 2)]
    assert prompt_seeds([7, 8], 2) == [7, 8]
    with pytest.raises(ValueError, match="2 seeds for 3 prompts"):
        prompt_seeds([7, 8], 3)
    # sample j + 1 of a prompt is not sample j of the next prompt's stream (nor of the next seed's)
    assert sample_seed(10, 1) not in {sample_seed(11, 0), sample_seed(10, 0)}
    assert all(0 <= sample_seed(s, j) < 2**63 for s in (0, 2**62) for j in range(3))
    draws = [row_uniform(3, step) for step in range(1000)]
    assert all(0 <= u < 1 for u in draws) and abs(sum(draws) / len(draws) - 0.5) < 0.05


def test_per_row_sampler_draws_from_the_temperature_and_top_p_distribution():
    """4,000 rows with the same logits and their own seeds: the drawn tokens' frequencies are the softmax at the
    temperature (within 5 standard errors), and top-p never lets through a token outside the nucleus."""
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, -3.0])
    rows = 4000
    scores = logits.repeat(rows, 1)
    for temperature, top_p in ((1.0, 1.0), (0.5, 1.0), (1.0, 0.8)):
        sampler = PerRowSampler(range(rows), temperature, top_p, prompt_width=3)
        out = sampler(torch.zeros((rows, 3), dtype=torch.long), scores.clone())
        assert torch.all((out == 0).sum(-1) == 1) and torch.all(torch.isinf(out).sum(-1) == 4)
        tokens = out.argmax(-1)
        probs = torch.softmax(logits / temperature, -1)
        if top_p < 1:  # 2.0, 1.0 hold 0.665 + 0.245 = 0.91 >= 0.8 of the mass: the rest is cut
            probs[2:] = 0
            probs /= probs.sum()
        freq = torch.bincount(tokens, minlength=5).double() / rows
        se = torch.sqrt(probs * (1 - probs) / rows)
        assert torch.all((freq - probs).abs() <= 5 * se + 1e-12), (temperature, top_p, freq, probs)


def test_per_row_sampler_rows_do_not_depend_on_each_other_or_on_padding():
    """A row's token depends on its seed, its logits and how many tokens it has generated: not on the other rows,
    their order, or how wide the padded prompt is."""
    torch.manual_seed(0)
    scores = torch.randn(6, 50)
    seeds = [11, 22, 33, 44, 55, 66]
    first = PerRowSampler(seeds, 1.0, 0.9, prompt_width=10)(torch.zeros((6, 12), dtype=torch.long), scores)
    order = [5, 3, 1, 0, 2, 4]
    wider = PerRowSampler([seeds[i] for i in order], 1.0, 0.9, prompt_width=30)
    shuffled = wider(torch.zeros((6, 32), dtype=torch.long), scores[order])  # the same step (2), more padding
    assert torch.equal(first[order], shuffled)
    alone = PerRowSampler([seeds[3]], 1.0, 0.9, prompt_width=1)(torch.zeros((1, 3), dtype=torch.long), scores[3:4])
    assert torch.equal(alone, first[3:4])
    later = PerRowSampler(seeds, 1.0, 0.9, prompt_width=10)(torch.zeros((6, 13), dtype=torch.long), scores)
    assert not torch.equal(later, first)  # the next step draws anew


# --------------------------------------------------------------------------------------------- the hf backend
def test_hf_samples_do_not_depend_on_the_batch(backend):
    """Temperature 1, 4 samples of each of 4 prompts of different lengths (so rows are left-padded differently):
    one batch of 16 rows, each prompt alone (4 rows, no padding), pairs, and the prompts reversed give exactly
    the same samples; other seeds give other samples."""
    params = SamplingParams(temperature=1.0, max_new_tokens=24)
    prompts, seeds = _prompts(backend), [101, 202, 303, 404]
    together = backend.generate(prompts, 4, params, seeds)
    alone = [backend.generate([p], 4, params, [s])[0] for p, s in zip(prompts, seeds, strict=True)]
    pairs = backend.generate(prompts[:2], 4, params, seeds[:2]) + backend.generate(prompts[2:], 4, params, seeds[2:])
    reversed_ = backend.generate(prompts[::-1], 4, params, seeds[::-1])[::-1]
    assert together == alone == pairs == reversed_
    texts = {c.text for group in together for c in group}
    assert len(texts) == 16  # every sample its own stream: no two rows share their random numbers
    other = backend.generate(prompts, 4, params, [1, 2, 3, 4])
    assert sum(a == b for x, y in zip(together, other, strict=True) for a, b in zip(x, y, strict=True)) == 0
    # a prompt's sample j is the same whether 4 or 2 samples are drawn
    assert backend.generate(prompts[:1], 2, params, seeds[:1])[0] == together[0][:2]


def test_greedy_decoding_is_unchanged_by_the_sampler(backend):
    params = SamplingParams(temperature=0.0, max_new_tokens=20)
    prompts = _prompts(backend)
    ids = backend.tokenizer(prompts[:1], return_tensors="pt", add_special_tokens=False)
    plain = backend.model.generate(**ids, do_sample=False, max_new_tokens=20, eos_token_id=backend.eos_ids)
    response = backend.generate(prompts[:1], 1, params, 0)[0][0]
    new = plain[0, ids["input_ids"].shape[1] :].tolist()
    assert response.text == backend.tokenizer.decode(
        new[: response.tokens - response.finished], skip_special_tokens=True
    )


# --------------------------------------------------------------------------------------------- the harness
def _args(model, out, **options) -> EvalArguments:
    values = dict(model=str(model), out=str(out), samples=4, temperature=1.0, max_new_tokens=16, verify_workers=1)
    return EvalArguments(**{**values, **options})


def _samples(folder) -> list[dict]:
    keep = ("id", "sample", "response", "tokens", "finished")
    return [{k: r[k] for k in keep} for r in runs.read_jsonl(folder / runs.SAMPLES)]


def test_eval_samples_are_the_same_for_batch_sizes_1_2_and_16(tiny_model_dir, tmp_path):
    problems = toy_problems(5)
    files = {}
    for size in (1, 2, 16):
        summary = evaluate_benchmark(_args(tiny_model_dir, tmp_path / f"b{size}", batch_size=size), "toy", problems)
        files[size] = (_samples(tmp_path / f"b{size}" / "toy"), results_of(summary))
    assert files[1] == files[2] == files[16]
    assert len(files[1][0]) == 20
    other = evaluate_benchmark(_args(tiny_model_dir, tmp_path / "seed1", seed=1), "toy", problems)
    assert _samples(tmp_path / "seed1" / "toy") != files[1][0] and other["seed"] == 1


def test_a_resume_with_another_batch_size_adds_nothing(tiny_model_dir, tmp_path, monkeypatch):
    problems = toy_problems(4)
    args = _args(tiny_model_dir, tmp_path, batch_size=8)
    first = evaluate_benchmark(args, "toy", problems)
    samples = tmp_path / "toy" / runs.SAMPLES
    before = samples.read_text()

    import thrifty.eval.harness as harness

    def no_model(*a, **k):
        raise AssertionError("the model was loaded although every sample exists")

    monkeypatch.setattr(harness, "load_backend", no_model)
    again = evaluate_benchmark(_args(tiny_model_dir, tmp_path, batch_size=3), "toy", problems)
    assert samples.read_text() == before and results_of(again) == results_of(first)
    assert again["batch_size"] == 3 and first["batch_size"] == 8  # recorded, as how each command ran


def test_a_killed_run_resumed_with_another_batch_size_completes_the_same_samples(tiny_model_dir, tmp_path):
    """Half the problems' samples lost (as a kill leaves them), and a torn line: the resume with another
    --batch_size regenerates exactly the lost samples."""
    problems = toy_problems(6)
    evaluate_benchmark(_args(tiny_model_dir, tmp_path / "whole", batch_size=4), "toy", problems)
    whole = _samples(tmp_path / "whole" / "toy")

    cut = tmp_path / "cut" / "toy"
    evaluate_benchmark(_args(tiny_model_dir, tmp_path / "cut", batch_size=4), "toy", problems)
    lines = (cut / runs.SAMPLES).read_text().splitlines(keepends=True)
    (cut / runs.SAMPLES).write_text("".join(lines[:10]) + lines[10][:25])  # 2.5 problems kept, a torn line
    (cut / runs.SUMMARY).unlink()
    evaluate_benchmark(_args(tiny_model_dir, tmp_path / "cut", batch_size=12), "toy", problems)
    assert _samples(cut) == whole


def test_settings_name_the_sampler_and_not_the_batch_size(tiny_model_dir):
    settings = sample_settings(_args(tiny_model_dir, "x", batch_size=2), "toy", 4)
    assert settings["sampler"] == SAMPLER and "batch_size" not in settings
    assert settings == sample_settings(_args(tiny_model_dir, "x", batch_size=64), "toy", 4)
    assert problem_seed(0, "p1") != problem_seed(0, "p2") != problem_seed(1, "p2")


def test_a_folder_of_the_old_chunk_seeded_sampler_is_refused_not_extended(tiny_model_dir, tmp_path):
    """A folder written before per-sample seeds: its config.json names the batch size and no sampler, its
    records another fingerprint. It is refused with the reason and the next step, and left as it was."""
    problems = toy_problems(2)
    args = _args(tiny_model_dir, tmp_path)
    old = {k: v for k, v in sample_settings(args, "toy", 4, problems).items() if k != "sampler"}
    old["batch_size"] = 16
    folder = tmp_path / "toy"
    folder.mkdir()
    runs.write_json(folder / runs.EVAL_SETTINGS, old)
    record = {"id": "p0", "sample": 0, "response": "1", "tokens": 2, "finished": True, "settings": "0123456789ab"}
    (folder / runs.SAMPLES).write_text(json.dumps(record) + "\n")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(ValueError, match=r"older thrifty's sampler \(chunk-seeded.*--out, or delete that folder"):
        evaluate_benchmark(args, "toy", problems)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != runs.LOCK} == before
