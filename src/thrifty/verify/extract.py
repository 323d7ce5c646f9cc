"""Final answers in responses, pure: where a response commits to an answer, as each verifier mode reads it.

Linear-time scans with no parsing of the answer itself; equivalence is :mod:`thrifty.verify.rules`' job. Pure and
safe to call anywhere, but :class:`~thrifty.verify.pool.VerifierPool` runs them in its workers, so that the time
bound and the memory cap of a check cover the extraction too: a response may be 100 MB of model output.
"""

from __future__ import annotations

import numbers
import re
from collections import deque
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Literal


Mode = Literal["math-verify", "paper-compat"]
MODES: tuple[str, ...] = ("math-verify", "paper-compat")

MAX_ANSWER_CHARS = 1000
"""Longest final answer (characters) that is checked at all; MATH500's longest gold answer has 60."""


_MAX_GOLD_EXPONENT = 4000  # a float's is at most 324; a Decimal gold past this is a data bug, not an answer

_BRACE_RUNS = re.compile(r"\\(?:boxed|fbox)\s*\{|\{+|\}+")  # a box opening, or a run of "{" or of "}"
_BOXED_SPACE = re.compile(r"\\boxed +([^\s$]+)")  # "\boxed 5" (no braces), as some models write it
_THE_ANSWER_IS = re.compile(r"[Tt]he (?:final )?answer is[:\s]*\$?([^\n$]+?)\$?(?:\.\s|\.$|\n|$)")
_NUMBER = re.compile(r"-?\d*\.?\d+")


def _last(matches: Iterator[re.Match]) -> re.Match | None:
    """The last of ``matches`` (None if there are none), holding one at a time."""
    last = deque(matches, maxlen=1)
    return last[0] if last else None


def _boxed_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of the content of every complete ``\\boxed{...}`` / ``\\fbox{...}``, in the order the
    boxes close (sort by start for reading order).

    A ``}`` closes the nearest open ``{``; one at depth 0 closes nothing. The depth is an int and the stack holds
    the open *boxes* only, so memory is O(open boxes) whatever the braces, and a run of braces is one regex match:
    100 MB of ``{`` after a ``\\boxed{`` is a few steps, not a 4 GB stack. Matches the old char-by-char scan,
    which tests/test_verify_properties.py keeps as the reference.
    """
    depth = 0
    open_boxes: list[tuple[int, int]] = []  # (content start, depth outside the box), innermost last
    for token in _BRACE_RUNS.finditer(text):
        first, end = token.start(), token.end()
        if text[first] == "\\":  # a box opening, its "{" included
            open_boxes.append((end, depth))
            depth += 1
        elif text[first] == "{":
            depth += end - first
        else:  # a run of "}": the i-th one takes the depth to depth - 1 - i, until it reaches 0
            left = depth - min(end - first, depth)
            while open_boxes and open_boxes[-1][1] >= left:
                start, outside = open_boxes.pop()
                yield start, first + depth - 1 - outside
            depth = left


def extract_boxed_answer(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, stripped.

    Nested braces are matched; an unterminated last box falls back to the previous complete one. Linear time,
    memory O(number of boxes).

    Example:
        >>> extract_boxed_answer(r"so $x = \\boxed{\\frac{1}{2}}$. Check: \\boxed{3}")
        '3'
        >>> extract_boxed_answer("no box here") is None
        True
    """
    if not isinstance(text, str):
        return None
    last = max(_boxed_spans(text), default=None)  # the last box to open (an inner one, if boxes nest)
    if last is not None:
        return text[last[0] : last[1]].strip()
    spaced = _last(_BOXED_SPACE.finditer(text))
    return spaced.group(1) if spaced else None


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
    return [text[a:b].strip() for a, b in sorted(_boxed_spans(text))] if isinstance(text, str) else []


def gold_text(gold: object) -> str:
    """A gold answer as the text the verifier compares with: ``str`` as it is, a number in its exact plain form.

    Golds read from JSON may be numbers; ``5`` must mean ``"5"``. Integers (any ``numbers.Integral``, e.g.
    numpy's) go through ``str``; floats through their shortest round-tripping ``repr``; ``Decimal`` exactly;
    ``Fraction`` as ``"p/q"``. Numbers are written without an exponent because math-verify reads the ``e`` of
    ``1e+20`` as Euler's number. A ``bool`` is refused: a JSON ``false`` gold is a data bug, not the number 0.

    Raises:
        TypeError: for ``bool`` and any type other than the above (the message names it).
        ValueError: for a NaN or infinite number, or a ``Decimal`` too large to write out.

    Example:
        >>> [gold_text(x) for x in ("(1, 2)", 5, 0.1, 1e20, Decimal("2.50"), Fraction(-1, 2))]
        ['(1, 2)', '5', '0.1', '100000000000000000000', '2.50', '-1/2']
        >>> gold_text(False)
        Traceback (most recent call last):
        ...
        TypeError: a gold answer must be a str, int, float, Decimal or Fraction, got bool (False)
    """
    if isinstance(gold, str):
        return gold
    if isinstance(gold, bool) or not isinstance(gold, numbers.Integral | float | Decimal | Fraction):
        raise TypeError(
            f"a gold answer must be a str, int, float, Decimal or Fraction, got {type(gold).__name__} ({gold!r})"
        )
    if isinstance(gold, numbers.Integral):
        return str(int(gold))
    if isinstance(gold, Fraction):
        return str(gold)
    exact = Decimal(repr(float(gold))) if isinstance(gold, float) else gold  # float(): numpy 2 reprs differ
    if not exact.is_finite() or abs(exact.adjusted()) > _MAX_GOLD_EXPONENT:
        raise ValueError(
            f"a numeric gold answer must be finite, its exponent within ±{_MAX_GOLD_EXPONENT}, got {gold!r}"
        )
    return format(exact, "f")


def clean(text: str) -> str:
    """Drop what cannot cross a process boundary or be parsed (lone surrogates, NULs)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
