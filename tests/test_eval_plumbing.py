"""The evaluation's files as a reader uses them: samples that can be audited on their own, verdicts of every
verifier kept, a summary with wall time, throughput and versions, and data-parallel evaluation under
``accelerate launch`` (problems sharded across processes, the same samples as one process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ONE_THREAD, ParityVerifierPool, flags, free_port, toy_problems
from thrifty import runs
from thrifty.data import build_prompt
from thrifty.eval import EvalArguments, evaluate_benchmark, harness, record_verdicts, results_of, sample_settings
from thrifty.generation.hf import HFBackend


REPO = Path(__file__).resolve().parents[1]


def _args(model, out, **options) -> EvalArguments:
    values = dict(model=str(model), out=str(out), samples=2, temperature=1.0, max_new_tokens=12, verify_workers=1)
    return EvalArguments(**{**values, **options})


def _records(folder: Path) -> list[dict]:
    return runs.read_jsonl(folder / runs.SAMPLES)


def _no_model(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the model was loaded although every sample exists")

    monkeypatch.setattr(harness, "load_backend", refuse)


# --------------------------------------------------------------------------------------------- samples.jsonl
def test_a_sample_record_holds_its_question_prompt_and_gold(tiny_model_dir, tmp_path):
    problems = toy_problems(3)
    args = _args(tiny_model_dir, tmp_path, response_prefix=">")
    evaluate_benchmark(args, "toy", problems)
    tokenizer = HFBackend(str(tiny_model_dir)).tokenizer
    by_id = {p.id: p for p in problems}
    records = _records(tmp_path / "toy")
    assert len(records) == 6
    for record in records:
        problem = by_id[record["id"]]
        assert record["question"] == problem.question and record["gold"] == problem.gold
        # the exact text the model was given: the question in the template and chat template, and the prefix
        assert record["prompt"] == build_prompt(problem.question, tokenizer, args.template_for("toy")) + ">"
        assert record["response"].startswith(">")
        assert record["verdicts"]["math-verify"]["correct"] == record["correct"]
        assert "thinking_tokens" not in record and "answer_tokens" not in record  # a character tokenizer: no </think>


# --------------------------------------------------------------------------------------------- thinking models
class WordTokenizer:
    """One token per word: ``<eos>`` 0, and ``</think>`` one token, 9, as in DeepSeek-R1's vocabulary."""

    chat_template = None
    eos_token_id = 0
    vocab = {"<eos>": 0, "hmm": 1, "42": 3, "</think>": 9}

    def get_vocab(self):
        return dict(self.vocab)

    def __call__(self, text, add_special_tokens=False):
        encode = lambda t: [self.vocab[w] for w in t.replace("</think>", " </think> ").split()]  # noqa: E731
        return {"input_ids": encode(text) if isinstance(text, str) else [encode(t) for t in text]}

    def decode(self, ids, skip_special_tokens=True):
        words = {i: w for w, i in self.vocab.items()}
        return " ".join(words[i] for i in ids if not (skip_special_tokens and i == 0))


THOUGHTS = {  # question: the ids each sample generates, and its (thinking, answer) tokens
    "qa": [([1, 1, 9, 3, 0], (3, 2)), ([1, 9, 3, 0], (2, 2))],  # hmm hmm </think> 42 EOS
    "qb": [([1, 1, 1, 1, 1, 1], (6, 0)), ([1, 1, 1, 9, 3, 0], (4, 2))],  # cut at 6 tokens: all thinking
}


class ThinkingBackend:
    """Generates :data:`THOUGHTS` (by the question the prompt starts with) through the engines' shared
    ``completion_from_ids``."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def generate(self, prompts, n, params, seeds):
        from thrifty.generation import completion_from_ids

        script = [next(ids for q, ids in THOUGHTS.items() if prompt.startswith(q)) for prompt in prompts]
        return [[completion_from_ids(ids, [0], self.tokenizer) for ids, _ in samples[:n]] for samples in script]


class RightPool:
    """A verifier pool without processes that calls every response correct."""

    def __init__(self, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def verify(self, texts, golds, mode="math-verify", progress=False):
        from thrifty.verify import Verdict

        return [Verdict("42", True, False) for _ in texts]


def _thinking_run(tmp_path, monkeypatch, tokenizer, **options):
    """Evaluate :data:`THOUGHTS`'s two problems (levels 1 and 2), two samples each, with ``tokenizer`` (None: the
    samples exist, no model may be loaded)."""
    from thrifty.data import Problem

    if tokenizer is None:
        _no_model(monkeypatch)
    else:
        monkeypatch.setattr(harness, "load_backend", lambda *a, **k: ThinkingBackend(tokenizer))
    monkeypatch.setattr(harness, "VerifierPool", RightPool)
    problems = [Problem("a", "qa", "42", 1), Problem("b", "qb", "42", 2)]
    args = _args(tmp_path / "model", tmp_path, max_new_tokens=6, prompt_template="{question}", **options)
    return evaluate_benchmark(args, "toy", problems)


def test_a_thinking_model_s_records_and_summary_split_thinking_from_answer(tmp_path, monkeypatch):
    summary = _thinking_run(tmp_path, monkeypatch, WordTokenizer())
    records = _records(tmp_path / "toy")
    expected = [split for samples in THOUGHTS.values() for _, split in samples]
    assert [(r["thinking_tokens"], r["answer_tokens"]) for r in records] == expected
    assert all(r["thinking_tokens"] + r["answer_tokens"] == r["tokens"] for r in records)
    assert (summary["mean_thinking_tokens"], summary["mean_answer_tokens"]) == (3.75, 1.5)
    levels = summary["per_level"]
    assert [(levels[lvl]["mean_thinking_tokens"], levels[lvl]["mean_answer_tokens"]) for lvl in "12"] == [
        (2.5, 2.0),
        (5.0, 1.0),
    ]
    on_disk = json.loads((tmp_path / "toy" / "summary.json").read_text())
    assert on_disk["mean_thinking_tokens_se"] == summary["mean_thinking_tokens_se"] == pytest.approx(1.25)

    # records written before the split was counted (one problem's here): re-summarised, without the split
    for record in records[:2]:
        del record["thinking_tokens"], record["answer_tokens"]
    (tmp_path / "toy" / runs.SAMPLES).write_text(runs.jsonl_text(records))
    again = _thinking_run(tmp_path, monkeypatch, None)
    assert again["mean_tokens"] == summary["mean_tokens"]
    assert not any("thinking" in key for key in [*again, *again["per_level"]["2"]])


def test_a_forced_response_prefix_is_part_of_the_thinking_split(tmp_path, monkeypatch):
    """A prefix that closes the thinking (``</think>``, forced) is the whole thinking: 1 token, the rest answer."""
    _thinking_run(tmp_path, monkeypatch, WordTokenizer(), response_prefix="</think>")
    records = _records(tmp_path / "toy")
    assert [r["tokens"] for r in records] == [6, 5, 7, 7]
    assert [(r["thinking_tokens"], r["answer_tokens"]) for r in records] == [(1, 5), (1, 4), (1, 6), (1, 6)]


def test_a_tokenizer_without_an_end_of_thinking_token_writes_no_split(tmp_path, monkeypatch):
    class Plain(WordTokenizer):
        vocab = {"<eos>": 0, "hmm": 1, "42": 3, "done": 9}

    summary = _thinking_run(tmp_path, monkeypatch, Plain())
    assert not any("thinking_tokens" in r or "answer_tokens" in r for r in _records(tmp_path / "toy"))
    assert not any("thinking" in key or "answer" in key for key in [*summary, *summary["per_level"]["1"]])


# --------------------------------------------------------------------------------------------- verdicts
def test_rescoring_keeps_each_verifiers_verdicts_and_summary(tiny_model_dir, tmp_path, monkeypatch):
    """math-verify, then paper-compat, then math-verify again: each verifier's verdicts stay in ``verdicts``; the
    top-level verdict and summary.json follow the last command; going back verifies nothing again."""
    problems = toy_problems(3)
    folder = tmp_path / "toy"
    first = evaluate_benchmark(_args(tiny_model_dir, tmp_path), "toy", problems)
    math_verify = [record_verdicts(r)["math-verify"] for r in _records(folder)]
    _no_model(monkeypatch)
    # paper-compat's verdicts differ from math-verify's here (the stand-in marks by length), so a mix-up shows
    monkeypatch.setattr(harness, "VerifierPool", ParityVerifierPool)
    second = evaluate_benchmark(_args(tiny_model_dir, tmp_path, verifier="paper-compat"), "toy", problems)
    records = _records(folder)
    assert [r["verdicts"]["math-verify"] for r in records] == math_verify
    assert {r["verifier"] for r in records} == {"paper-compat"}
    assert [r["correct"] for r in records] == [r["verdicts"]["paper-compat"]["correct"] for r in records]
    assert second["verifier"] == "paper-compat" and second["accuracy"] != first["accuracy"]
    assert json.loads((folder / "summary.json").read_text())["verifier"] == "paper-compat"
    assert json.loads((folder / "summary.math-verify.json").read_text())["accuracy"] == first["accuracy"]

    class NoVerifier:
        def __init__(self, *a, **k):
            raise AssertionError("verified again although every verdict exists")

    monkeypatch.setattr(harness, "VerifierPool", NoVerifier)
    third = evaluate_benchmark(_args(tiny_model_dir, tmp_path), "toy", problems)
    assert results_of(third) == results_of(first)
    assert [r["correct"] for r in _records(folder)] == [v["correct"] for v in math_verify]
    assert json.loads((folder / "summary.paper-compat.json").read_text())["accuracy"] == second["accuracy"]


def test_records_scored_before_verdicts_were_kept_per_verifier_are_migrated(tiny_model_dir, tmp_path, monkeypatch):
    problems = toy_problems(2)
    folder = tmp_path / "toy"
    evaluate_benchmark(_args(tiny_model_dir, tmp_path), "toy", problems)
    records = _records(folder)
    flat = [{k: v for k, v in r.items() if k != "verdicts"} for r in records]  # as thrifty wrote them before
    runs.write_atomic(folder / runs.SAMPLES, runs.jsonl_text(flat))
    _no_model(monkeypatch)
    monkeypatch.setattr(harness, "VerifierPool", ParityVerifierPool)
    evaluate_benchmark(_args(tiny_model_dir, tmp_path, verifier="paper-compat"), "toy", problems)
    migrated = _records(folder)
    assert [r["verdicts"]["math-verify"] for r in migrated] == [r["verdicts"]["math-verify"] for r in records]
    assert all(r["verifier"] == "paper-compat" for r in migrated)


# --------------------------------------------------------------------------------------------- summary.json
def test_the_summary_says_how_long_how_fast_and_with_what(tiny_model_dir, tmp_path, monkeypatch):
    problems = toy_problems(3)
    args = _args(tiny_model_dir, tmp_path, batch_size=4, seed=3)
    first = evaluate_benchmark(args, "toy", problems)
    records = _records(tmp_path / "toy")
    assert first["generated_responses"] == 6 and first["generated_tokens"] == sum(r["tokens"] for r in records)
    # each time is rounded to the millisecond on its own: compare within that
    assert (
        first["wall_seconds"] + 0.002
        >= first["generation_seconds"] + first["load_seconds"]
        > first["load_seconds"]
        > 0
    )
    seconds = first["generation_seconds"]
    low, high = first["generated_tokens"] / (seconds + 0.0005), first["generated_tokens"] / max(seconds - 0.0005, 1e-9)
    assert low * 0.999 <= first["throughput"] <= high * 1.001
    assert first["generation_seconds_total"] == first["generation_seconds"]
    import torch
    import transformers

    versions = first["versions"]
    assert versions["torch"] == torch.__version__ and versions["transformers"] == transformers.__version__
    assert versions["thrifty"] and versions["math-verify"] and "vllm" in versions
    assert (first["samples_per_problem"], first["backend"], first["seed"]) == (2, "hf", 3)
    assert first["prompt_template"] == args.template_for("toy") and "{question}" in first["prompt_template"]
    assert first["processes"] == 1
    assert first["sampler"] == sample_settings(args, "toy", 2)["sampler"]

    _no_model(monkeypatch)
    again = evaluate_benchmark(args, "toy", problems)
    assert again["generated_responses"] == 0 and again["throughput"] is None and again["generation_seconds"] == 0
    assert again["generation_seconds_total"] == first["generation_seconds_total"]  # carried over the re-run
    assert again["wall_seconds"] > 0 and again["load_seconds"] == 0


# --------------------------------------------------------------------------------------------- sharding
def _as_rank(monkeypatch, rank: int, world: int):
    monkeypatch.setattr(harness, "launch_shard", lambda: (rank, world))


def test_two_shards_in_turn_make_the_single_process_samples(tiny_model_dir, tmp_path, monkeypatch):
    """Process 1 of 2 generates problems 1, 3 into its part file (once process 0 has accepted the settings);
    process 0 generates 0, 2, 4, merges, scores and summarises: the same files as one process."""
    problems = toy_problems(5)
    single = evaluate_benchmark(_args(tiny_model_dir, tmp_path / "single"), "toy", problems)

    args = _args(tiny_model_dir, tmp_path / "sharded")
    folder = tmp_path / "sharded" / "toy"
    folder.mkdir(parents=True)
    runs.write_json(folder / runs.EVAL_SETTINGS, sample_settings(args, "toy", 2, problems))  # as process 0 would
    _as_rank(monkeypatch, 1, 2)
    assert evaluate_benchmark(args, "toy", problems) is None
    part = runs.read_jsonl(folder / "samples.rank1.jsonl")
    assert sorted({r["id"] for r in part}) == ["p1", "p3"] and not (folder / runs.SUMMARY).exists()

    _as_rank(monkeypatch, 0, 2)
    sharded = evaluate_benchmark(args, "toy", problems)
    assert not list(folder.glob("samples.rank*"))
    assert (folder / runs.SAMPLES).read_text() == (tmp_path / "single" / "toy" / runs.SAMPLES).read_text()
    assert results_of(sharded) == results_of(single) and sharded["processes"] == 2
    assert sharded["generated_responses"] == 6  # what was missing when process 0 started (here: its share)


def test_a_killed_sharded_run_resumes_in_one_process(tiny_model_dir, tmp_path, monkeypatch):
    """Process 1's part is there, process 0's samples are not (killed): one process merges the part and generates
    only process 0's problems."""
    problems = toy_problems(4)
    args = _args(tiny_model_dir, tmp_path)
    folder = tmp_path / "toy"
    folder.mkdir()
    runs.write_json(folder / runs.EVAL_SETTINGS, sample_settings(args, "toy", 2, problems))
    _as_rank(monkeypatch, 1, 2)
    evaluate_benchmark(args, "toy", problems)
    monkeypatch.undo()

    generated = []
    original = HFBackend.generate

    def spy(self, prompts, n, params, seeds):
        generated.extend(prompts)
        return original(self, prompts, n, params, seeds)

    monkeypatch.setattr(HFBackend, "generate", spy)
    resumed = evaluate_benchmark(args, "toy", problems)
    assert len(generated) == 2 and resumed["generated_responses"] == 4 and resumed["n_samples"] == 8
    assert not list(folder.glob("samples.rank*"))
    monkeypatch.undo()
    single = evaluate_benchmark(_args(tiny_model_dir, tmp_path / "single"), "toy", problems)
    assert (folder / runs.SAMPLES).read_text() == (tmp_path / "single" / "toy" / runs.SAMPLES).read_text()
    assert results_of(resumed) == results_of(single)


def test_launch_shard_reads_the_launchers_variables(monkeypatch):
    for name in (*runs.RANK_VARIABLES, *harness.WORLD_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    assert harness.launch_shard() == (0, 1)
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "2")
    assert harness.launch_shard() == (2, 3)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert harness.launch_shard() == (0, 1)


def test_each_process_of_a_launch_gets_its_own_gpu_for_vllm():
    from thrifty.generation.vllm import launch_gpus

    assert launch_gpus({}, 4) is None and launch_gpus({"WORLD_SIZE": "1", "LOCAL_RANK": "0"}, 4) is None
    assert [launch_gpus({"WORLD_SIZE": "4", "LOCAL_RANK": str(r)}, 4) for r in range(4)] == ["0", "1", "2", "3"]
    assert launch_gpus({"WORLD_SIZE": "2", "LOCAL_RANK": "1", "CUDA_VISIBLE_DEVICES": "6,7"}, 2) == "7"


def test_process_0_names_the_processes_it_waited_for_in_vain(tiny_model_dir, tmp_path, monkeypatch):
    problems = toy_problems(4)
    monkeypatch.setenv(harness.SHARD_TIMEOUT, "1.5")
    monkeypatch.setattr(harness, "POLL_SECONDS", 0.1)
    _as_rank(monkeypatch, 0, 2)
    with pytest.raises(RuntimeError, match=r"no new sample for 2 s from process\(es\) \[1\].*run the same command"):
        evaluate_benchmark(_args(tiny_model_dir, tmp_path), "toy", problems)
    # what process 0 generated survives, in its part file, for the next run
    assert sorted({r["id"] for r in runs.read_jsonl(tmp_path / "toy" / "samples.rank0.jsonl")}) == ["p0", "p2"]


@pytest.mark.slow
def test_accelerate_launch_with_two_cpu_processes_shards_the_problems(tiny_model_dir, tmp_path):
    """``accelerate launch`` (the shipped ddp.yaml, 2 CPU processes, one thread each) runs ``thrifty eval`` once,
    sharded: the same samples.jsonl and results as one process, one summary table printed (by process 0)."""
    options = dict(model=tiny_model_dir, benchmark="organism", samples=2, max_new_tokens=12, limit=6)
    options.update(temperature=1.0, verify_workers=1)
    single = subprocess.run(
        [sys.executable, "-m", "thrifty.cli", "eval", *flags(**options, out=tmp_path / "single")],
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    launch += [str(REPO / "recipes" / "accelerate_configs" / "ddp.yaml")]
    launch += flags(num_processes=2, main_process_port=free_port(), mixed_precision="no")
    command = [*launch, "-m", "thrifty.cli", "eval", *flags(**options, out=tmp_path / "sharded")]
    sharded = subprocess.run(command, env={**os.environ, **ONE_THREAD}, capture_output=True, text=True, timeout=600)
    assert sharded.returncode == 0, sharded.stdout[-2000:] + sharded.stderr[-4000:]
    assert sharded.stdout.count("| organism |") == 1  # one process reports
    assert "process 1 of 2 generated its share" in sharded.stderr

    single_dir, sharded_dir = tmp_path / "single" / "organism", tmp_path / "sharded" / "organism"
    assert (sharded_dir / runs.SAMPLES).read_text() == (single_dir / runs.SAMPLES).read_text()
    summaries = [json.loads((d / runs.SUMMARY).read_text()) for d in (single_dir, sharded_dir)]
    assert results_of(summaries[0]) == results_of(summaries[1])
    assert summaries[1]["processes"] == 2 and summaries[1]["throughput"] > 0
    assert not list(sharded_dir.glob("samples.rank*"))


def test_an_edited_gold_answer_is_scored_again(tiny_model_dir, tmp_path, monkeypatch):
    """The problems' fingerprint is their ids and questions (the samples depend on nothing else), so a gold fixed
    in the file resumes the folder; its records then carry the old gold, and every verifier's verdict of them is
    stale: they are checked again against the new one, without generating."""
    import dataclasses

    problems = toy_problems(2)
    evaluate_benchmark(_args(tiny_model_dir, tmp_path), "toy", problems)
    _no_model(monkeypatch)
    fixed = [dataclasses.replace(problems[0], gold="a fixed gold"), problems[1]]
    evaluate_benchmark(_args(tiny_model_dir, tmp_path), "toy", fixed)
    records = _records(tmp_path / "toy")
    assert {r["gold"] for r in records if r["id"] == problems[0].id} == {"a fixed gold"}
    assert not any(r["correct"] for r in records if r["id"] == problems[0].id)  # nothing answers "a fixed gold"
    assert {r["gold"] for r in records if r["id"] == problems[1].id} == {problems[1].gold}


def test_a_killed_sharded_run_is_not_resumed_with_other_settings(tiny_model_dir, tmp_path, monkeypatch):
    """Until process 0 merges them, a sharded run's samples live in its part files only: a re-run with other
    settings must be refused on their account, and the parts kept, not merged away as foreign records."""
    problems = toy_problems(4)
    args = _args(tiny_model_dir, tmp_path)
    folder = tmp_path / "toy"
    folder.mkdir()
    runs.write_json(folder / runs.EVAL_SETTINGS, sample_settings(args, "toy", 2, problems))
    _as_rank(monkeypatch, 1, 2)
    evaluate_benchmark(args, "toy", problems)  # then the launch is killed before process 0 merges
    monkeypatch.undo()
    part = folder / "samples.rank1.jsonl"
    before = part.read_text()
    assert before
    with pytest.raises(ValueError, match="different settings"):
        evaluate_benchmark(_args(tiny_model_dir, tmp_path, temperature=0.7), "toy", problems)
    (folder / runs.EVAL_SETTINGS).unlink()  # even without config.json, the parts' own fingerprints decide
    with pytest.raises(ValueError, match="another settings fingerprint"):
        evaluate_benchmark(_args(tiny_model_dir, tmp_path, temperature=0.7), "toy", problems)
    assert part.read_text() == before
