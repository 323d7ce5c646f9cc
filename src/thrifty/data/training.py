"""Training prompts: a benchmark's training split (the organism's), or any set of rows with checkable answers --
the same files, folders and Hub datasets ``thrifty eval`` reads (:mod:`thrifty.data.rows`).

Does not generate or score anything; :func:`load_training_prompts` asks :mod:`thrifty.verify` only whether each
gold answer is checkable at all.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from thrifty.data.files import (
    DATASET_OFFLINE_HINT,
    dataset_rows,
    file_rows,
    hub_rows,
    is_data_file,
    is_hub_id,
    unique_ids,
)
from thrifty.data.problems import BadRow, Problem, one_problem_per_id
from thrifty.data.public import HUB, PARSERS, hub_alias
from thrifty.data.registry import NOT_FOUND_HINT, benchmark_names, get_benchmark
from thrifty.data.rows import DEFAULT_COLUMNS, Columns, SeenColumns, missing_a_field, parse_row
from thrifty.verify import VerifierPool


logger = logging.getLogger(__name__)

_PROSE = re.compile(r"\\(?:text|textbf|mbox)\{[^}]*[A-Za-z]+\s+[A-Za-z]+[^}]*\}")
"""A ``\\text{...}`` of several words ("Proof is complete", "No solution"): not a single checkable value."""


@dataclass
class DropReport:
    """Why rows of a training set were dropped: ``counts[reason] = n`` and up to 10 example lines per reason."""

    kept: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)
    hint: str = ""
    """What rows must hold and what these rows have, when some missed a field."""
    max_rows: int | None = None
    """``--max_rows``: only the first rows of the set were read."""
    rows: int | None = None
    """How many rows were read, with ``max_rows`` (fewer when the set has fewer)."""

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
        hint = f". {self.hint[0].upper()}{self.hint[1:]}" if self.hint else ""
        read = ""
        if self.max_rows is not None:
            some = f"the first {self.rows}" if self.rows == self.max_rows else f"all {self.rows}"
            read = f"read {some} rows (--max_rows {self.max_rows}): "
        return f"{read}kept {self.kept}, dropped {self.dropped}" + (f" -- {reasons}" if reasons else "") + hint


def first_rows(rows: Iterable[tuple[int, dict]], bad: list[tuple[int, str]], n: int) -> list[tuple[int, dict]]:
    """The first ``n`` rows of a set, before any filtering (OpenRLHF's ``--max_samples``): a row the reader put in
    ``bad`` (not JSON, not UTF-8) counts where it falls, so it is dropped, not replaced by a later row. ``rows`` is
    read no further than needed, and ``bad`` keeps only its lines among those ``n`` rows.

    Example:
        >>> def reader(bad):  # line 2 is not JSON
        ...     yield 1, {"q": "a"}
        ...     bad.append((2, "invalid JSON"))
        ...     yield 3, {"q": "c"}
        >>> bad = []
        >>> first_rows(reader(bad), bad, 2), bad
        ([(1, {'q': 'a'})], [(2, 'invalid JSON')])
    """
    before = len(bad)
    taken = []
    for line_number, row in rows:
        if len(taken) + len(bad) - before >= n:
            break
        taken.append((line_number, row))
    excess = len(taken) + len(bad) - before - n
    if excess > 0:  # bad lines read past the n-th row
        del bad[len(bad) - excess :]
    return taken


def shuffle_permutation(n: int, seed: int) -> list[int]:
    """The order ``datasets``' ``Dataset.shuffle(seed=seed)`` puts ``n`` rows in: its ``j``-th row is row
    ``permutation[j]`` (NumPy's ``default_rng(seed).permutation(n)``, which that shuffle draws). OpenRLHF's
    ``blending_datasets`` shuffles the prompts so, with seed 42, after selecting its ``--max_samples`` rows.

    Example:
        >>> shuffle_permutation(5, 42)
        [4, 2, 3, 1, 0]
    """
    import numpy as np

    return np.random.default_rng(seed).permutation(n).tolist()


def check_max_rows(max_rows: int | None) -> None:
    """``--max_rows`` is None (every row) or a whole number >= 1."""
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise ValueError(f"--max_rows must be a whole number >= 1 (the prompt set's first N rows), got {max_rows!r}")


def load_training_prompts(
    source: str | os.PathLike,
    split: str | None = "train",
    limit: int | None = None,
    pool=None,
    config: str | None = None,
    columns: Columns = DEFAULT_COLUMNS,
    max_rows: int | None = None,
    shuffle_seed: int | None = None,
) -> tuple[list[Problem], DropReport]:
    """Load a set of training prompts and keep rows with one checkable final answer.

    Rows are read as for evaluation (:func:`thrifty.data.rows.parse_row`: a question in ``problem`` /
    ``question`` / ``prompt``, a gold answer in ``answer`` / ``gold`` / ``final_answer`` or the ``\\boxed{}`` of a
    NuminaMath-style ``solution``), with training's filters on top: all the boxes of a solution agree, the answer
    is not prose (a ``\\text{}`` of several words), and math-verify parses it within the verifier's time bound.
    Dropped rows are counted by reason, e.g. ``missing field 'answer' / 'gold' / 'final_answer'``, ``question is
    not a string``, ``question too long``, ``no boxed answer``, ``several different boxed answers``, ``answer too
    long``, ``answer is prose``, ``answer not parseable``, ``invalid JSON``, ``not valid UTF-8``; a report of
    missing fields names the accepted schemas and the columns the rows have. Repeated ids are made unique
    (:func:`thrifty.data.files.unique_ids`). With ``max_rows`` only the first rows are read, as OpenRLHF's
    ``--max_samples`` selects them (:func:`first_rows`); with ``shuffle_seed`` they are then put in the order
    OpenRLHF's ``blending_datasets`` shuffles them into (:func:`shuffle_permutation`), the dropped rows keeping
    their places; ``limit`` then keeps the first usable ones.

    Args:
        source (`str`): a local ``.jsonl``/``.json``/``.parquet`` file, a ``datasets.save_to_disk`` folder (or a
            folder of data files), or a Hub dataset id (e.g. ``AI-MO/NuminaMath-CoT``); a public benchmark's Hub
            id (``openai/gsm8k``) is read with that benchmark's parser and config.
        split (`str`, defaults to ``"train"``): the split of a Hub dataset or a saved DatasetDict.
        limit (`int`, *optional*): stop after this many kept rows.
        pool (:class:`thrifty.verify.VerifierPool`, *optional*): reuse a pool; a temporary one otherwise.
        config (`str`, *optional*): the config of a Hub dataset (``openai/gsm8k``: ``main``).
        columns (:class:`~thrifty.data.rows.Columns`, *optional*): other column names of the question, answer
            and solution (``--question_column``, ...); a mapped column that no row has is refused.
        max_rows (`int`, *optional*): read only the first ``max_rows`` rows, before any filtering; those that
            cannot be checked are dropped and reported, not replaced by later rows.
        shuffle_seed (`int`, *optional*): order the rows read as ``datasets``' ``Dataset.shuffle(seed=...)``
            does (before the unusable ones are dropped); file order otherwise.

    Returns:
        ``(problems, report)``; the report is also logged, once.
    """
    check_max_rows(max_rows)
    bad: list[tuple[int, str]] = []
    parse = partial(parse_row, columns=columns, strict=True)
    public = hub_alias(str(source))
    if is_data_file(source):
        if not Path(source).is_file():
            raise FileNotFoundError(f"training prompt file not found: {source}")
        rows = file_rows(Path(source), bad)
    elif public is not None and not columns.mapped():  # openai/gsm8k: GSM8K's rows, its config by default
        rows = hub_rows(str(source), config or HUB[public][1], split, DATASET_OFFLINE_HINT, "--prompts_split")
        parse = PARSERS[public]
    else:
        rows = dataset_rows(str(source), config, split, DATASET_OFFLINE_HINT, "--prompts")
    report, seen = DropReport(max_rows=max_rows), SeenColumns()
    if max_rows is not None:
        rows = first_rows(rows, bad, max_rows)
        report.rows = len(rows) + len(bad)
    candidates: list[tuple[int, Problem]] = []
    read = []
    for line_number, row in rows:
        read.append(line_number)
        seen.add(row)
        try:
            problem = parse(row, line_number - 1)
        except BadRow as error:
            report.add(str(error), line_number)
            continue
        if _PROSE.search(problem.gold):
            report.add("answer is prose", line_number)
        else:
            candidates.append((line_number, problem))
    seen.check(columns, str(source))
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
    problems = unique_ids(checkable, str(source))
    if shuffle_seed is not None:  # as if every row read was shuffled, then the unusable ones dropped
        lines = sorted(read + [line for line, _ in bad])
        rank = {lines[row]: j for j, row in enumerate(shuffle_permutation(len(lines), shuffle_seed))}
        ranks = [rank[line] for line, _ in checkable]
        problems = [p for _, p in sorted(zip(ranks, problems, strict=True), key=lambda pair: pair[0])]
    problems = problems[:limit]
    report.kept = len(problems)
    if missing_a_field(report.counts):
        report.hint = seen.hint()
    logger.log(logging.WARNING if report.dropped else logging.INFO, "training prompts from %s: %s", source, report)
    if shuffle_seed is not None and report.dropped:
        logger.warning(
            "%d rows were dropped: the sampler now permutes %d prompts, not the %d rows the official code shuffles, "
            "so the rollouts hold other prompts than its runs did",
            report.dropped,
            report.kept,
            report.kept + report.dropped,
        )
    return problems, report


def training_problems(
    source: str,
    split: str | None = "train",
    limit: int | None = None,
    per_level: int = 1000,
    config: str | None = None,
    columns: Columns = DEFAULT_COLUMNS,
    max_rows: int | None = None,
    shuffle_seed: int | None = None,
) -> list[Problem]:
    """The prompts to train on: the training split of the benchmark ``source`` names (``per_level`` prompts per
    difficulty level), else a data file, ``save_to_disk`` folder or Hub dataset (``config``, ``split``, column
    mapping ``columns``) filtered by :func:`load_training_prompts`. ``max_rows``: only the set's first rows, before
    any filtering (OpenRLHF's ``--max_samples``); ``shuffle_seed``: those rows in the order ``datasets``' shuffle
    with that seed gives them (:func:`shuffle_permutation`); ``limit``: at most that many usable prompts, the
    first ones."""
    check_max_rows(max_rows)
    benchmark = get_benchmark(source) if hub_alias(source) is None else None  # openai/gsm8k: a dataset like others
    if benchmark is not None and benchmark.train is not None:
        problems = one_problem_per_id(benchmark.train(per_level), f"the training split of {source!r}")[:max_rows]
        if shuffle_seed is not None:
            problems = [problems[i] for i in shuffle_permutation(len(problems), shuffle_seed)]
    elif benchmark is not None:
        public = f" (its Hub dataset's: --prompts {HUB[source][0]} --prompts_split train)" if source in HUB else ""
        raise ValueError(
            f"benchmark {source!r} has no training split; train on a data file, a save_to_disk folder or a Hub "
            f"dataset instead{public}"
        )
    elif not (is_data_file(source) or Path(source).is_dir() or is_hub_id(source)):
        raise ValueError(f"unknown prompt set {source!r}; benchmarks: {', '.join(benchmark_names())} {NOT_FOUND_HINT}")
    else:
        problems, _ = load_training_prompts(
            source,
            split=split,
            limit=limit,
            config=config,
            columns=columns,
            max_rows=max_rows,
            shuffle_seed=shuffle_seed,
        )
    if limit is not None:
        problems = problems[:limit]
    if not problems:
        raise ValueError(f"no usable training prompts in {source!r}; the warning above says why rows were dropped")
    return problems
