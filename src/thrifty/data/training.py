"""Training prompts: a benchmark's training split (the organism's), or a NuminaMath-style set of checkable answers.

Does not generate or score anything; :func:`load_training_prompts` asks :mod:`thrifty.verify` only whether each
gold answer is checkable at all.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from thrifty.data.files import DATA_SUFFIXES, file_rows, hub_rows, unique_ids
from thrifty.data.problems import (
    BadRow,
    Problem,
    gold_text,
    one_problem_per_id,
    question_text,
    require_string,
    row_field,
    row_id,
)
from thrifty.data.registry import NOT_FOUND_HINT, benchmark_names, get_benchmark
from thrifty.verify import VerifierPool, all_boxed_answers


logger = logging.getLogger(__name__)


@dataclass
class DropReport:
    """Why rows of a training set were dropped: ``counts[reason] = n`` and up to 10 example lines per reason."""

    kept: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, reason: str, line_number: int) -> None:
        """Count a dropped row under ``reason`` (a :class:`~thrifty.data.problems.BadRow` message's category: its
        text before `` (``)."""
        reason = reason.split(" (")[0]
        self.counts[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 10:
            self.examples[reason].append(line_number)

    @property
    def dropped(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        reasons = ", ".join(
            f"{reason}: {n} (e.g. lines {self.examples[reason]})" for reason, n in self.counts.most_common()
        )
        return f"kept {self.kept}, dropped {self.dropped}" + (f" -- {reasons}" if reasons else "")


_PROSE = re.compile(r"\\(?:text|textbf|mbox)\{[^}]*[A-Za-z]+\s+[A-Za-z]+[^}]*\}")
"""A ``\\text{...}`` of several words ("Proof is complete", "No solution"): not a single checkable value."""


def _numina_problem(row: dict, index: int) -> Problem:
    """A NuminaMath-style row (``problem`` or ``question``, ``solution``) with one boxed final answer as its gold;
    a :class:`BadRow` whose category is the reason it is dropped otherwise."""
    question = question_text(*row_field(row, "problem", "question"))
    solution, where = row_field(row, "solution")
    boxed = all_boxed_answers(require_string(solution, "solution", where))
    if not boxed or not boxed[-1]:
        raise BadRow("no boxed answer")
    if len(set(boxed)) > 1:
        raise BadRow("several different boxed answers")
    gold = gold_text(boxed[-1], "the boxed answer of field 'solution'")
    if _PROSE.search(gold):
        raise BadRow("answer is prose")
    return Problem(row_id(row, index, "id"), question, gold)


def load_training_prompts(
    source: str | os.PathLike,
    split: str = "train",
    limit: int | None = None,
    pool=None,
) -> tuple[list[Problem], DropReport]:
    """Load a NuminaMath-style set (``problem``, ``solution``) and keep rows with one checkable final answer.

    A row is kept when its question is a string of at most
    :data:`~thrifty.data.problems.MAX_QUESTION_CHARS` characters and its solution has a ``\\boxed{}`` answer (all
    boxes agreeing) that math-verify parses to a value within the verifier's time bound. Dropped rows are
    counted by reason, e.g. ``missing field 'solution'``, ``question is not a string``, ``question too long``,
    ``no boxed answer``, ``several different boxed answers``, ``answer too long``, ``answer is prose`` (a
    ``\\text{}`` of several words), ``answer not parseable``, ``invalid JSON``, ``not valid UTF-8``. Repeated
    ids are made unique (:func:`thrifty.data.files.unique_ids`).

    Args:
        source (`str`): a local ``.jsonl``/``.parquet`` file or a hub dataset id (e.g. ``AI-MO/NuminaMath-CoT``).
        split (`str`, defaults to ``"train"``): the hub split.
        limit (`int`, *optional*): stop after this many kept rows.
        pool (:class:`thrifty.verify.VerifierPool`, *optional*): reuse a pool; a temporary one otherwise.

    Returns:
        ``(problems, report)``; the report is also logged.
    """
    path = Path(source)
    bad: list[tuple[int, str]] = []
    if path.suffix in DATA_SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"training prompt file not found: {path}")
        rows = file_rows(path, bad)
    else:
        rows = hub_rows(str(source), None, split)
    report = DropReport()
    candidates: list[tuple[int, Problem]] = []
    for line_number, row in rows:
        try:
            candidates.append((line_number, _numina_problem(row, line_number - 1)))
        except BadRow as error:
            report.add(str(error), line_number)
    for line_number, why in bad:
        report.add(why, line_number)
    owned = pool is None
    pool = pool or VerifierPool()
    try:
        parse_ok = pool.parses([p.gold for _, p in candidates])
    finally:
        if owned:
            pool.close()
    checkable = []
    for (line_number, problem), ok in zip(candidates, parse_ok, strict=True):
        if ok:
            checkable.append((line_number, problem))
        else:
            report.add("answer not parseable", line_number)
    problems = unique_ids(checkable, str(source))[:limit]
    report.kept = len(problems)
    logger.log(logging.WARNING if report.dropped else logging.INFO, "training prompts from %s: %s", source, report)
    return problems, report


def training_problems(
    source: str, split: str = "train", limit: int | None = None, per_level: int = 1000
) -> list[Problem]:
    """The prompts to train on: the training split of the benchmark ``source`` names (``per_level`` prompts per
    difficulty level), else a Numina-style set (a hub dataset id or a local file) filtered by
    :func:`load_training_prompts`; at most ``limit``."""
    benchmark = get_benchmark(source)
    if benchmark is not None and benchmark.train is not None:
        problems = one_problem_per_id(benchmark.train(per_level), f"the training split of {source!r}")
    elif benchmark is not None:
        raise ValueError(f"benchmark {source!r} has no training split; train on a data file or a hub dataset instead")
    elif "/" not in source and Path(source).suffix not in DATA_SUFFIXES:  # not a hub id (org/name), not a file
        raise ValueError(f"unknown prompt set {source!r}; benchmarks: {', '.join(benchmark_names())} {NOT_FOUND_HINT}")
    else:
        problems, report = load_training_prompts(source, split=split, limit=limit)
        logger.info("training prompts: %s", report)
    if limit is not None:
        problems = problems[:limit]
    if not problems:
        raise ValueError(f"no usable training prompts in {source!r}")
    return problems
