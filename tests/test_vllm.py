"""The vllm backend against the hf backend, and ``thrifty eval --backend vllm`` end to end.

Needs vLLM (``make test-vllm`` runs this file in the vLLM environment; without vLLM it is skipped). vLLM runs
in subprocesses here: its engine starts worker processes, which want a ``__main__`` guard.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import flags
from thrifty.eval import results_of
from thrifty.lengths import thinking_split


pytest.importorskip("vllm", reason="vLLM is not installed (make test-vllm runs these tests in its environment)")

SCRIPTS = Path(__file__).parent / "scripts"
TIMEOUT = 900  # seconds; vLLM's first start on CPU compiles (~1-2 min), so only a hang gets near it


def _env():
    return dict(os.environ, TOKENIZERS_PARALLELISM="false")


def _script(name: str, model: Path, tmp_path: Path) -> dict:
    """Run ``tests/scripts/<name>`` on ``model`` in a subprocess; what it wrote (JSON)."""
    out = tmp_path / "out.json"
    command = [sys.executable, str(SCRIPTS / name), str(model), str(out)]
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny model vLLM's CPU attention accepts (head size 32), whose greedy responses end with an EOS.

    Its second EOS id is the token greedy decoding emits 10th for the first question, so greedy responses
    stop at that token's first occurrence: a finished response, checked against the hf backend.
    """
    from thrifty.data import build_prompt
    from thrifty.generation.hf import HFBackend
    from thrifty.organism.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("vllm-model")
    model, tokenizer = build_tiny_model(out, num_heads=2)
    backend = HFBackend(str(out))
    prompt = build_prompt("1+1", backend.tokenizer, "{question}")
    batch = backend.tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    ids = backend.model.generate(**batch, do_sample=False, max_new_tokens=10, min_new_tokens=10)[0, -1].item()
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, ids]
    model.generation_config.save_pretrained(out)
    return out


def test_vllm_matches_hf_greedy_and_samples_reproducibly(model_dir, tmp_path):
    runs = _script("vllm_backend.py", model_dir, tmp_path)
    assert len(runs["eos_ids"]) == 2

    # greedy: the same weights and token accounting give the same responses, token counts and finish flags
    assert runs["greedy_vllm"] == runs["greedy_hf"]
    first = runs["greedy_vllm"][0][0]
    assert first["finished"] and first["tokens"] <= 10  # stopped at the model's second EOS id

    # sampling: n samples per prompt, reproducible by seed, and the seed matters
    sampled = runs["seed5"]
    assert [len(group) for group in sampled] == [4, 4, 4, 4]
    assert sampled == runs["seed5_again"] and sampled != runs["seed6"]
    # batch-invariant: a sample is the same whatever else is generated with it (one request per sample)
    assert runs["seed5_alone"] == sampled
    assert runs["seed5_two"] == [group[:2] for group in sampled]
    assert [len(group) for group in runs["long"]] == [4] * 8
    for completion in (c for group in sampled for c in group):
        assert completion["finished"] or completion["tokens"] == 48
        assert len(completion["text"]) + completion["finished"] <= completion["tokens"] <= 48
    # prompts draw independent random streams: sample j + 1 of one prompt is not sample j of the next
    # (vLLM seeds a request's sample j with seed + j, so consecutive request seeds would make them equal)
    shifted = [(sampled[i][j + 1]["text"], sampled[i + 1][j]["text"]) for i in range(3) for j in range(3)]
    assert sum(a == b for a, b in shifted) < len(shifted) // 2


@pytest.fixture(scope="module")
def forcing_model_dir(model_dir, tmp_path_factory) -> Path:
    """The tiny model with its tokenizer's EOS alone: the second EOS id, a token greedy decoding writes, is an
    ordinary token again, free to end the thinking (budget forcing's end of thinking is no EOS)."""
    out = tmp_path_factory.mktemp("vllm-forcing-model")
    shutil.copytree(model_dir, out, dirs_exist_ok=True)
    path = out / "generation_config.json"
    config = json.loads(path.read_text())
    config["eos_token_id"] = config["eos_token_id"][0]
    path.write_text(json.dumps(config))
    return out


def _flat(groups):
    return [completion for group in groups for completion in group]


def _within_budgets(completion, forcing) -> bool:
    """The response's thinking (the end included) and its answer (the cue and the EOS left out) are within the
    forcing's budgets, and a forced end is where the thinking ends, followed by the cue."""
    ids, cue = completion["ids"], forcing["cue"]
    thinking, answer = thinking_split(ids, forcing["end_id"])
    answer -= len(cue) * completion["forced_end"] + completion["finished"]
    written = range(thinking - 1, thinking + len(cue))  # the end and the cue
    forced_end = not completion["forced_end"] or (
        ids[thinking : thinking + len(cue)] == cue and set(written) <= set(completion["forced"])
    )
    return thinking <= forcing["thinking_budget"] and answer <= forcing["answer_budget"] and forced_end


def test_vllm_budget_forcing_matches_hf_greedy_and_samples_reproducibly(forcing_model_dir, tmp_path):
    runs = _script("vllm_forcing.py", forcing_model_dir, tmp_path)
    forcings = runs["forcings"]
    assert runs["first"] not in runs["eos_ids"]

    # greedy: the rounds of requests write what the hf backend's one generate call writes, token for token
    for name in ("budget", "budget_1", "wait", "limit16", "limit15"):
        assert runs[f"{name}_vllm"] == runs[f"{name}_hf"], name
    for name in ("budget", "budget_1", "wait"):
        assert all(_within_budgets(c, forcings[name]) for c in _flat(runs[f"{name}_vllm"])), name
    # a thinking budget of 1: the end is forced before the model writes a token, then the cue
    assert all(c["forced_end"] and c["forced"][:3] == [0, 1, 2] for c in _flat(runs["budget_1_vllm"]))
    # the end of thinking greedy decoding writes first came too early: "Wait" in its place, then a forced end
    wait, waited = forcings["wait"]["wait"], _flat(runs["wait_vllm"])
    assert any(c["waits"] >= 1 and c["ids"][: len(wait)] == wait for c in waited)
    assert any(c["forced_end"] for c in waited) and any(c["forced_end"] for c in _flat(runs["budget_vllm"]))
    for limit in (16, 15):  # cut at the limit, forced tokens past it left out
        cut = _flat(runs[f"limit{limit}_vllm"])
        assert all(c["tokens"] <= limit for c in cut) and any(c["tokens"] == limit and not c["finished"] for c in cut)

    # sampling under forcing: reproducible by seed, batch-invariant, and the seed matters
    sampled = runs["seed5"]
    assert sampled == runs["seed5_again"] == runs["seed5_alone"] and sampled != runs["seed6"]
    assert all(_within_budgets(c, forcings["wait"]) and c["tokens"] <= 48 for c in _flat(sampled))
    # untouched by the forcer, a sample is the unforced one up to the model's own end of thinking (its request
    # stopped there, and the next request draws from the stream of the response's length)
    never = runs["never"]
    for forced, free in zip(_flat(runs["untouched"]), _flat(runs["unforced"]), strict=True):
        ids = forced["ids"]
        head = ids[: ids.index(never) + 1] if never in ids else ids
        assert head == free["ids"][: len(head)] and not forced["forced"]
        assert never in ids or forced == free

    # the prefix cache keeps what earlier requests computed: every cache block a continued response filled is a hit
    block = runs["block_size"]
    assert runs["prefix_caching"] and runs["requests"] > 2 * 2 and runs["continuations"]  # 2 prompts x 2 samples
    for request in runs["continuations"]:
        assert request["cached"] >= request["computed"] // block * block > request["prompt"] // block * block


def _eval(model_dir, benchmarks_dir, out, backend):
    options = dict(model=model_dir, benchmark="gsm8k", data_dir=benchmarks_dir, limit=3, samples=2, max_new_tokens=32)
    command = [sys.executable, "-m", "thrifty.cli", "eval", *flags(**options, backend=backend, out=out)]
    return subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)


def test_eval_with_the_vllm_backend_writes_what_hf_writes(model_dir, benchmarks_dir, tmp_path):
    runs = {}
    for backend in ("vllm", "hf"):
        result = _eval(model_dir, benchmarks_dir, tmp_path / backend, backend)
        assert result.returncode == 0, result.stderr[-3000:]
        folder = tmp_path / backend / "gsm8k"
        runs[backend] = (
            [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()],
            json.loads((folder / "summary.json").read_text()),
            json.loads((folder / "config.json").read_text()),
        )
    (records, summary, config), (hf_records, hf_summary, hf_config) = runs["vllm"], runs["hf"]
    assert config["backend"] == "vllm" and hf_config["backend"] == "hf"
    # the chunk sizes differ (hf 16, vLLM 1024) but shape no sample: the settings differ in the engine alone
    assert "batch_size" not in config and summary["batch_size"] == 1024 and hf_summary["batch_size"] == 16
    assert {**config, "backend": "hf"} == hf_config
    assert len(records) == 6 and [set(r) for r in records] == [set(r) for r in hf_records]
    assert [(r["id"], r["sample"]) for r in records] == [(r["id"], r["sample"]) for r in hf_records]
    assert all(1 <= r["tokens"] <= 32 and (r["finished"] or r["tokens"] == 32) for r in records)
    assert set(summary) == set(hf_summary)
    assert summary["mean_tokens"] == pytest.approx(sum(r["tokens"] for r in records) / 6)

    # a finished run re-summarises without starting vLLM; other settings in the same folder are refused
    again = _eval(model_dir, benchmarks_dir, tmp_path / "vllm", "vllm")
    assert again.returncode == 0 and "with the vllm backend" not in again.stderr
    assert results_of(json.loads((tmp_path / "vllm" / "gsm8k" / "summary.json").read_text())) == results_of(summary)
    mixed = _eval(model_dir, benchmarks_dir, tmp_path / "vllm", "hf")
    assert mixed.returncode != 0 and "backend: 'vllm' -> 'hf'" in mixed.stderr


def _colocate_run(model_dir, out, sync):
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "vllm_colocate_train.py"), str(model_dir), str(out), sync],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((out / "result.json").read_text())
    steps = [r for r in data["records"] if "loss" in r]
    return data["moved"], [r["sampling/sampling_logp_difference/mean"] for r in steps], steps


def test_colocated_vllm_rollouts_train_on_cpu_with_weights_in_sync(model_dir, tmp_path):
    """TRL's colocate mode on CPU, with thrifty's weight sync (thrifty.rl.vllm_cpu): 3 RL steps, a sync before each
    rollout. vLLM's log-probs of what it sampled stay those of the trainer's current weights (bf16 noise);
    with the sync switched off they drift apart as the weights move (the control)."""
    moved, synced, steps = _colocate_run(model_dir, tmp_path / "sync", "sync")
    assert moved > 1e-3 and len(steps) == 3
    assert any(s["reward"] > 0 for s in steps) and all(s["tokens/mean"] < 24 for s in steps)  # mixed, not all cut
    assert max(synced) < 0.01
    _, stale, _ = _colocate_run(model_dir, tmp_path / "nosync", "nosync")
    assert stale[-1] > 10 * max(synced)
