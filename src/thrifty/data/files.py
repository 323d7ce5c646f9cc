"""Rows from where datasets live: local ``.jsonl`` / ``.json`` / ``.parquet`` files, ``datasets.save_to_disk``
folders, folders of data files, or the Hugging Face Hub (by ``owner/name`` id, with a config and a split).

Rows come numbered from 1 (a file's line or an array's position), so that every problem with a row can be
reported by its line; :func:`parse_rows` turns them into problems, reports the bad ones in one warning and makes
their ids unique (:func:`unique_ids`). Files are read as UTF-8 as they are: a byte-order mark is dropped, and a
line that is not valid UTF-8 is a bad row, never silently altered.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from thrifty.data.problems import BadRow, Problem, first_ten
from thrifty.data.rows import Columns, SeenColumns, missing_a_field


logger = logging.getLogger(__name__)

DATA_SUFFIXES = (".jsonl", ".json", ".parquet")

_UNDECODABLE = re.compile("[\udc80-\udcff]")
"""What ``errors="surrogateescape"`` turns a byte that is not valid UTF-8 into (valid UTF-8 never decodes to it)."""


def _json_failure(error: Exception) -> str:
    """What is wrong with text :func:`json.loads` refused (a ValueError or RecursionError), in a few words."""
    if isinstance(error, json.JSONDecodeError):
        return error.msg
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error)  # e.g. an integer of more digits than Python converts


def _json_line(line: str) -> dict:
    """One line of a JSONL file (decoded with ``surrogateescape``) as a JSON object; a :class:`BadRow` says why
    it is not one."""
    undecodable = _UNDECODABLE.search(line)
    if undecodable:
        offset = len(line[: undecodable.start()].encode("utf-8", "surrogateescape")) + 1
        byte = ord(undecodable.group()) - 0xDC00
        raise BadRow(f"not valid UTF-8 (byte {offset} of the line is 0x{byte:02X}); save the file as UTF-8")
    try:
        row = json.loads(line.removeprefix("\ufeff"))  # a byte-order mark: the file's, or a concatenated file's
    except (ValueError, RecursionError) as error:
        raise BadRow(f"invalid JSON ({_json_failure(error)})") from None
    if not isinstance(row, dict):
        raise BadRow("not a JSON object")
    return row


def _jsonl_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """The JSON objects of a JSONL file by line; blank lines are skipped, other lines go to ``bad`` with why."""
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = _json_line(line)
            except BadRow as error:
                bad.append((line_number, str(error)))
                continue
            yield line_number, row


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError, its IO errors are OSErrors
        raise ValueError(f"could not read {path} as a parquet file ({error}); check that it is one") from error
    yield from enumerate(table.to_pylist(), start=1)


def _json_array_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """A ``.json`` file holding one array: a file that is not valid UTF-8 or not valid JSON is refused whole (no
    row of it can be trusted); array items that are not objects go to ``bad``."""
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path} is not valid UTF-8 (line {line} has the byte 0x{data[error.start]:02X}); save it as UTF-8"
        ) from None
    try:
        rows = json.loads(text)
    except (ValueError, RecursionError) as error:
        where = f"line {error.lineno}, column {error.colno}: " if isinstance(error, json.JSONDecodeError) else ""
        raise ValueError(
            f"{path} is not a valid JSON array ({where}{_json_failure(error)}); "
            "fix it, or write one JSON object per line as .jsonl"
        ) from None
    for index, row in enumerate(rows, start=1):
        if isinstance(row, dict):
            yield index, row
        else:
            bad.append((index, "not a JSON object"))


def _holds_an_array(path: Path) -> bool:
    """Whether a ``.json`` file starts with ``[`` (a JSON array) rather than a JSON object per line."""
    with open(path, "rb") as handle:
        return handle.read(4096).removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"[")


def file_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """Rows of a .jsonl, .json (a JSON array, or JSON lines) or .parquet file, numbered from 1; rows that are not
    JSON objects, or not valid UTF-8, go to ``bad`` as ``(line, why)``."""
    if path.suffix == ".parquet":
        return _parquet_rows(path)
    if path.suffix == ".json" and _holds_an_array(path):
        return _json_array_rows(path, bad)
    if path.suffix in (".json", ".jsonl"):
        return _jsonl_rows(path, bad)
    raise ValueError(f"unsupported file type {path.suffix!r} for {path}; use .jsonl, .json or .parquet")


BENCHMARK_OFFLINE_HINT = "Offline? Pass --data-dir with local JSONL copies instead."
DATASET_OFFLINE_HINT = (
    "Offline? With HF_DATASETS_OFFLINE=1 a copy in the datasets cache (HF_DATASETS_CACHE) is used if there is one; "
    "otherwise use a local .jsonl/.parquet file or a datasets.save_to_disk folder (and check the id: no local "
    "folder of that name exists either)."
)
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
"""What a Hugging Face Hub dataset id looks like: ``owner/name``."""


def is_data_file(source: str | os.PathLike) -> bool:
    """Whether ``source`` names a data file by its suffix (``.jsonl``, ``.json``, ``.parquet``)."""
    return Path(source).suffix in DATA_SUFFIXES


def is_hub_id(source: str) -> bool:
    """Whether ``source`` reads as a Hub dataset id (``owner/name``) and is not a local path.

    Example:
        >>> is_hub_id("openai/gsm8k"), is_hub_id("gsm8k"), is_hub_id("data/set.jsonl")
        (True, False, False)
    """
    return bool(_HUB_ID.fullmatch(source)) and not is_data_file(source) and not Path(source).exists()


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a folder written by ``datasets``' ``save_to_disk`` (a Dataset or a DatasetDict)."""
    return (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()


def pick_split(available: list[str], split: str | None, source: str, flag: str) -> str:
    """The split to read: ``split`` if given (it must exist); else ``test`` if the dataset has it, else its only
    split. A dataset of several splits, none of them ``test``, must be told which one (``flag``), rather than
    silently evaluate on training data.

    Example:
        >>> pick_split(["train", "test"], None, "x", "--benchmark_split"), pick_split(["train"], None, "x", "")
        ('test', 'train')
    """
    if split is not None:
        if split not in available:
            raise ValueError(
                f"{source} has no split {split!r}; its splits: {', '.join(available)}. Choose one with {flag}"
            )
        return split
    if "test" in available or len(available) == 1:
        return "test" if "test" in available else available[0]
    raise ValueError(f"{source} has the splits {', '.join(available)} and no 'test'; choose one with {flag}")


def _numbered(dataset) -> Iterator[tuple[int, dict]]:
    for index, row in enumerate(dataset, start=1):
        yield index, dict(row)


def _one_split(loaded, split: str | None, source: str, flag: str):
    """``loaded`` itself (one split), or the split of a DatasetDict (any mapping of split -> rows) to read."""
    if isinstance(loaded, Mapping):
        return loaded[pick_split(list(loaded), split, source, flag)]
    return loaded


def hub_rows(
    hub_id: str,
    config: str | None,
    split: str | None,
    offline_hint: str = BENCHMARK_OFFLINE_HINT,
    split_flag: str = "--benchmark_split",
) -> Iterator[tuple[int, dict]]:
    """Rows of a Hugging Face Hub dataset (needs network or a warm ``HF_DATASETS_CACHE``), or of a local folder of
    data files (``load_dataset(folder)``); a ``split`` of None reads ``test``, else the only split
    (:func:`pick_split`)."""
    from datasets import load_dataset

    where = "the folder" if Path(hub_id).is_dir() else "the Hugging Face Hub"
    try:
        if split is None:
            loaded = load_dataset(hub_id, config) if config else load_dataset(hub_id)
        else:
            loaded = load_dataset(hub_id, config, split=split) if config else load_dataset(hub_id, split=split)
    except Exception as error:  # re-raised with what was looked for
        if "Unknown split" in str(error):
            raise ValueError(f"{hub_id} has no split {split!r} ({error}); choose one with {split_flag}") from error
        hint = "" if where == "the folder" else f" {offline_hint}"
        given = [f"config {config!r}"] * bool(config) + [f"split {split!r}"] * bool(split)
        details = f" ({', '.join(given)})" if given else ""
        raise FileNotFoundError(f"could not load dataset {hub_id!r}{details} from {where}: {error}.{hint}") from error
    return _numbered(_one_split(loaded, split, hub_id, split_flag))


def disk_rows(path: Path, split: str | None, split_flag: str = "--benchmark_split") -> Iterator[tuple[int, dict]]:
    """Rows of a ``save_to_disk`` folder: a Dataset (``split`` is then moot), or a DatasetDict's ``split``
    (:func:`pick_split`)."""
    from datasets import load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except Exception as error:
        raise ValueError(f"could not read {path} as a datasets.save_to_disk folder ({error})") from error
    return _numbered(_one_split(loaded, split, str(path), split_flag))


def dataset_rows(
    source: str,
    config: str | None,
    split: str | None,
    offline_hint: str,
    flag: str,
) -> Iterator[tuple[int, dict]]:
    """Rows of wherever ``source`` names: a data file, a ``save_to_disk`` folder, a folder of data files, or a Hub
    dataset id (with ``config``, ``split``); ``flag`` (``--benchmark``, ``--prompts``) is the flag that named it,
    for messages. A ValueError when it names none of them."""
    path = Path(source)
    if is_data_file(source):
        raise ValueError(f"{source} is a data file: read it with file_rows")  # callers read files themselves
    if path.is_dir():
        if config:
            raise ValueError(f"{flag}_config {config!r} applies to Hub datasets, not to the local folder {source}")
        if is_saved_dataset(path):
            return disk_rows(path, split, f"{flag}_split")
        return hub_rows(str(path), None, split, offline_hint, f"{flag}_split")
    if is_hub_id(source):
        return hub_rows(source, config, split, offline_hint, f"{flag}_split")
    raise FileNotFoundError(f"{flag} {source}: no such file or folder, and not a Hub dataset id (owner/name)")


def parse_rows(
    rows: Iterator[tuple[int, dict]],
    parse_row: Callable[[dict, int], Problem],
    source: str,
    bad: list[tuple[int, str]],
    columns: Columns | None = None,
) -> list[Problem]:
    """``parse_row(row, index)`` for every row; rows it refuses (:class:`BadRow`) are skipped and, with those
    already in ``bad``, reported in one warning that names their lines (and, when rows miss a field, the accepted
    schemas and the columns the rows have). Ids are then made unique (:func:`unique_ids`). ``columns``: the
    user's column mapping, refused (ValueError) if a mapped column is in no row."""
    numbered = []
    seen = SeenColumns()
    for line_number, row in rows:
        seen.add(row)
        try:
            numbered.append((line_number, parse_row(row, line_number - 1)))
        except BadRow as error:
            bad.append((line_number, str(error)))
    if columns is not None:
        seen.check(columns, source)
    warn_bad_rows(bad, source, seen.hint() if missing_a_field(why for _, why in bad) else "")
    return unique_ids(numbered, source)


def warn_bad_rows(bad: list[tuple[int, str]], source: str, hint: str = "") -> None:
    """One warning for the rows of ``source`` that were skipped: how many, and the first ten with line and why;
    then ``hint`` (what a row must hold), if given."""
    if not bad:
        return
    shown = first_ten([f"line {n}: {why}" for n, why in sorted(bad)])
    logger.warning(
        "skipped %d bad row(s) in %s: %s%s", len(bad), source, shown, f". {hint[0].upper()}{hint[1:]}" if hint else ""
    )


def unique_ids(numbered: list[tuple[int, Problem]], source: str) -> list[Problem]:
    """The problems of ``numbered`` (``(line, problem)`` pairs, lines from 1) with unique ids: an id held by an
    earlier claim gets the first free suffix ``#2``, ``#3``, ..., and one warning names the renamed lines.

    For rows read from data (files, Hub datasets), where every row is a problem of its own; sets made by code get
    :func:`~thrifty.data.problems.one_problem_per_id` instead. Results are keyed by id, so two rows under one id
    would be one problem, evaluated against the later row's gold. They are renamed rather than refused because
    then every row of the file is evaluated, as its author meant, and nothing has to be fixed first (a Hub
    dataset cannot be fixed by its user); and the names are stable: an id that repeats nothing is never changed,
    so a file without repeats keeps the ids its existing results use (GSM8K's row indices among them), and the
    suffixes depend only on the file.

    Who keeps a contested id: ids a row writes before ids that are a row's default (its 0-based index, what a row
    without an id gets, so ``"id": 1`` keeps ``1`` and the id-less row at index 1 becomes ``1#2``); then the
    earlier line. A suffix never takes an id another row writes.

    Example:
        >>> def ids(*written):
        ...     return [p.id for p in unique_ids([(n, Problem(i, "?", "1")) for n, i in enumerate(written, 1)], "")]
        >>> ids("same", "same", "other")
        ['same', 'same#2', 'other']
        >>> ids("0", "1", "1")  # line 2 has no id (its default is 1), line 3 writes "id": 1
        ['0', '1#2', '1']
    """
    ids, renamed = _claimed_ids(numbered)
    if renamed:
        logger.warning(
            "%d problem(s) in %s repeat an id, and results are keyed by id; renamed: %s. "
            "Give every row its own 'id' to choose the names yourself.",
            len(renamed),
            source,
            first_ten([text for _, text in sorted(renamed)]),
        )
    return [
        problem if problem.id == new else dataclasses.replace(problem, id=new)
        for (_, problem), new in zip(numbered, ids, strict=True)
    ]


def _claimed_ids(numbered: list[tuple[int, Problem]]) -> tuple[list[str], list[tuple[int, str]]]:
    """The ids :func:`unique_ids` gives ``numbered``, and ``(line, what was renamed)`` for each one it renamed."""
    defaulted = [problem.id == str(line - 1) for line, problem in numbered]
    claims = sorted(range(len(numbered)), key=lambda i: defaulted[i])  # stable: written ids first, in file order
    taken = {problem.id for _, problem in numbered}
    holder: dict[str, int] = {}  # id -> the line that holds it
    next_suffix: dict[str, int] = {}
    ids = [problem.id for _, problem in numbered]
    renamed = []
    for i in claims:
        line, wanted = numbered[i][0], ids[i]
        if wanted in holder:
            suffix = next_suffix.get(wanted, 2)
            while f"{wanted}#{suffix}" in taken:
                suffix += 1
            next_suffix[wanted], ids[i] = suffix + 1, f"{wanted}#{suffix}"
            taken.add(ids[i])
            renamed.append((line, f"line {line}: {wanted!r} (held by line {holder[wanted]}) -> {ids[i]!r}"))
        holder[ids[i]] = line
    return ids, renamed
