"""A user's row -> :class:`~thrifty.data.problems.Problem`: one parser for training and evaluation.

The same file, folder or dataset works for ``thrifty train --prompts`` and ``thrifty eval --benchmark``. A row has

* a question in ``problem`` / ``question`` / ``prompt`` -- a string, or (TRL's conversational format) a list of
  ``{"role", "content"}`` chat messages ending with the user's turn;
* a gold answer in ``answer`` / ``gold`` / ``final_answer`` (a string or a number), else the ``\\boxed{}`` answer
  of ``solution`` (NuminaMath's form);
* optionally ``id`` (also ``unique_id`` / ``idx``), ``level`` and ``oracle_tokens``.

Other names are mapped with :class:`Columns` (``--question_column``, ``--answer_column``, ``--solution_column``).
Training is stricter (``strict=True``): every ``\\boxed{}`` of a solution must agree;
:func:`thrifty.data.training.load_training_prompts` also drops prose answers and answers the verifier cannot
parse. Only the ``prompt`` list is read as a conversation, never a ``messages``
column: NuminaMath-CoT's ``messages`` hold the worked solution as the assistant's turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thrifty.data.problems import (
    MAX_QUESTION_CHARS,
    BadRow,
    Problem,
    gold_text,
    question_text,
    require_string,
    row_field,
    row_id,
)
from thrifty.verify import all_boxed_answers


QUESTION_FIELDS = ("problem", "question", "prompt")
ANSWER_FIELDS = ("answer", "gold", "final_answer")
SOLUTION_FIELDS = ("solution",)
ID_FIELDS = ("id", "unique_id", "idx")
ROLES = ("system", "developer", "user", "assistant")
"""Roles a conversational prompt's messages may have (what chat templates render)."""

SCHEMA_HINT = (
    "a row needs a question in 'problem'/'question'/'prompt' (a string, or a list of chat messages in 'prompt') "
    "and a gold answer in 'answer'/'gold'/'final_answer' or a \\boxed{} answer in 'solution'; or map your columns "
    "with --question_column/--answer_column/--solution_column"
)
"""What a row must hold, for messages about rows that do not."""


@dataclass(frozen=True)
class Columns:
    """Which columns of a row hold the question, the gold answer and the worked solution; None = the defaults
    (:data:`QUESTION_FIELDS`, :data:`ANSWER_FIELDS`, :data:`SOLUTION_FIELDS`).

    A mapped answer column replaces the default answer *and* solution fields (unless ``solution`` is mapped too):
    the gold then comes from that column only.
    """

    question: str | None = None
    answer: str | None = None
    solution: str | None = None

    def question_fields(self) -> tuple[str, ...]:
        return (self.question,) if self.question else QUESTION_FIELDS

    def answer_fields(self) -> tuple[str, ...]:
        return (self.answer,) if self.answer else ANSWER_FIELDS

    def solution_fields(self) -> tuple[str, ...]:
        if self.solution:
            return (self.solution,)
        return () if self.answer else SOLUTION_FIELDS

    def mapped(self) -> dict[str, str]:
        """``{flag: column}`` of the columns given (``{"--question_column": "query"}``)."""
        given = {"question": self.question, "answer": self.answer, "solution": self.solution}
        return {f"--{what}_column": column for what, column in given.items() if column}


DEFAULT_COLUMNS = Columns()


def _names(fields: tuple[str, ...]) -> str:
    return " / ".join(repr(name) for name in fields)


def conversation(value: list, where: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """``(messages, question)`` of a conversational prompt: a list of ``{"role", "content"}`` messages, each a
    known role (:data:`ROLES`) with non-empty string content, ending with the user's turn; the question is that
    last user message. Anything else is a :class:`BadRow`.

    Example:
        >>> conversation([{"role": "system", "content": "Be brief."}, {"role": "user", "content": " 12+30 "}], "x")
        ((('system', 'Be brief.'), ('user', '12+30')), '12+30')
    """
    if not value:
        raise BadRow(f"empty conversation ({where} is an empty list)")
    messages = []
    for number, message in enumerate(value, start=1):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise BadRow(f"bad chat message ({where}, message {number}: role {role!r}; use one of {', '.join(ROLES)})")
        if not isinstance(content, str):
            raise BadRow(f"bad chat message ({where}, message {number}: content is not a string)")
        messages.append((role, question_text(content, f"{where}, message {number}")))
    if messages[-1][0] != "user":
        raise BadRow(f"conversation does not end with a user message ({where} ends with {messages[-1][0]!r})")
    total = sum(len(content) for _, content in messages)
    if total > MAX_QUESTION_CHARS:
        raise BadRow(f"question too long ({total} characters in {where}; limit {MAX_QUESTION_CHARS})")
    return tuple(messages), messages[-1][1]


def row_question(row: dict, columns: Columns = DEFAULT_COLUMNS) -> tuple[str, tuple | None]:
    """``(question, messages)`` of a row: a string question (messages None), or a conversation (a list of dicts:
    :func:`conversation`)."""
    value, where = row_field(row, *columns.question_fields())
    if isinstance(value, list) and value and all(isinstance(message, dict) for message in value):
        messages, question = conversation(value, where)
        return question, messages
    return question_text(value, where), None


def row_gold(row: dict, columns: Columns = DEFAULT_COLUMNS, strict: bool = False) -> tuple[str, bool]:
    """``(gold, boxed)``: a row's gold answer from its answer fields, else the last ``\\boxed{}`` of its solution
    (``boxed`` True). ``strict`` (training) refuses a solution whose boxes disagree."""
    answers, solutions = columns.answer_fields(), columns.solution_fields()
    try:
        value, where = row_field(row, *answers, *solutions)
    except BadRow as error:
        kind = "empty" if str(error).startswith("empty") else "missing"
        boxed = f" (or a \\boxed{{}} answer in {_names(solutions)})" if solutions else ""
        raise BadRow(f"{kind} field {_names(answers)}{boxed}") from None
    if where in {f"field {name!r}" for name in answers}:
        return gold_text(value, where), False
    boxed = all_boxed_answers(require_string(value, "solution", where))
    if not boxed or not boxed[-1].strip():
        raise BadRow(f"no boxed answer (no answer field, and no \\boxed{{}} in {where})")
    if strict and len(set(boxed)) > 1:
        raise BadRow("several different boxed answers")
    return gold_text(boxed[-1], f"the last \\boxed{{}} of {where}"), True


def row_level(value: Any) -> int | None:
    """MATH levels come as ``3`` or ``"Level 3"``; anything unparseable is None."""
    text = str(value).strip().lower().removeprefix("level").strip()
    if value is None or not (text.isascii() and text.isdigit()):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        return None


def row_oracle_tokens(value: Any) -> int | None:
    """A row's ``oracle_tokens`` (tokens of its shortest correct response, where known), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        tokens = int(value)
    except (ValueError, OverflowError):
        return None
    return tokens if tokens > 0 else None


def parse_row(row: dict, index: int, columns: Columns = DEFAULT_COLUMNS, strict: bool = False) -> Problem:
    """A user's row as a :class:`Problem` (see the module's docstring for the fields); a :class:`BadRow` saying why
    not. ``strict`` (training) refuses a solution whose ``\\boxed{}`` answers disagree.

    Example:
        >>> parse_row({"problem": "1+1?", "answer": 2}, 0)
        Problem(id='0', question='1+1?', gold='2', level=None, oracle_tokens=None, messages=None)
        >>> parse_row({"prompt": [{"role": "user", "content": "12+30"}], "final_answer": "42"}, 3).messages
        (('user', '12+30'),)
    """
    question, messages = row_question(row, columns)
    gold, _ = row_gold(row, columns, strict)
    return Problem(
        row_id(row, index, *ID_FIELDS),
        question,
        gold,
        row_level(row.get("level")),
        row_oracle_tokens(row.get("oracle_tokens")),
        messages,
    )


class SeenColumns:
    """The column names rows had (in order of first appearance), to say what a dataset holds when its rows lack
    the fields thrifty reads, and to refuse a mapped column no row has."""

    def __init__(self):
        self.names: dict[str, None] = {}

    def add(self, row: dict) -> None:
        if len(self.names) < 1000:  # a row of a million keys must not make the message a million names long
            self.names.update(dict.fromkeys(map(str, row)))

    def listed(self) -> str:
        names = list(self.names)
        more = f", and {len(names) - 20} more" if len(names) > 20 else ""
        return ", ".join(names[:20]) + more if names else "none"

    def check(self, columns: Columns, source: str) -> None:
        """A ValueError naming the flag and the columns the data has, when a mapped column is in no row."""
        if not self.names:
            return
        for flag, column in columns.mapped().items():
            if column not in self.names:
                raise ValueError(
                    f"{flag} {column!r}: no row of {source} has that column; its columns: {self.listed()}"
                )

    def hint(self) -> str:
        """The accepted schemas and this data's columns, for a report of rows missing a field."""
        return f"{SCHEMA_HINT} (the rows have the columns: {self.listed()})"


def missing_a_field(reasons) -> bool:
    """Whether any of ``reasons`` (bad-row messages) is a missing or empty field: the case a schema hint helps."""
    return any(str(reason).startswith(("missing field", "empty field")) for reason in reasons)
