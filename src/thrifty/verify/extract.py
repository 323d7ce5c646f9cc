"""Final answers in responses, pure: where a response commits to an answer, as each verifier mode reads it.

Linear-time scans with no parsing of the answer itself; equivalence is :mod:`thrifty.verify.rules`' job.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from typing import Literal


Mode = Literal["math-verify", "paper-compat"]
MODES: tuple[str, ...] = ("math-verify", "paper-compat")

MAX_ANSWER_CHARS = 1000
"""Longest final answer (characters) that is checked at all; MATH500's longest gold answer has 60."""


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOXED_SPACE = re.compile(r"\\boxed +([^\s$]+)")  # "\boxed 5" (no braces), as some models write it
_THE_ANSWER_IS = re.compile(r"[Tt]he (?:final )?answer is[:\s]*\$?([^\n$]+?)\$?(?:\.\s|\.$|\n|$)")
_NUMBER = re.compile(r"-?\d*\.?\d+")


def _last(matches: Iterator[re.Match]) -> re.Match | None:
    """The last of ``matches`` (None if there are none), holding one at a time."""
    last = deque(matches, maxlen=1)
    return last[0] if last else None


def _boxed_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the content of every complete ``\\boxed{...}`` / ``\\fbox{...}``, ordered by start.

    One pass with a stack of open braces and no copying, so 20,000 nested or unterminated boxes cost linear
    time and memory.
    """
    box_opens = {m.end() - 1 for m in _BOXED.finditer(text)}
    if not box_opens:
        return []
    spans: list[tuple[int, int]] = []
    stack: list[int] = []
    for i, char in enumerate(text):
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            start = stack.pop()
            if start in box_opens:
                spans.append((start + 1, i))
    return sorted(spans)


def extract_boxed_answer(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, stripped.

    Nested braces are matched; an unterminated last box falls back to the previous complete one. Linear time.

    Example:
        >>> extract_boxed_answer(r"so $x = \\boxed{\\frac{1}{2}}$. Check: \\boxed{3}")
        '3'
        >>> extract_boxed_answer("no box here") is None
        True
    """
    if not isinstance(text, str):
        return None
    spans = _boxed_spans(text)
    if spans:
        start, end = spans[-1]
        return text[start:end].strip()
    last = _last(_BOXED_SPACE.finditer(text))
    return last.group(1) if last else None


def extract_answer(text: str, mode: Mode = "math-verify") -> str | None:
    """The final answer a response commits to, as the given ``mode`` reads it (None if there is none).

    ``math-verify`` reads only the last boxed answer. ``paper-compat`` falls back, as the official evaluation
    does, to "the answer is X" and then to the last number in the text.
    """
    if not isinstance(text, str):
        return None
    boxed = extract_boxed_answer(text)
    if boxed is not None or mode == "math-verify":
        return boxed
    tail = text[-20_000:]  # the fallbacks look at the end of the response only: bounded work on huge inputs
    said = _last(_THE_ANSWER_IS.finditer(tail))
    if said:
        return said.group(1).strip()
    numbers = _NUMBER.findall(tail.replace(",", ""))
    return numbers[-1] if numbers else None


def all_boxed_answers(text: str) -> list[str]:
    """Contents of every complete ``\\boxed{...}`` in ``text``, in order (nested boxes each copied: use on
    trusted text such as dataset solutions; model output goes through :func:`extract_boxed_answer`)."""
    return [text[a:b].strip() for a, b in _boxed_spans(text)] if isinstance(text, str) else []


def clean(text: str) -> str:
    """Drop what cannot cross a process boundary or be parsed (lone surrogates, NULs)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
