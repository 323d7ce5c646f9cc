"""Rows from where datasets live: local ``.jsonl`` / ``.json`` / ``.parquet`` files or the Hugging Face Hub.

Rows come numbered from 1 (a file's line or an array's position), so that every problem with a row can be
reported by its line; :func:`parse_rows` turns them into problems and reports the bad ones in one warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from thrifty.data.problems import BadRow, Problem


logger = logging.getLogger(__name__)

DATA_SUFFIXES = (".jsonl", ".json", ".parquet")


def _jsonl_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                bad.append((line_number, f"invalid JSON ({error.msg})"))
                continue
            if not isinstance(row, dict):
                bad.append((line_number, "not a JSON object"))
                continue
            yield line_number, row


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    yield from enumerate(pq.read_table(path).to_pylist(), start=1)


def _json_array_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    for index, row in enumerate(json.loads(path.read_text(encoding="utf-8")), start=1):
        if isinstance(row, dict):
            yield index, row
        else:
            bad.append((index, "not a JSON object"))


def file_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """Rows of a .jsonl, .json (a JSON array, or JSON lines) or .parquet file, numbered from 1; rows that are not
    JSON objects go to ``bad`` as ``(line, why)``."""
    if path.suffix == ".parquet":
        return _parquet_rows(path)
    if path.suffix == ".json":
        with open(path, encoding="utf-8", errors="replace") as handle:
            if handle.read(4096).lstrip().startswith("["):
                return _json_array_rows(path, bad)
        return _jsonl_rows(path, bad)
    if path.suffix == ".jsonl":
        return _jsonl_rows(path, bad)
    raise ValueError(f"unsupported file type {path.suffix!r} for {path}; use .jsonl or .parquet")


def hub_rows(hub_id: str, config: str | None, split: str) -> Iterator[tuple[int, dict]]:
    """Rows of a Hugging Face Hub dataset (needs network or a warm ``HF_DATASETS_CACHE``)."""
    from datasets import load_dataset

    try:
        dataset = load_dataset(hub_id, config, split=split) if config else load_dataset(hub_id, split=split)
    except Exception as error:  # re-raised with what was looked for
        raise FileNotFoundError(
            f"could not load dataset {hub_id!r} (split {split!r}) from the Hugging Face Hub: {error}. "
            "Offline? Pass --data-dir with local JSONL copies instead."
        ) from error
    for index, row in enumerate(dataset, start=1):
        yield index, dict(row)


def parse_rows(
    rows: Iterator[tuple[int, dict]],
    parse_row: Callable[[dict, int], Problem],
    source: str,
    bad: list[tuple[int, str]],
) -> list[Problem]:
    """``parse_row(row, index)`` for every row; rows it refuses (:class:`BadRow`) are skipped and, with those
    already in ``bad``, reported in one warning that names their lines."""
    problems = []
    for line_number, row in rows:
        try:
            problems.append(parse_row(row, line_number - 1))
        except BadRow as error:
            bad.append((line_number, str(error)))
    warn_bad_rows(bad, source)
    return problems


def warn_bad_rows(bad: list[tuple[int, str]], source: str) -> None:
    if not bad:
        return
    shown = "; ".join(f"line {n}: {why}" for n, why in sorted(bad)[:10])
    more = f"; and {len(bad) - 10} more" if len(bad) > 10 else ""
    logger.warning("skipped %d bad row(s) in %s: %s%s", len(bad), source, shown, more)
