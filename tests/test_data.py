"""thrifty.data: loaders on the real benchmark files, gold parsing, bad rows, training prompts, prompts."""

from __future__ import annotations

import json
import logging

import pytest

from thrifty.data import (
    PAPER_PROMPT_TEMPLATE,
    BadRow,
    build_prompt,
    gsm8k_gold,
    load_benchmark,
    load_training_prompts,
)


# ------------------------------------------------------------------ the real files
def test_gsm8k(benchmarks_dir):
    problems = load_benchmark("gsm8k", benchmarks_dir)
    assert len(problems) == 1319
    first = problems[0]
    assert (first.id, first.gold, first.level) == ("0", "18", None)
    assert first.question.startswith("Janet\u2019s ducks lay 16 eggs per day.")
    assert all("," not in p.gold and p.gold for p in problems)


def test_math500(benchmarks_dir):
    problems = load_benchmark("math500", benchmarks_dir)
    assert len(problems) == 500
    assert problems[0].id == "test/precalculus/807.json"
    assert problems[0].gold == r"\left( 3, \frac{\pi}{2} \right)"
    levels = [p.level for p in problems]
    assert {lv: levels.count(lv) for lv in range(1, 6)} == {1: 43, 2: 90, 3: 105, 4: 128, 5: 134}


def test_aime24_answers_lose_zero_padding(benchmarks_dir):
    problems = load_benchmark("aime24", benchmarks_dir)
    raw = [json.loads(line) for line in (benchmarks_dir / "aime24.jsonl").read_text().splitlines()]
    assert len(problems) == 30
    assert [p.gold for p in problems] == [str(int(r["answer"])) for r in raw]
    assert any(r["answer"].startswith("0") for r in raw)  # the padding the loader removes is really there
    assert all(not p.gold.startswith("0") for p in problems)
    assert problems[0].id == "60"


def test_amc23_float_answers_become_integers(benchmarks_dir):
    problems = load_benchmark("amc23", benchmarks_dir)
    assert len(problems) == 40
    assert problems[0].gold == "27"
    assert all(p.gold.lstrip("-").isdigit() for p in problems)


@pytest.mark.parametrize(
    "answer, gold",
    [("so 3 + 4 = 7\n#### 7", "7"), ("#### 1,234", "1234"), ("#### -5", "-5"), ("a #### b #### 12", "12")],
)
def test_gsm8k_gold_parsing(answer, gold):
    assert gsm8k_gold(answer) == gold


def test_gsm8k_gold_without_marker_is_a_bad_row():
    with pytest.raises(BadRow, match="no '####'"):
        gsm8k_gold("the answer is 7")


# ------------------------------------------------------------------ errors and bad rows
def test_unknown_benchmark_names_what_is_known():
    with pytest.raises(ValueError, match=r"unknown benchmark 'mat500'; known: gsm8k, math500, aime24, amc23"):
        load_benchmark("mat500", "/nowhere")


def test_missing_local_file_names_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no file for benchmark 'math500' in .*looked for: math500.jsonl"):
        load_benchmark("math500", tmp_path)
    with pytest.raises(FileNotFoundError, match="benchmark file not found"):
        load_benchmark(str(tmp_path / "mine.jsonl"))


def test_bad_rows_are_skipped_and_reported_with_line_numbers(tmp_path, caplog):
    path = tmp_path / "gsm8k_test.jsonl"
    lines = [
        json.dumps({"question": "ok", "answer": "x #### 3"}),
        "{not json",
        json.dumps({"question": "no answer"}),
        "",
        json.dumps({"question": "empty", "answer": "#### "}),
        json.dumps({"question": "fine", "answer": "#### 4"}),
        json.dumps([1, 2]),
    ]
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="thrifty.data"):
        problems = load_benchmark("gsm8k", tmp_path)
    assert [p.gold for p in problems] == ["3", "4"]
    message = caplog.text
    assert "skipped 4 bad row(s)" in message
    for fragment in (
        "line 2: invalid JSON",
        "line 3: missing field 'answer'",
        "line 5: empty",
        "line 7: not a JSON object",
    ):
        assert fragment in message


def test_own_jsonl_file_with_boxed_solutions(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [
        {"problem": "1+1?", "answer": "2", "level": "Level 2"},
        {"question": "2+2?", "solution": r"so \boxed{4}", "id": "q2"},
        {"problem": "no answer at all"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = load_benchmark(str(path))
    assert [(p.id, p.gold, p.level) for p in problems] == [("0", "2", 2), ("q2", "4", None)]


def test_own_json_array_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps([{"question": "1+1?", "answer": "2"}, {"question": "3+3?", "answer": "6"}]))
    assert [p.gold for p in load_benchmark(str(path))] == ["2", "6"]


def test_own_parquet_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "mine.parquet"
    pq.write_table(pa.Table.from_pylist([{"problem": "1+1?", "answer": "2"}]), path)
    assert [p.gold for p in load_benchmark(str(path))] == ["2"]


def test_hub_loading_failure_says_what_was_looked_for(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(FileNotFoundError, match=r"could not load dataset 'HuggingFaceH4/MATH-500' \(split 'test'\)"):
        load_benchmark("math500")


def test_hub_rows_are_parsed_like_local_rows(monkeypatch, benchmarks_dir):
    """Without --data-dir the loader calls datasets.load_dataset with the public id; rows parse the same."""
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        return [json.loads(line) for line in open(benchmarks_dir / "gsm8k_test.jsonl")][:5]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    problems = load_benchmark("gsm8k")
    assert calls == [("openai/gsm8k", "main", "test")]
    assert [p.gold for p in problems] == [p.gold for p in load_benchmark("gsm8k", benchmarks_dir)[:5]]


# ------------------------------------------------------------------ training prompts
def test_training_prompts_keep_checkable_answers_and_count_drops(tmp_path, verifier_pool):
    rows = [
        {"problem": "a", "solution": r"so \boxed{5}"},
        {"problem": "b", "solution": r"\boxed{\frac{1}{2}} and again \boxed{\frac{1}{2}}"},
        {"problem": "c", "solution": "no box"},
        {"problem": "d", "solution": r"\boxed{1} or \boxed{2}"},
        {"problem": "e"},
        {"problem": "f", "solution": r"\boxed{\text{Proof is complete}}"},
        {"problem": "g", "solution": r"\boxed{" + "1" * 2000 + "}"},
        {"problem": "h", "solution": r"\boxed{\frac{1}{}{}}"},
    ]
    path = tmp_path / "numina.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    problems, report = load_training_prompts(path, pool=verifier_pool)
    assert [(p.question, p.gold) for p in problems] == [("a", "5"), ("b", r"\frac{1}{2}")]
    assert report.kept == 2 and report.dropped == 7
    assert dict(report.counts) == {
        "no boxed answer": 1,
        "several different boxed answers": 1,
        "missing field": 1,
        "answer is prose": 1,
        "answer too long": 1,
        "answer not parseable": 1,
        "invalid JSON": 1,
    }
    assert report.examples["no boxed answer"] == [3]
    assert "kept 2, dropped 7" in str(report)


def test_training_prompt_file_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="training prompt file not found"):
        load_training_prompts(tmp_path / "none.jsonl")


# ------------------------------------------------------------------ prompts
def test_prompt_raw_without_chat_template():
    assert build_prompt("What is 2+2?") == (
        "Please reason step by step, and put your final answer within \\boxed{}. Question: What is 2+2?"
    )
    assert "{question}" in PAPER_PROMPT_TEMPLATE


def test_prompt_through_the_chat_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = build_prompt("What is 2+2?", tokenizer)
    assert prompt == (
        "<|im_start|>user\nPlease reason step by step, and put your final answer within \\boxed{}. "
        "Question: What is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_an_unknown_prompt_set_names_the_benchmarks_and_how_they_register():
    from thrifty.data import training_problems

    with pytest.raises(ValueError, match="unknown prompt set 'organisms'; benchmarks: .*organism.*entry point"):
        training_problems("organisms")
    with pytest.raises(ValueError, match="'gsm8k' has no training split"):
        training_problems("gsm8k")
