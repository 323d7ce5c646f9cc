"""What thrifty evaluates and trains on: a :class:`Problem`, a :class:`Benchmark` (a named set of them), and what a
row's values must be to become a problem.

Every loader reads a row's values through :func:`row_field`, :func:`row_id`, :func:`question_text` and
:func:`gold_text`, so the rules are the same for every benchmark and file: a question is a string, a gold answer a
string or a number, both non-empty, valid Unicode and bounded in length; anything else is a :class:`BadRow` whose
message names the field and what was found there. Types and row rules only; :mod:`thrifty.data.registry` knows
which benchmarks exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thrifty.verify import MAX_ANSWER_CHARS
from thrifty.verify.extract import gold_text as number_text


MAX_QUESTION_CHARS = 100_000
"""Longest question (characters, after stripping) a loader accepts. The longest in the public benchmarks has 1,733
(MATH500) and the organism's have a dozen, so a longer one is a broken row, not a hard problem -- and tokenizing
tens of megabytes aborts an evaluation, again on every resume."""


@dataclass(frozen=True)
class Problem:
    """One question with its reference answer.

    Attributes:
        id (`str`): stable identifier of the problem within its benchmark (e.g. MATH500's ``unique_id``, GSM8K's
            row index): results are keyed by it. Rows read from data get unique ids
            (:func:`thrifty.data.files.unique_ids`); sets made by code may repeat a problem, never an id for
            another problem (:func:`one_problem_per_id`).
        question (`str`): the problem statement.
        gold (`str`): the reference final answer, as a string (LaTeX allowed).
        level (`int` or `None`): difficulty level where the benchmark has one (MATH500: 1-5).
        oracle_tokens (`int` or `None`): tokens of the shortest correct response, where that is known exactly
            (the organism's problems); evaluations then report length against this optimum.
        messages (`tuple[tuple[str, str], ...]` or `None`): a conversational row's prompt (TRL's conversational
            format), as ``(role, content)`` pairs ending with the user's turn; the model is then given these
            messages through its chat template, and ``question`` is the last user message (what reports show).
            None for a plain question, which goes into a prompt template
            (:func:`thrifty.data.prompts.render_prompt`).
    """

    id: str
    question: str
    gold: str
    level: int | None = None
    oracle_tokens: int | None = None
    messages: tuple[tuple[str, str], ...] | None = None

    def chat(self) -> list[dict[str, str]] | None:
        """The conversational prompt as chat messages (``[{"role": ..., "content": ...}]``), or None.

        Example:
            >>> Problem("0", "12+30", "42", messages=(("user", "12+30"),)).chat()
            [{'role': 'user', 'content': '12+30'}]
        """
        if self.messages is None:
            return None
        return [{"role": role, "content": content} for role, content in self.messages]


def problem_key(problem: Problem) -> list:
    """What identifies a problem's prompt, for fingerprints of a set of problems: ``[id, question]``, and its
    messages when it has them (a conversational row whose system message changed is another prompt).

    Example:
        >>> problem_key(Problem("0", "12+30", "42"))
        ['0', '12+30']
        >>> problem_key(Problem("0", "12+30", "42", messages=(("system", "Be brief."), ("user", "12+30"))))
        ['0', '12+30', [['system', 'Be brief.'], ['user', '12+30']]]
    """
    key = [problem.id, problem.question]
    if problem.messages is not None:
        key.append([list(message) for message in problem.messages])
    return key


class BadRow(ValueError):
    """A row that cannot become a :class:`Problem`.

    The message is the reason, then details in parentheses (``question too long (120000 characters; limit
    100000)``); the part before `` (`` is the reason's category, which
    :class:`~thrifty.data.training.DropReport` counts.
    """


@dataclass(frozen=True)
class Benchmark:
    """A named set of problems and how it is evaluated.

    Attributes:
        name (`str`): what ``--benchmark`` (and ``--prompts``, with a training split) call it.
        load (`Callable[[str | None], list[Problem]]`): ``load(data_dir)`` -> the problems, in a fixed order;
            ``data_dir`` is a folder of local copies, or None for the Hugging Face Hub.
        default_samples (`int`): responses per problem unless ``--samples`` says otherwise (the paper's k).
        prompt_template (`str`, *optional*): its prompt, with a ``{question}`` slot; None = the paper's.
        generated (`bool`): made by code, so it loads with neither files nor network (a report can always show
            its questions).
        train (`Callable[[int], list[Problem]]`, *optional*): ``train(per_level)`` -> training prompts disjoint
            from ``load``'s, for benchmarks that have a training split.
        behaviour (`Callable[[str], str]`, *optional*): ``behaviour(response)`` -> a label of what the response
            did (the organism: ``shortcut`` or ``columns+k``), for benchmarks whose responses can be read that
            way; evaluations then account accuracy and tokens per behaviour.
        forced (`dict[str, str]`): the behaviour each response prefix forces (``{">": "shortcut"}``), to measure
            its skill on every problem with ``--response_prefix``.
        end_of_thinking (`str`, *optional*): the text that ends a response's thinking, for models without a
            ``</think>`` token (the organism: ``>``, where its answer starts): what ``--no_thinking`` prefills.
    """

    name: str
    load: Callable[[str | None], list[Problem]]
    default_samples: int = 1
    prompt_template: str | None = None
    generated: bool = False
    train: Callable[[int], list[Problem]] | None = None
    behaviour: Callable[[str], str] | None = None
    forced: dict[str, str] = field(default_factory=dict)
    end_of_thinking: str | None = None


# --------------------------------------------------------------------------------------------- row values
def _kind(value: Any) -> str:
    """``[1]`` -> ``"a list"``, ``3`` -> ``"an int"``: what was found, for a message."""
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def row_field(row: dict, *names: str) -> tuple[Any, str]:
    """``(value, where)`` of the first of ``names`` that ``row`` has a value for (None and blank strings count
    as none), ``where`` naming the field for messages (``"field 'problem'"``).

    Example:
        >>> row_field({"problem": " ", "question": "1+1?"}, "problem", "question")
        ('1+1?', "field 'question'")
    """
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value, f"field {name!r}"
    blank = any(row.get(name) is not None for name in names)
    raise BadRow(f"{'empty' if blank else 'missing'} field {' / '.join(repr(name) for name in names)}")


def require_string(value: Any, what: str, where: str) -> str:
    """``value`` if it is a string, else a :class:`BadRow` naming ``what`` it should be and ``where`` it was."""
    if not isinstance(value, str):
        raise BadRow(f"{what} is not a string ({where} is {_kind(value)})")
    return value


def _bounded(text: str, what: str, where: str, limit: int) -> str:
    """``text`` stripped, if it is non-empty, at most ``limit`` characters and valid Unicode (no lone surrogate,
    which a JSON escape like ``\\ud800`` can make and which neither a tokenizer nor a UTF-8 file can take)."""
    text = text.strip()
    if not text:
        raise BadRow(f"empty {what} ({where})")
    if len(text) > limit:
        raise BadRow(f"{what} too long ({len(text)} characters; limit {limit})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadRow(
            f"{what} is not valid Unicode ({where} has a lone surrogate U+{ord(text[error.start]):04X} "
            f"at character {error.start + 1})"
        ) from None
    return text


def question_text(value: Any, where: str) -> str:
    """A question as a :class:`Problem` holds it: a string, stripped, non-empty, at most
    :data:`MAX_QUESTION_CHARS` characters; anything else is a :class:`BadRow`.

    Example:
        >>> question_text("  What is 1+1? ", "field 'question'")
        'What is 1+1?'
        >>> question_text(["What", "is", "1+1?"], "field 'question'")
        Traceback (most recent call last):
        ...
        thrifty.data.problems.BadRow: question is not a string (field 'question' is a list)
    """
    return _bounded(require_string(value, "question", where), "question", where, MAX_QUESTION_CHARS)


def gold_text(value: Any, where: str) -> str:
    """A gold answer as a :class:`Problem` holds it: a string, or a finite int/float written as one (``27.0`` ->
    ``"27.0"``), stripped, non-empty, at most :data:`~thrifty.verify.MAX_ANSWER_CHARS` characters (longer ones are
    never checked). A bool, list, dict, NaN or infinity is a :class:`BadRow`, not a stringified gold.

    Example:
        >>> gold_text(" 18 ", "field 'answer'"), gold_text(27.0, "field 'answer'")
        ('18', '27.0')
        >>> gold_text(False, "field 'answer'")
        Traceback (most recent call last):
        ...
        thrifty.data.problems.BadRow: answer is not a string or number (field 'answer' is a bool)
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRow(f"answer is not a string or number ({where} is {_kind(value)})")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRow(f"answer is not a finite number ({where} is {value})")
    # a number in the verifier's exact plain form: str() would write 0.00001 as 1e-05, whose "e" math-verify reads
    # as Euler's number
    return _bounded(value if isinstance(value, str) else number_text(value), "answer", where, MAX_ANSWER_CHARS)


def row_id(row: dict, index: int, *names: str) -> str:
    """The id ``row`` gives in the first of ``names`` it has (a string or a finite number, written as a string
    unchanged), else its 0-based ``index`` -- the default every loader has always used, so results keyed by it
    stay valid. An id of another type, or an empty one, is a :class:`BadRow`.

    Example:
        >>> row_id({"id": 7}, 0, "id"), row_id({"question": "1+1?"}, 3, "id")
        ('7', '3')
    """
    for name in names:
        value = row.get(name)
        if value is None:
            continue
        where = f"field {name!r}"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadRow(f"id is not a string or number ({where} is {_kind(value)})")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadRow(f"id is not a finite number ({where} is {value})")
        text = str(value)
        _bounded(text, "id", where, MAX_QUESTION_CHARS)  # checked, but returned unstripped: ids are kept as written
        return text
    return str(index)


def one_problem_per_id(problems: list[Problem], source: str) -> list[Problem]:
    """``problems``, if no id names two different problems; else a ValueError naming the ids and their positions.

    For sets made by code (a registered benchmark's ``load`` or ``train``), where rows read from data get
    :func:`thrifty.data.files.unique_ids` instead. Results are keyed by id, so one id for two problems is a bug in
    the package that made them: it is refused, to be fixed there, not renamed here. A problem may repeat under its
    id: the organism repeats its level-1 prompts so that every level is as frequent in training.

    Example:
        >>> one_problem_per_id([Problem("a", "1+1?", "2"), Problem("a", "2+2?", "4")], "benchmark 'mine'")
        Traceback (most recent call last):
        ...
        ValueError: benchmark 'mine' gives one id to different problems: 'a' at positions 1 and 2; results are ...
    """
    first: dict[str, tuple[int, Problem]] = {}
    clashes = []
    for position, problem in enumerate(problems, start=1):
        held_at, held = first.setdefault(problem.id, (position, problem))
        if held != problem:
            clashes.append(f"{problem.id!r} at positions {held_at} and {position}")
    if clashes:
        raise ValueError(
            f"{source} gives one id to different problems: {first_ten(clashes)}; results are keyed by id, so give "
            "each problem its own id in the package that makes them"
        )
    return problems


def first_ten(items: list[str]) -> str:
    """The first ten of ``items`` joined for a message, and how many more there are.

    Example:
        >>> first_ten([f"line {n}" for n in range(1, 13)])
        'line 1; line 2; line 3; line 4; line 5; line 6; line 7; line 8; line 9; line 10; and 2 more'
    """
    more = f"; and {len(items) - 10} more" if len(items) > 10 else ""
    return "; ".join(items[:10]) + more
