"""The public benchmarks (GSM8K, MATH500, AIME24, AMC23) and users' own problem files: rows -> :class:`Problem`.

Each benchmark is found in a local folder (``--data_dir``: the file names tried are in :data:`FILES`) or, without
one, on the Hugging Face Hub. Bad rows (invalid JSON or UTF-8, missing fields, a question that is not a string, an
answer that is not a string or number, empty or overlong values: see :mod:`thrifty.data.problems`) are skipped and
reported in one warning with their line numbers; repeated ids are made unique (:func:`thrifty.data.files.unique_ids`).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from thrifty.data.files import file_rows, hub_rows, parse_rows
from thrifty.data.problems import (
    BadRow,
    Benchmark,
    Problem,
    gold_text,
    question_text,
    require_string,
    row_field,
    row_id,
)
from thrifty.verify import all_boxed_answers


# --------------------------------------------------------------------------------------------- row parsers
def _integer_string(value: str) -> str:
    """``"025"`` -> ``"25"``, ``"27.0"`` -> ``"27"``; anything else is returned as it is."""
    try:
        number = float(value)
    except ValueError:
        return value
    if number.is_integer():
        return str(int(number))
    return value


def gsm8k_gold(answer: str) -> str:
    """The number after ``####`` in a GSM8K answer, commas removed: ``"... #### 1,234"`` -> ``"1234"``."""
    require_string(answer, "GSM8K answer", "it")
    if "####" not in answer:
        raise BadRow("GSM8K answer has no '####' final answer")
    return gold_text(answer.rsplit("####", 1)[1].replace(",", ""), "the text after '####'")


def _level(value: Any) -> int | None:
    """MATH levels come as ``3`` or ``"Level 3"``; anything unparseable is None."""
    text = str(value).strip().lower().removeprefix("level").strip()
    if value is None or not (text.isascii() and text.isdigit()):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        return None


def _oracle(value: Any) -> int | None:
    """A row's ``oracle_tokens`` (tokens of its shortest correct response, where known), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        tokens = int(value)
    except (ValueError, OverflowError):
        return None
    return tokens if tokens > 0 else None


def _gsm8k(row: dict, index: int) -> Problem:
    return Problem(
        row_id(row, index, "id"), question_text(*row_field(row, "question")), gsm8k_gold(row_field(row, "answer")[0])
    )


def _math500(row: dict, index: int) -> Problem:
    return Problem(
        row_id(row, index, "unique_id"),
        question_text(*row_field(row, "problem")),
        gold_text(*row_field(row, "answer")),
        _level(row.get("level")),
    )


def _competition(row: dict, index: int) -> Problem:
    """AIME/AMC rows: integer answers lose zero-padding and trailing ``.0``."""
    return Problem(
        row_id(row, index, "id"),
        question_text(*row_field(row, "problem", "question", "Problem")),
        _integer_string(gold_text(*row_field(row, "answer", "Answer"))),
    )


def _generic_gold(row: dict) -> str:
    """The gold of a user's row: its ``answer`` / ``gold`` / ``final_answer``, else the last boxed answer of its
    ``solution``."""
    try:
        answer, where = row_field(row, "answer", "gold", "final_answer", "solution")
    except BadRow:
        raise BadRow(
            "missing field 'answer' / 'gold' / 'final_answer' (or a \\boxed{} answer in 'solution')"
        ) from None
    if where == "field 'solution'":
        boxed = all_boxed_answers(require_string(answer, "solution", where))
        if not boxed:
            raise BadRow("no boxed answer (no 'answer' field, and no \\boxed{} in field 'solution')")
        answer, where = boxed[-1], "the last \\boxed{} of field 'solution'"
    return gold_text(answer, where)


def _generic(row: dict, index: int) -> Problem:
    """A user's own rows: question in problem/question/prompt; gold in answer/gold, else last boxed of solution."""
    return Problem(
        row_id(row, index, "id", "unique_id", "idx"),
        question_text(*row_field(row, "problem", "question", "prompt")),
        _generic_gold(row),
        _level(row.get("level")),
        _oracle(row.get("oracle_tokens")),
    )


# --------------------------------------------------------------------------------------------- benchmarks
HUB = {  # name: (hub id, config, split)
    "gsm8k": ("openai/gsm8k", "main", "test"),
    "math500": ("HuggingFaceH4/MATH-500", None, "test"),
    "aime24": ("HuggingFaceH4/aime_2024", None, "train"),
    "amc23": ("math-ai/amc23", None, "test"),
}
FILES = {  # name: local file names tried in --data_dir (then <name>.parquet)
    "gsm8k": ("gsm8k_test.jsonl", "gsm8k.jsonl", "gsm8k/test.jsonl"),
    "math500": ("math500.jsonl", "math500/test.jsonl"),
    "aime24": ("aime24.jsonl", "aime24/test.jsonl"),
    "amc23": ("amc23.jsonl", "amc23/test.jsonl"),
}
PARSERS = {"gsm8k": _gsm8k, "math500": _math500, "aime24": _competition, "amc23": _competition}


def _load(name: str, data_dir: str | os.PathLike | None) -> list[Problem]:
    bad: list[tuple[int, str]] = []
    if data_dir is None:
        hub_id, config, split = HUB[name]
        return parse_rows(hub_rows(hub_id, config, split), PARSERS[name], hub_id, bad)
    directory = Path(data_dir)
    candidates = [directory / f for f in FILES[name]] + [directory / f"{name}.parquet"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"no file for benchmark {name!r} in {directory}; looked for: {', '.join(p.name for p in candidates)}"
        )
    return parse_rows(file_rows(path, bad), PARSERS[name], str(path), bad)


def load_file(path: str | os.PathLike) -> list[Problem]:
    """A user's own problems from a ``.jsonl`` / ``.json`` / ``.parquet`` file (UTF-8): question (a string) in
    ``problem`` / ``question`` / ``prompt``; gold (a string or a number) in ``answer`` / ``gold`` /
    ``final_answer``, else the last boxed answer of ``solution``; optional ``id`` (also ``unique_id`` / ``idx``;
    a row without one gets its 0-based index, and repeated ids are renamed ``id#2``, ...), ``level`` and
    ``oracle_tokens``. Bad rows are skipped with one warning naming their lines."""
    path, bad = Path(path), []
    if not path.is_file():
        raise FileNotFoundError(f"benchmark file not found: {path}")
    return parse_rows(file_rows(path, bad), _generic, str(path), bad)


BENCHMARKS: dict[str, Benchmark] = {
    "gsm8k": Benchmark("gsm8k", partial(_load, "gsm8k"), default_samples=1),
    "math500": Benchmark("math500", partial(_load, "math500"), default_samples=3),
    "aime24": Benchmark("aime24", partial(_load, "aime24"), default_samples=10),
    "amc23": Benchmark("amc23", partial(_load, "amc23"), default_samples=10),
}
"""The public benchmarks. ``default_samples`` is the paper's k (GSM8K 1, MATH500 3, AIME24 10; AMC23 as AIME)."""
