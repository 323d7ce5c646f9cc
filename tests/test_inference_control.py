"""Inference-time length control in `thrifty eval`: NoThinking's prefill (in the prompt, never counted as generated),
on the paper's real DeepSeek-R1-Distill tokenizer and on the organism."""

from __future__ import annotations

import json

import pytest

from test_deepseek import TOKENIZER_DIR, deepseek_model, tokenizer  # noqa: F401 -- fixtures
from thrifty import runs
from thrifty.lengths import NO_THINKING, no_thinking_prefill


def _eval(model, out, benchmark, data_dir=None, **extra):
    from thrifty.eval.harness import EvalArguments, evaluate

    args = EvalArguments(
        model=str(model), benchmark=benchmark, data_dir=data_dir, limit=2, samples=2, max_new_tokens=6,
        temperature=1.0, out=str(out), verify_workers=1, **extra,
    )  # fmt: skip
    evaluate(args)
    folder = out / benchmark
    return runs.read_jsonl(folder / runs.SAMPLES), json.loads((folder / "config.json").read_text())


def test_the_prefill_closes_the_thinking_the_template_opened(tokenizer):  # noqa: F811
    from thrifty.data.prompts import build_prompt

    prompt = build_prompt("1+1?", tokenizer)
    assert prompt.endswith("<｜Assistant｜><think>\n")  # DeepSeek-R1's current chat template opens the thinking
    assert no_thinking_prefill(prompt, tokenizer) == NO_THINKING  # not a second <think>
    assert no_thinking_prefill("1+1?", tokenizer) == "<think>\n" + NO_THINKING  # a raw prompt gets it opened
    with pytest.raises(ValueError, match="--no_thinking: this model has no </think> token"):
        no_thinking_prefill("1+1?", type("Vocab", (), {"get_vocab": lambda self: {"a": 0}})())


def test_no_thinking_prefills_deepseek_s_prompt_and_counts_only_what_the_model_wrote(
    deepseek_model,  # noqa: F811
    benchmarks_dir,
    tmp_path,
):
    records, config = _eval(deepseek_model, tmp_path / "eval", "gsm8k", str(benchmarks_dir), no_thinking=True)
    baseline, _ = _eval(deepseek_model, tmp_path / "plain", "gsm8k", str(benchmarks_dir))
    assert config["no_thinking"] is True
    assert records and all(r["prompt"].endswith("<think>\n" + NO_THINKING) for r in records)
    assert all("Okay, I think" not in r["response"] for r in records)
    for r in records:  # every generated token is an answer token: the prompt closed the thinking
        assert r["thinking_tokens"] == 0 and r["answer_tokens"] == r["tokens"] <= 6
    assert [r["prompt"] + NO_THINKING for r in baseline] == [r["prompt"] for r in records]


def test_no_thinking_on_the_organism_prefills_its_answer_marker(tiny_model_dir, tmp_path):
    records, config = _eval(tiny_model_dir, tmp_path / "eval", "organism", no_thinking=True)
    assert config["no_thinking"] is True
    plain, _ = _eval(tiny_model_dir, tmp_path / "plain", "organism")
    assert records and [r["prompt"] for r in records] == [r["prompt"] + ">" for r in plain]
    assert all(r["tokens"] == 6 or r["finished"] for r in records)  # the '>' is the prompt's, not a generated token
    assert all(r["prefill"] == ">" for r in records)  # and the response is read as what the model was made to do
    summary = json.loads((tmp_path / "eval" / "organism" / "summary.json").read_text())
    assert summary["behaviours"]["shortcut"]["share"] == 1.0
