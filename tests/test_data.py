"""thrifty.data: loaders on the real benchmark files, gold parsing, bad rows, training prompts, prompts."""

from __future__ import annotations

import codecs
import hashlib
import json
import logging

import pytest

from thrifty.data import (
    MAX_QUESTION_CHARS,
    PAPER_PROMPT_TEMPLATE,
    BadRow,
    benchmark_label,
    build_prompt,
    gsm8k_gold,
    load_benchmark,
    load_training_prompts,
)
from thrifty.verify import MAX_ANSWER_CHARS


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


# the loaders' output on the shared files before issue 13's fixes: sha256 of json.dumps([[id, question, gold, level,
# oracle_tokens], ...]), first 16 hex digits. Existing result folders key samples by these ids, so they must not move.
FINGERPRINTS = {
    "gsm8k": (1319, "0", "1318", "22e4beb7c0816e62"),
    "math500": (500, "test/precalculus/807.json", "test/geometry/615.json", "a204e37056edfbe8"),
    "aime24": (30, "60", "89", "b7a3840b56d9c24e"),
    "amc23": (40, "0", "49", "81f00aeb4167f2da"),
}


@pytest.mark.parametrize("name", sorted(FINGERPRINTS))
def test_shared_benchmarks_load_as_before_issue_13(name, benchmarks_dir, caplog):
    """Same counts, ids (GSM8K's are still its row indices), questions and golds, and nothing to warn about."""
    with caplog.at_level(logging.WARNING, logger="thrifty.data"):
        problems = load_benchmark(name, benchmarks_dir)
    records = [[p.id, p.question, p.gold, p.level, p.oracle_tokens] for p in problems]
    digest = hashlib.sha256(json.dumps(records).encode()).hexdigest()[:16]
    assert (len(problems), problems[0].id, problems[-1].id, digest) == FINGERPRINTS[name]
    assert len({p.id for p in problems}) == len(problems)
    assert caplog.text == ""


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


# ------------------------------------------------------------------ issue 13: ids, encodings, value types, bounds
def _write(path, *lines: dict | bytes) -> str:
    """A file of ``lines`` (dicts as JSON, bytes as they are), one per line; returns its path."""
    path.write_bytes(b"".join((json.dumps(x).encode() if isinstance(x, dict) else x) + b"\n" for x in lines))
    return str(path)


def _loaded(path, caplog) -> tuple[list[tuple[str, str, str]], str]:
    """``([(id, question, gold), ...], the warnings)`` of loading ``path``."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="thrifty.data"):
        problems = load_benchmark(str(path))
    return [(p.id, p.question, p.gold) for p in problems], caplog.text


def test_repeated_ids_are_renamed_loudly_not_dropped(tmp_path, caplog):
    path = _write(
        tmp_path / "mine.jsonl",
        {"id": "same", "question": "1+1?", "answer": "2"},
        {"id": "same", "question": "2+2?", "answer": "4"},
        {"id": "other", "question": "3+3?", "answer": "6"},
    )
    problems, warnings = _loaded(path, caplog)
    assert problems == [("same", "1+1?", "2"), ("same#2", "2+2?", "4"), ("other", "3+3?", "6")]
    assert "1 problem(s) in " + path in warnings
    assert "line 2: 'same' (held by line 1) -> 'same#2'" in warnings


def test_a_suffix_never_takes_an_id_a_row_writes(tmp_path, caplog):
    path = _write(
        tmp_path / "mine.jsonl",
        {"id": "a", "question": "q1", "answer": "1"},
        {"id": "a", "question": "q2", "answer": "2"},
        {"id": "a#2", "question": "q3", "answer": "3"},
        {"id": "a", "question": "q4", "answer": "4"},
    )
    assert [i for i, _, _ in _loaded(path, caplog)[0]] == ["a", "a#3", "a#2", "a#4"]


def test_an_id_less_row_yields_its_index_default_to_a_written_id(tmp_path, caplog):
    """Line 2 has no id, so its default is its index, 1; line 3 writes "id": 1 and keeps it whatever the order."""
    path = _write(
        tmp_path / "mine.jsonl",
        {"question": "a", "answer": "1"},
        {"question": "b", "answer": "2"},
        {"id": 1, "question": "c", "answer": "3"},
    )
    problems, warnings = _loaded(path, caplog)
    assert problems == [("0", "a", "1"), ("1#2", "b", "2"), ("1", "c", "3")]
    assert "line 2: '1' (held by line 3) -> '1#2'" in warnings


def test_ids_are_unique_from_the_hub(monkeypatch):
    import datasets

    rows = [{"question": "q", "answer": "#### 1", "id": "x"}, {"question": "r", "answer": "#### 2", "id": "x"}]
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: rows)
    assert [p.id for p in load_benchmark("gsm8k")] == ["x", "x#2"]


def test_a_registered_benchmark_giving_one_id_to_two_problems_is_refused(monkeypatch):
    """Code-made sets may repeat a problem (the organism repeats level-1 prompts), never reuse its id for another."""
    from thrifty.data import Benchmark, Problem, registry, training_problems

    one, other = Problem("p", "1+1?", "2"), Problem("p", "2+2?", "4")
    repeats = Benchmark("repeats", load=lambda data_dir: [one, one], train=lambda per_level: [one, one])
    clashes = Benchmark("clashes", load=lambda data_dir: [one, other], train=lambda per_level: [one, one, other])
    monkeypatch.setitem(registry._registered, "repeats", repeats)
    monkeypatch.setitem(registry._registered, "clashes", clashes)
    assert load_benchmark("repeats") == training_problems("repeats") == [one, one]
    with pytest.raises(
        ValueError, match=r"benchmark 'clashes' gives one id to different problems: 'p' at positions 1 and 2"
    ):
        load_benchmark("clashes")
    with pytest.raises(ValueError, match=r"training split of 'clashes' gives one id .*'p' at positions 1 and 3"):
        training_problems("clashes")


class _EveryAnswerParses:
    """A stand-in for the verifier pool: every gold parses (the checks under test come before it)."""

    def parses(self, golds):
        return [True] * len(golds)


def test_training_prompt_ids_are_unique(tmp_path):
    path = tmp_path / "numina.jsonl"
    _write(
        path,
        {"id": 3, "problem": "a", "solution": r"\boxed{1}"},
        {"problem": "b", "solution": r"\boxed{2}"},
        {"id": 3, "problem": "c", "solution": r"\boxed{3}"},
        {"id": 1, "problem": "d", "solution": r"\boxed{4}"},
    )
    problems, _ = load_training_prompts(path, pool=_EveryAnswerParses())
    assert [p.id for p in problems] == ["3", "1#2", "3#2", "1"]


def test_a_byte_order_mark_keeps_row_1(tmp_path, caplog):
    first = json.dumps({"question": "1+1?", "answer": "2"})
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(codecs.BOM_UTF8 + (first + "\n" + json.dumps({"question": "2+2?", "answer": "4"})).encode())
    assert _loaded(jsonl, caplog) == ([("0", "1+1?", "2"), ("1", "2+2?", "4")], "")
    array = tmp_path / "bom.json"
    array.write_bytes(codecs.BOM_UTF8 + f"[{first}]".encode())
    assert _loaded(array, caplog) == ([("0", "1+1?", "2")], "")


def test_invalid_utf8_is_a_bad_row_never_a_replacement_character(tmp_path, caplog):
    path = _write(
        tmp_path / "mine.jsonl",
        b'{"question": "caf\xe9?", "answer": "1"}',  # Latin-1, not UTF-8
        {"question": "ok", "answer": "2"},
    )
    problems, warnings = _loaded(path, caplog)
    assert problems == [("1", "ok", "2")]
    assert "line 1: not valid UTF-8 (byte 18 of the line is 0xE9); save the file as UTF-8" in warnings


def test_a_json_array_file_that_is_not_utf8_or_not_json_is_refused_by_name(tmp_path):
    path = tmp_path / "mine.json"
    path.write_bytes(b'[{"question": "caf\xe9?", "answer": "1"}]')
    with pytest.raises(ValueError, match=r"mine.json is not valid UTF-8 \(line 1 has the byte 0xE9\)"):
        load_benchmark(str(path))
    path.write_text('[{"question": "1+1?", "answer": "2"},\n{"question": ')
    with pytest.raises(
        ValueError, match=r"mine.json is not a valid JSON array \(line 2, column 14: Expecting value\)"
    ):
        load_benchmark(str(path))


def test_a_parquet_file_that_is_not_one_is_refused_by_name(tmp_path):
    path = tmp_path / "mine.parquet"
    path.write_text('{"question": "1+1?", "answer": "2"}\n')
    with pytest.raises(ValueError, match=r"could not read .*mine.parquet as a parquet file .*check that it is one"):
        load_benchmark(str(path))


@pytest.mark.parametrize(
    "row, why",
    [
        ({"question": ["1+1", "?"], "answer": "2"}, "question is not a string (field 'question' is a list)"),
        ({"problem": {"text": "1+1?"}, "answer": "2"}, "question is not a string (field 'problem' is a dict)"),
        ({"question": "1+1?", "answer": False}, "answer is not a string or number (field 'answer' is a bool)"),
        ({"question": "1+1?", "answer": [2]}, "answer is not a string or number (field 'answer' is a list)"),
        ({"question": "1+1?", "gold": {"x": 2}}, "answer is not a string or number (field 'gold' is a dict)"),
        ({"question": "1+1?", "answer": float("nan")}, "answer is not a finite number (field 'answer' is nan)"),
        ({"question": "1+1?", "solution": ["\\boxed{2}"]}, "solution is not a string (field 'solution' is a list)"),
        ({"question": "1+1?", "answer": "2", "id": [1]}, "id is not a string or number (field 'id' is a list)"),
        (
            {"question": "\ud800?", "answer": "2"},
            "question is not valid Unicode (field 'question' has a lone surrogate",
        ),
    ],
)
def test_values_of_the_wrong_type_are_bad_rows_naming_field_and_type(tmp_path, caplog, row, why):
    path = _write(tmp_path / "mine.jsonl", row, {"question": "3+3?", "answer": 6})
    problems, warnings = _loaded(path, caplog)
    assert problems == [("1", "3+3?", "6")]  # a number is a gold answer; its string is what is kept
    assert f"skipped 1 bad row(s) in {path}: line 1: {why}" in warnings


def test_a_gsm8k_answer_that_is_not_a_string_is_a_bad_row():
    with pytest.raises(BadRow, match=r"GSM8K answer is not a string \(it is an int\)"):
        gsm8k_gold(7)


def test_overlong_questions_and_answers_are_bad_rows(tmp_path, caplog, benchmarks_dir):
    longest = max(len(p.question) for name in FINGERPRINTS for p in load_benchmark(name, benchmarks_dir))
    assert longest * 50 < MAX_QUESTION_CHARS  # far above any real benchmark
    path = _write(
        tmp_path / "mine.jsonl",
        {"question": "x" * (MAX_QUESTION_CHARS + 1), "answer": "1"},
        {"question": "y" * MAX_QUESTION_CHARS, "answer": "2"},
        {"question": "z", "answer": "3" * (MAX_ANSWER_CHARS + 1)},
    )
    problems, warnings = _loaded(path, caplog)
    assert [(i, len(q), g) for i, q, g in problems] == [("1", MAX_QUESTION_CHARS, "2")]
    assert f"line 1: question too long ({MAX_QUESTION_CHARS + 1} characters; limit {MAX_QUESTION_CHARS})" in warnings
    assert f"line 3: answer too long ({MAX_ANSWER_CHARS + 1} characters; limit {MAX_ANSWER_CHARS})" in warnings


def test_training_prompts_drop_bad_values_by_reason(tmp_path):
    path = tmp_path / "numina.jsonl"
    _write(
        path,
        {"problem": ["a"], "solution": r"\boxed{1}"},
        {"problem": "b" * (MAX_QUESTION_CHARS + 1), "solution": r"\boxed{2}"},
        b'{"problem": "\xff", "solution": "\\\\boxed{3}"}',
        {"problem": "d", "solution": r"\boxed{4}"},
    )
    problems, report = load_training_prompts(path, pool=_EveryAnswerParses())
    assert [(p.id, p.question, p.gold) for p in problems] == [("3", "d", "4")]
    assert dict(report.counts) == {"question is not a string": 1, "question too long": 1, "not valid UTF-8": 1}
    assert report.examples == {"question is not a string": [1], "question too long": [2], "not valid UTF-8": [3]}


@pytest.mark.parametrize(
    "name, label",
    [("gsm8k", "gsm8k"), ("organism", "organism"), ("my/set.jsonl", "set"), (".hidden.jsonl", "hidden")],
)
def test_benchmark_label_is_the_name_or_the_file_stem(name, label):
    assert benchmark_label(name) == label


@pytest.mark.parametrize("name", ["...jsonl", "..jsonl", "data/. .jsonl"])
def test_a_label_that_would_leave_out_is_refused(name):
    with pytest.raises(ValueError, match="no usable results folder name .* rename the file"):
        benchmark_label(name)


@pytest.mark.parametrize("name", ["a\\b.jsonl", "x/\n.jsonl", "weird\x00name.json"])
def test_a_label_is_always_one_folder_inside_out(tmp_path, name):
    label = benchmark_label(name)
    assert (tmp_path / label).resolve().parent == tmp_path.resolve() and not label.startswith(".")


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
        "missing field 'answer' / 'gold' / 'final_answer'": 1,
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
