"""The public benchmarks (GSM8K, MATH500, AIME24, AMC23) and users' own problem files: rows -> :class:`Problem`.

Each benchmark is found in a local folder (``--data_dir``: the file names tried are in :data:`FILES`) or, without
one, on the Hugging Face Hub. Bad rows (invalid JSON, missing fields, empty answers) are skipped and reported in
one warning with their line numbers.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from thrifty.data.files import file_rows, hub_rows, parse_rows
from thrifty.data.problems import BadRow, Benchmark, Problem
from thrifty.verify import all_boxed_answers


# --------------------------------------------------------------------------------------------- row parsers
def _field(row: dict, *names: str) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise BadRow(f"missing field {' / '.join(repr(n) for n in names)}")


def _text(value: Any, what: str) -> str:
    text = str(value).strip() if value is not None else ""
    if not text:
        raise BadRow(f"empty {what}")
    return text


def _integer_string(value: Any) -> str:
    """``"025"`` -> ``"25"``, ``27.0`` -> ``"27"``; anything else is returned stripped."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer():
        return str(int(number))
    return text


def gsm8k_gold(answer: str) -> str:
    """The number after ``####`` in a GSM8K answer, commas removed: ``"... #### 1,234"`` -> ``"1234"``."""
    if "####" not in answer:
        raise BadRow("GSM8K answer has no '####' final answer")
    return _text(answer.rsplit("####", 1)[1].replace(",", ""), "answer after ####")


def _level(value: Any) -> int | None:
    """MATH levels come as ``3`` or ``"Level 3"``; anything unparseable is None."""
    if value is None:
        return None
    text = str(value).strip().lower().removeprefix("level").strip()
    return int(text) if text.isdigit() else None


def _gsm8k(row: dict, index: int) -> Problem:
    return Problem(
        str(row.get("id", index)), _text(_field(row, "question"), "question"), gsm8k_gold(_field(row, "answer"))
    )


def _math500(row: dict, index: int) -> Problem:
    return Problem(
        str(row.get("unique_id", index)),
        _text(_field(row, "problem"), "problem"),
        _text(_field(row, "answer"), "answer"),
        _level(row.get("level")),
    )


def _competition(row: dict, index: int) -> Problem:
    """AIME/AMC rows: integer answers lose zero-padding and trailing ``.0``."""
    return Problem(
        str(row.get("id", index)),
        _text(_field(row, "problem", "question", "Problem"), "problem"),
        _integer_string(_text(_field(row, "answer", "Answer"), "answer")),
    )


def _generic(row: dict, index: int) -> Problem:
    """A user's own rows: question in problem/question/prompt; gold in answer/gold, else last boxed of solution."""
    question = _text(_field(row, "problem", "question", "prompt"), "question")
    gold = next((row[k] for k in ("answer", "gold", "final_answer") if row.get(k) not in (None, "")), None)
    if gold is None and row.get("solution"):
        boxed = all_boxed_answers(str(row["solution"]))
        gold = boxed[-1] if boxed else None
    if gold is None:
        raise BadRow("missing field 'answer' / 'gold' (or a \\boxed{} answer in 'solution')")
    row_id = next((row[k] for k in ("id", "unique_id", "idx") if row.get(k) is not None), index)
    return Problem(
        str(row_id), question, _text(gold, "answer"), _level(row.get("level")), _oracle(row.get("oracle_tokens"))
    )


def _oracle(value: Any) -> int | None:
    """A row's ``oracle_tokens`` (tokens of its shortest correct response, where known), else None."""
    try:
        return int(value) if value is not None and int(value) > 0 else None
    except (TypeError, ValueError):
        return None


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
    """A user's own problems from a ``.jsonl`` / ``.json`` / ``.parquet`` file: question in ``problem`` /
    ``question`` / ``prompt``; gold in ``answer`` / ``gold`` / ``final_answer``, else the last boxed answer of
    ``solution``; optional ``id``, ``level`` and ``oracle_tokens``."""
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
