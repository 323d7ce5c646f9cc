"""thrifty.data's loaders on arbitrary files (hypothesis): they load well-formed problems or refuse with a message.

For any JSONL file -- rows of random fields and values, lines of random bytes, a byte-order mark -- every loader
either returns problems whose fields are well typed, whose ids are unique and whose question and gold are
non-empty and bounded, or raises ValueError / FileNotFoundError with a message; never another exception. Loading
is deterministic, and writing valid problems as JSONL and loading them gives them back.
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from thrifty.data import MAX_QUESTION_CHARS, Problem, load_benchmark, load_training_prompts
from thrifty.data.files import unique_ids
from thrifty.data.public import FILES, load_file
from thrifty.verify import MAX_ANSWER_CHARS
from thrifty.verify.extract import gold_text as number_text


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner), max_leaves=6
)
"""Any JSON value."""

TEXTS = st.text(min_size=1, max_size=20) | st.sampled_from(["", "  ", "²", "lone \ud800 surrogate"])  # see _utf8
IDS = st.sampled_from(["0", "1", "2", "a", "a#2", ""]) | st.integers(0, 3) | st.floats(0, 3)
ANSWERS = st.sampled_from(["#### 7", "x #### 1,234", "#### ", "025", "27.0"]) | st.integers() | st.floats() | TEXTS
SOLUTIONS = st.sampled_from([r"so \boxed{5}", r"\boxed{1} or \boxed{2}", r"\boxed{\text{No solution}}"]) | TEXTS
LEVELS = st.sampled_from(["Level 3", "level ²", "Level " + "9" * 5000]) | st.integers() | TEXTS
FIELDS = {
    **dict.fromkeys(["id", "unique_id", "idx"], IDS),
    **dict.fromkeys(["question", "problem", "prompt", "Problem"], TEXTS),
    **dict.fromkeys(["answer", "Answer", "gold", "final_answer"], ANSWERS),
    "solution": SOLUTIONS,
    "level": LEVELS,
    "oracle_tokens": st.integers() | st.floats() | TEXTS,
}
"""Every field a loader reads, with values that are plausible for it (so that rows often load, and ids often
collide)."""
LIKELY = ["question", "problem", "answer", "solution"]


def _mostly(values: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly ``values`` (seven of eight branches), else any JSON value."""
    return st.one_of(*[values] * 7, VALUES)


LIKELY_ROWS = st.fixed_dictionaries(
    {name: _mostly(FIELDS[name]) for name in LIKELY},
    optional={name: _mostly(values) for name, values in FIELDS.items() if name not in LIKELY},
)
KNOWN_ROWS = st.fixed_dictionaries({}, optional={name: _mostly(values) for name, values in FIELDS.items()})
ROWS = st.tuples(LIKELY_ROWS | KNOWN_ROWS, st.dictionaries(st.text(max_size=5), VALUES, max_size=2)).map(
    lambda known_and_other: {**known_and_other[1], **known_and_other[0]}
)
"""Rows that look like problems (the fields most loaders need are there) or have any of the known fields, plus a few
unknown ones; a known field mostly holds a plausible value."""


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8, a lone surrogate written raw (so as bytes that are not UTF-8)."""
    return text.encode("utf-8", "surrogatepass")


LINES = st.one_of(
    ROWS.map(lambda row: json.dumps(row).encode()),
    ROWS.map(lambda row: _utf8(json.dumps(row, ensure_ascii=False))),
    ROWS.map(lambda row: json.dumps(row, indent=1).encode()),  # one object over several lines: every line is bad
    VALUES.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=40),
    st.just(b"   "),
)
JSONL = (
    st.integers(0, 8)  # drawn first, so that files of several lines are as likely as files of one
    .flatmap(lambda n: st.lists(st.one_of(LINES, LINES.map(lambda line: line + b"\n" + line)), min_size=n, max_size=n))
    .map(b"\n".join)
)
JSON_ARRAY = st.lists(ROWS | VALUES, max_size=6).map(lambda rows: _utf8(json.dumps(rows, ensure_ascii=False)))
FILE_BYTES = st.tuples(st.booleans(), st.one_of(JSONL, JSONL, JSON_ARRAY, JSON_ARRAY.map(lambda data: data[:-1]))).map(
    lambda bom_data: (codecs.BOM_UTF8 if bom_data[0] else b"") + bom_data[1] + b"\n"
)
"""A JSONL file of any lines, or a JSON array (complete or cut short), with or without a byte-order mark."""


class EveryAnswerParses:
    """Stands in for the verifier pool: every gold parses (what is under test are the checks before it)."""

    def parses(self, golds):
        return [True] * len(golds)


def _load(loader: str, folder: Path, data: bytes) -> list[Problem]:
    """Write ``data`` where ``loader`` reads it and load it: a user's ``.jsonl`` / ``.json`` file, a public
    benchmark's local copy, or a training prompt set."""
    if loader in FILES:
        path = folder / FILES[loader][0]
        path.write_bytes(data)
        return load_benchmark(loader, folder)
    path = folder / ("prompts.jsonl" if loader == "training" else loader)
    path.write_bytes(data)
    if loader == "training":
        return load_training_prompts(path, pool=EveryAnswerParses())[0]
    return load_file(path)


def _outcome(loader: str, data: bytes) -> list[Problem] | str:
    """The problems ``loader`` gives for a file of ``data``, or the message of the ValueError / FileNotFoundError
    it refused it with (any other exception fails the test)."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            return _load(loader, Path(folder), data)
        except (ValueError, FileNotFoundError) as error:
            assert str(error), f"{type(error).__name__} without a message"
            return f"{type(error).__name__}: {error}".replace(folder, "<folder>")


def _well_formed(problems: list[Problem]) -> None:
    assert len({p.id for p in problems}) == len(problems)
    for p in problems:
        assert all(isinstance(value, str) for value in (p.id, p.question, p.gold))
        assert p.question == p.question.strip() and 0 < len(p.question) <= MAX_QUESTION_CHARS
        assert p.gold == p.gold.strip() and 0 < len(p.gold) <= MAX_ANSWER_CHARS
        assert p.level is None or type(p.level) is int
        assert p.oracle_tokens is None or (type(p.oracle_tokens) is int and p.oracle_tokens > 0)
        for text in (p.id, p.question, p.gold):
            text.encode("utf-8")  # valid Unicode: a tokenizer and a samples file can take it


def _renamed(problems: list[Problem]) -> bool:
    return any("#" in p.id for p in problems)


LOADERS = st.sampled_from(["mine.jsonl", "mine.json", *FILES, "training"])


@settings(max_examples=400, deadline=None)
@given(loader=LOADERS, data=FILE_BYTES)
def test_any_file_loads_well_formed_problems_or_is_refused_with_a_message(loader, data):
    first = _outcome(loader, data)
    if isinstance(first, list):
        _well_formed(first)
        event(f"loaded {'none' if not first else 'some, with renamed ids' if _renamed(first) else 'some'}")
    else:
        event("refused")
    assert _outcome(loader, data) == first  # deterministic


@settings(max_examples=100, deadline=None)
@given(loader=st.sampled_from(["mine.json", "mine.jsonl"]), data=st.binary(max_size=200))
def test_any_bytes_at_all_load_or_are_refused_with_a_message(loader, data):
    outcome = _outcome(loader, data)
    if isinstance(outcome, list):
        _well_formed(outcome)


STRIPPED = st.text(min_size=1, max_size=40).map(str.strip).filter(bool)
GOLDS = STRIPPED | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
VALID = st.lists(
    st.tuples(STRIPPED, STRIPPED, GOLDS, st.none() | st.integers(1, 5), st.none() | st.integers(1, 10**6)),
    max_size=10,
    unique_by=lambda row: row[0],
)


@settings(max_examples=200, deadline=None)
@given(rows=VALID, ascii_only=st.booleans(), bom=st.booleans())
def test_valid_problems_survive_a_round_trip_through_jsonl(rows, ascii_only, bom):
    lines = [
        json.dumps(
            {"id": i, "question": q, "answer": g, "level": lv, "oracle_tokens": o}, ensure_ascii=ascii_only
        ).encode()
        for i, q, g, lv, o in rows
    ]
    data = (codecs.BOM_UTF8 if bom else b"") + b"".join(line + b"\n" for line in lines)
    # a number gold is written in its exact plain form (1e+16 -> "10000000000000000": math-verify reads "e" as Euler's)
    expected = [Problem(i, q, g if isinstance(g, str) else number_text(g), lv, o) for i, q, g, lv, o in rows]
    assert _outcome("mine.jsonl", data) == expected


@settings(max_examples=300, deadline=None)
@given(ids=st.lists(st.sampled_from(["0", "1", "2", "a", "a#2", "a#3", "b"]), max_size=12))
def test_unique_ids_renames_only_repeats_and_keeps_every_problem(ids):
    numbered = [(line, Problem(i, f"q{line}", "1")) for line, i in enumerate(ids, start=1)]
    out = [p.id for p in unique_ids(numbered, "ids")]
    assert len(set(out)) == len(out) == len(ids)
    assert [p.question for p in unique_ids(numbered, "ids")] == [p.question for _, p in numbered]
    for given_id, new in zip(ids, out, strict=True):
        assert new == given_id or (ids.count(given_id) > 1 and re.fullmatch(re.escape(given_id) + r"#\d+", new))
    for given_id in set(ids):  # a contested id stays with one of the rows that asked for it
        assert given_id in out
