"""Problems in, prompts out: benchmark loaders, training prompt sets and the paper's prompt template.

Owns reading rows (local JSONL/parquet files or Hugging Face Hub datasets) and turning them into
:class:`Problem` records with a string gold answer. Does not generate, verify or score anything, except that
:func:`load_training_prompts` asks :mod:`thrifty.verify` whether an answer is checkable.

Bad rows (invalid JSON, missing fields, empty answers) are skipped and reported in one warning with their line
numbers; a missing file or an unknown benchmark name is a :class:`FileNotFoundError` / :class:`ValueError` that
says what was looked for.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from thrifty.verify import all_boxed_answers

logger = logging.getLogger(__name__)

PAPER_PROMPT_TEMPLATE = "Please reason step by step, and put your final answer within \\boxed{{}}. Question: {question}"
"""The prompt of Arora & Zanette (2025) and its official evaluation; ``{question}`` is filled in."""


@dataclass(frozen=True)
class Problem:
    """One question with its reference answer.

    Attributes:
        id (`str`): stable identifier within its benchmark (e.g. MATH500's ``unique_id``, GSM8K's row index).
        question (`str`): the problem statement.
        gold (`str`): the reference final answer, as a string (LaTeX allowed).
        level (`int` or `None`): difficulty level where the benchmark has one (MATH500: 1-5).
    """

    id: str
    question: str
    gold: str
    level: int | None = None


class BadRow(ValueError):
    """A row that cannot become a :class:`Problem`; the message says why."""


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
    return Problem(str(row.get("id", index)), _text(_field(row, "question"), "question"), gsm8k_gold(_field(row, "answer")))


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
    return Problem(str(row_id), question, _text(gold, "answer"), _level(row.get("level")))


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a benchmark lives (hub and local file names) and how its rows become problems."""

    hub_id: str
    hub_config: str | None
    hub_split: str
    local_files: tuple[str, ...]
    parse_row: Callable[[dict, int], Problem]
    default_samples: int


BENCHMARKS: dict[str, BenchmarkSpec] = {
    "gsm8k": BenchmarkSpec("openai/gsm8k", "main", "test", ("gsm8k_test.jsonl", "gsm8k.jsonl", "gsm8k/test.jsonl"), _gsm8k, 1),
    "math500": BenchmarkSpec("HuggingFaceH4/MATH-500", None, "test", ("math500.jsonl", "math500/test.jsonl"), _math500, 3),
    "aime24": BenchmarkSpec("HuggingFaceH4/aime_2024", None, "train", ("aime24.jsonl", "aime24/test.jsonl"), _competition, 10),
    "amc23": BenchmarkSpec("math-ai/amc23", None, "test", ("amc23.jsonl", "amc23/test.jsonl"), _competition, 10),
}
"""Known benchmarks. ``default_samples`` is the paper's k (GSM8K 1, MATH500 3, AIME24 10; AMC23 as AIME)."""


# --------------------------------------------------------------------------------------------- row sources
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

    for index, row in enumerate(pq.read_table(path).to_pylist(), start=1):
        yield index, row


def _json_array_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    for index, row in enumerate(json.loads(path.read_text(encoding="utf-8")), start=1):
        if isinstance(row, dict):
            yield index, row
        else:
            bad.append((index, "not a JSON object"))


def _file_rows(path: Path, bad: list[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """Rows of a .jsonl, .json (a JSON array, or JSON lines) or .parquet file, numbered from 1."""
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


def _hub_rows(hub_id: str, config: str | None, split: str) -> Iterator[tuple[int, dict]]:
    """Rows of a Hugging Face Hub dataset (needs network or a warm ``HF_DATASETS_CACHE``)."""
    from datasets import load_dataset

    try:
        dataset = load_dataset(hub_id, config, split=split) if config else load_dataset(hub_id, split=split)
    except Exception as error:  # noqa: BLE001 -- re-raised with what we looked for
        raise FileNotFoundError(
            f"could not load dataset {hub_id!r} (split {split!r}) from the Hugging Face Hub: {error}. "
            "Offline? Pass --data-dir with local JSONL copies instead."
        ) from error
    for index, row in enumerate(dataset, start=1):
        yield index, dict(row)


def _parse_rows(rows: Iterator[tuple[int, dict]], parse_row, source: str, bad: list[tuple[int, str]]) -> list[Problem]:
    problems = []
    for line_number, row in rows:
        try:
            problems.append(parse_row(row, line_number - 1))
        except BadRow as error:
            bad.append((line_number, str(error)))
    _warn_bad_rows(bad, source)
    return problems


def _warn_bad_rows(bad: list[tuple[int, str]], source: str) -> None:
    if not bad:
        return
    shown = "; ".join(f"line {n}: {why}" for n, why in sorted(bad)[:10])
    more = f"; and {len(bad) - 10} more" if len(bad) > 10 else ""
    logger.warning("skipped %d bad row(s) in %s: %s%s", len(bad), source, shown, more)


# --------------------------------------------------------------------------------------------- benchmarks
def load_benchmark(name: str, data_dir: str | os.PathLike | None = None) -> list[Problem]:
    """Load a benchmark as a list of :class:`Problem`.

    Args:
        name (`str`): ``gsm8k``, ``math500``, ``aime24``, ``amc23``, ``organism`` (the CPU model organism's
            held-out problems, generated, see :mod:`thrifty.organism`); or a path to your own ``.jsonl`` /
            ``.parquet`` file (fields ``problem``/``question``, ``answer`` or a boxed ``solution``, optional
            ``id`` and ``level``).
        data_dir (`str`, *optional*): a folder with local copies (e.g. ``../shared/benchmarks``); file names
            tried are in :data:`BENCHMARKS`. Without it, the public dataset is loaded from the Hugging Face Hub
            with :func:`datasets.load_dataset`.

    Returns:
        `list[Problem]`, in file order. Bad rows are skipped with one warning that names their lines.

    Example:
        >>> problems = load_benchmark("math500", "../shared/benchmarks")  # doctest: +SKIP
        >>> len(problems), problems[0].gold, problems[0].level  # doctest: +SKIP
        (500, '\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)', 2)
    """
    bad: list[tuple[int, str]] = []
    if name == "organism":
        from .organism import eval_problems

        return eval_problems()
    spec = BENCHMARKS.get(name)
    if spec is None:
        path = Path(name)
        if path.suffix in (".jsonl", ".json", ".parquet"):
            if not path.is_file():
                raise FileNotFoundError(f"benchmark file not found: {path}")
            return _parse_rows(_file_rows(path, bad), _generic, str(path), bad)
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}, organism (or a path to a .jsonl/.parquet file)")
    if data_dir is None:
        return _parse_rows(_hub_rows(spec.hub_id, spec.hub_config, spec.hub_split), spec.parse_row, spec.hub_id, bad)
    directory = Path(data_dir)
    candidates = [directory / f for f in spec.local_files] + [directory / f"{name}.parquet"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"no file for benchmark {name!r} in {directory}; looked for: {', '.join(p.name for p in candidates)}"
        )
    return _parse_rows(_file_rows(path, bad), spec.parse_row, str(path), bad)


# --------------------------------------------------------------------------------------------- training prompts
@dataclass
class DropReport:
    """Why rows of a training set were dropped: ``counts[reason] = n`` and up to 10 example lines per reason."""

    kept: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)

    def add(self, reason: str, line_number: int) -> None:
        self.counts[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 10:
            self.examples[reason].append(line_number)

    @property
    def dropped(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        reasons = ", ".join(f"{reason}: {n} (e.g. lines {self.examples[reason]})" for reason, n in self.counts.most_common())
        return f"kept {self.kept}, dropped {self.dropped}" + (f" -- {reasons}" if reasons else "")


_PROSE = re.compile(r"\\(?:text|textbf|mbox)\{[^}]*[A-Za-z]+\s+[A-Za-z]+[^}]*\}")
"""A ``\\text{...}`` of several words ("Proof is complete", "No solution"): not a single checkable value."""


def load_training_prompts(
    source: str | os.PathLike,
    split: str = "train",
    limit: int | None = None,
    pool=None,
) -> tuple[list[Problem], DropReport]:
    """Load a NuminaMath-style set (``problem``, ``solution``) and keep rows with one checkable final answer.

    A row is kept when its solution has a ``\\boxed{}`` answer (all boxes agreeing) that math-verify parses to
    a value within the verifier's time bound. Dropped rows are counted by reason: ``missing field``,
    ``no boxed answer``, ``several different boxed answers``, ``answer too long``, ``answer is prose`` (a ``\\text{}`` of
    several words), ``answer not parseable``.

    Args:
        source (`str`): a local ``.jsonl``/``.parquet`` file or a hub dataset id (e.g. ``AI-MO/NuminaMath-CoT``).
        split (`str`, defaults to ``"train"``): the hub split.
        limit (`int`, *optional*): stop after this many kept rows.
        pool (:class:`thrifty.verify.VerifierPool`, *optional*): reuse a pool; a temporary one otherwise.

    Returns:
        ``(problems, report)``; the report is also logged.
    """
    from thrifty.verify import MAX_ANSWER_CHARS, VerifierPool

    path = Path(source)
    bad: list[tuple[int, str]] = []
    if path.suffix in (".jsonl", ".json", ".parquet"):
        if not path.is_file():
            raise FileNotFoundError(f"training prompt file not found: {path}")
        rows = _file_rows(path, bad)
    else:
        rows = _hub_rows(str(source), None, split)
    report = DropReport()
    candidates: list[tuple[int, Problem]] = []
    for line_number, row in rows:
        question, solution = row.get("problem") or row.get("question"), row.get("solution")
        if not question or not solution:
            report.add("missing field", line_number)
            continue
        boxed = all_boxed_answers(str(solution))
        if not boxed or not boxed[-1]:
            report.add("no boxed answer", line_number)
        elif len(set(boxed)) > 1:
            report.add("several different boxed answers", line_number)
        elif len(boxed[-1]) > MAX_ANSWER_CHARS:
            report.add("answer too long", line_number)
        elif _PROSE.search(boxed[-1]):
            report.add("answer is prose", line_number)
        else:
            row_id = row.get("id", line_number - 1)
            candidates.append((line_number, Problem(str(row_id), str(question).strip(), boxed[-1])))
    for line_number, why in bad:
        report.add(why.split(" (")[0], line_number)
    owned = pool is None
    pool = pool or VerifierPool()
    try:
        parse_ok = pool.parses([p.gold for _, p in candidates])
    finally:
        if owned:
            pool.close()
    problems = []
    for (line_number, problem), ok in zip(candidates, parse_ok):
        if not ok:
            report.add("answer not parseable", line_number)
        elif limit is None or len(problems) < limit:
            problems.append(problem)
    report.kept = len(problems)
    logger.log(logging.WARNING if report.dropped else logging.INFO, "training prompts from %s: %s", source, report)
    return problems, report


# --------------------------------------------------------------------------------------------- prompts
def default_template(benchmark: str) -> str:
    """The prompt template a benchmark is evaluated with: the paper's, or the bare question for the organism."""
    if benchmark == "organism":
        from .organism import PROMPT_TEMPLATE

        return PROMPT_TEMPLATE
    return PAPER_PROMPT_TEMPLATE


def build_prompt(question: str, tokenizer=None, template: str = PAPER_PROMPT_TEMPLATE) -> str:
    """The text a model is given for ``question``.

    The paper's template is filled in and, when ``tokenizer`` has a chat template, wrapped as one user turn
    with the assistant's turn opened (``add_generation_prompt=True``); otherwise the raw text is returned.
    The result already contains any BOS token the chat template adds, so tokenize it with
    ``add_special_tokens=False``.

    Example:
        >>> build_prompt("What is 1+1?")
        'Please reason step by step, and put your final answer within \\\\boxed{}. Question: What is 1+1?'
    """
    text = template.format(question=question)
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    return text
