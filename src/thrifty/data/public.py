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

from thrifty.data.files import (
    BENCHMARK_OFFLINE_HINT,
    DATASET_OFFLINE_HINT,
    dataset_rows,
    file_rows,
    hub_rows,
    parse_rows,
)
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
from thrifty.data.rows import DEFAULT_COLUMNS, Columns, parse_row, row_level


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


def _gsm8k(row: dict, index: int) -> Problem:
    return Problem(
        row_id(row, index, "id"), question_text(*row_field(row, "question")), gsm8k_gold(row_field(row, "answer")[0])
    )


def _math500(row: dict, index: int) -> Problem:
    return Problem(
        row_id(row, index, "unique_id"),
        question_text(*row_field(row, "problem")),
        gold_text(*row_field(row, "answer")),
        row_level(row.get("level")),
    )


def _competition(row: dict, index: int) -> Problem:
    """AIME/AMC rows: integer answers lose zero-padding and trailing ``.0``."""
    return Problem(
        row_id(row, index, "id"),
        question_text(*row_field(row, "problem", "question", "Problem")),
        _integer_string(gold_text(*row_field(row, "answer", "Answer"))),
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


def load_file(path: str | os.PathLike, columns: Columns = DEFAULT_COLUMNS) -> list[Problem]:
    """A user's own problems from a ``.jsonl`` / ``.json`` / ``.parquet`` file (UTF-8), rows as
    :mod:`thrifty.data.rows` reads them: question in ``problem`` / ``question`` / ``prompt`` (a string, or chat
    messages); gold (a string or a number) in ``answer`` / ``gold`` / ``final_answer``, else the last boxed answer
    of ``solution``; optional ``id`` (also ``unique_id`` / ``idx``; a row without one gets its 0-based index, and
    repeated ids are renamed ``id#2``, ...), ``level`` and ``oracle_tokens``; other names mapped by ``columns``.
    Bad rows are skipped with one warning naming their lines."""
    path, bad = Path(path), []
    if not path.is_file():
        raise FileNotFoundError(f"benchmark file not found: {path}")
    return parse_rows(file_rows(path, bad), partial(parse_row, columns=columns), str(path), bad, columns)


HUB_ALIASES = {hub_id.lower(): name for name, (hub_id, _, _) in HUB.items()}
"""The public benchmarks by Hub id (``openai/gsm8k`` -> ``gsm8k``): read with their own parser."""


def hub_alias(source: str) -> str | None:
    """The public benchmark a Hub id is (``HuggingFaceH4/MATH-500`` -> ``math500``; case as the Hub ignores it),
    or None.

    Example:
        >>> hub_alias("HuggingFaceH4/MATH-500"), hub_alias("me/my-set")
        ('math500', None)
    """
    return HUB_ALIASES.get(str(source).lower())


def load_dataset_problems(
    source: str,
    config: str | None = None,
    split: str | None = None,
    columns: Columns = DEFAULT_COLUMNS,
    flag: str = "--benchmark",
) -> list[Problem]:
    """Problems of a ``save_to_disk`` folder, a folder of data files or a Hub dataset id
    (:func:`thrifty.data.files.dataset_rows`; ``split`` None: ``test``, else the only split). A public benchmark's
    Hub id (``openai/gsm8k``) is read with that benchmark's parser (GSM8K's ``####`` answers), and its config and
    split unless given, unless ``columns`` maps columns: then the rows are the user's."""
    name, bad = hub_alias(source), []
    if name is not None and not columns.mapped():
        hub_id, default_config, default_split = HUB[name]
        rows = hub_rows(
            source, config or default_config, split or default_split, BENCHMARK_OFFLINE_HINT, f"{flag}_split"
        )
        return parse_rows(rows, PARSERS[name], source, bad)
    rows = dataset_rows(source, config, split, DATASET_OFFLINE_HINT, flag)
    return parse_rows(rows, partial(parse_row, columns=columns), source, bad, columns)


BENCHMARKS: dict[str, Benchmark] = {
    "gsm8k": Benchmark("gsm8k", partial(_load, "gsm8k"), default_samples=1),
    "math500": Benchmark("math500", partial(_load, "math500"), default_samples=3),
    "aime24": Benchmark("aime24", partial(_load, "aime24"), default_samples=10),
    "amc23": Benchmark("amc23", partial(_load, "amc23"), default_samples=10),
}
"""The public benchmarks. ``default_samples`` is the paper's k (GSM8K 1, MATH500 3, AIME24 10; AMC23 as AIME)."""
