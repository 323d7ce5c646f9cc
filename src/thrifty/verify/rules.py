"""Equivalence of an extracted answer and the gold one, in both modes. Runs inside the verifier's worker processes.

One time budget, the pool's: math-verify's own SIGALRM timeouts are switched off (``parsing_timeout=None``,
``timeout_seconds=None``). When one of them fires, math-verify logs a warning and returns ``[]`` or ``False``, which
cannot be told from a wrong answer, so a right answer that needed longer than the alarm was scored wrong, and more
often on a busy machine. Without them a check either finishes with its verdict or is killed by
:mod:`thrifty.verify.pool` and reported as timed out. An answer that math-verify cannot parse or compare is
False: that depends on the answer, not on the clock.

Numbers in paper-compat mode are compared exactly (:func:`numbers_equal`), never as floats.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction


def _math_verify_equal(answer: str, gold: str) -> bool:
    from math_verify import parse, verify

    gold_parsed = parse("\\boxed{" + gold + "}", parsing_timeout=None)
    answer_parsed = parse("\\boxed{" + answer + "}", parsing_timeout=None)
    if not gold_parsed or not answer_parsed:
        return False
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None))


_STRIP_COMMANDS = re.compile(r"\\(?:left|right|!|,|;|:|displaystyle|mathrm|mbox)(?![a-zA-Z])")
_TEXT_UNIT = re.compile(r"\\text\{\s*[a-zA-Z ]*\}\s*$")


def _normalize(answer: str) -> str:
    """Canonical string of a final answer, in the spirit of the official ``strip_string``."""
    s = answer.strip().replace("\n", "").rstrip(".").strip()
    s = _STRIP_COMMANDS.sub("", s)
    s = s.replace("dfrac", "frac").replace("tfrac", "frac").replace("^\\circ", "").replace("^{\\circ}", "")
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = _TEXT_UNIT.sub("", s) if not s.startswith("\\text") else s
    s = re.sub(r"\\text\{(.*?)\}", r"\1", s)
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)  # "x = 5" -> "5"
    s = s.replace(" ", "")
    if re.fullmatch(r"\.\d+", s):  # ".5" -> "0.5"
        s = "0" + s
    return s


# ------------------------------------------------------------------ exact numbers (paper-compat)
Number = tuple[Fraction, int]
"""An exact number ``m * 10**e`` as ``(m, e)`` with ``1 <= |m| < 10``, or ``(0, 0)``: one form per value, so
equality is tuple equality, and ``1e999999999`` costs no more than ``1``."""

_FRAC = re.compile(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}")
_RATIO = re.compile(r"(-?\d+)/(\d+)")
_DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_REL_TOL = Fraction(1, 10_000)  # the official math_equal's rel_tol=1e-4


def _scientific(value: Fraction, exponent: int) -> Number:
    """``value * 10**exponent`` in the one form of :data:`Number`."""
    if not value:
        return Fraction(0), 0
    shift = len(str(abs(value.numerator))) - len(str(value.denominator))  # 10**(shift-1) < |value| < 10**(shift+1)
    value /= Fraction(10) ** shift
    if abs(value) < 1:
        value, shift = value * 10, shift - 1
    return value, exponent + shift


def as_number(text: str) -> Number | None:
    """The exact value of a plain number: integer, decimal, scientific, ``a/b`` or ``\\frac{a}{b}``; else None.

    Never a float: ``1e309`` is 10**309, not ``inf`` (which equals every other ``inf``).

    Example:
        >>> as_number("1,250") == as_number("1.25e3") == as_number("2500/2")
        True
        >>> as_number("x + 1") is None
        True
    """
    text = text.replace(",", "")
    try:
        if frac := _FRAC.fullmatch(text):
            value = Fraction(int(frac.group(2)), int(frac.group(3)))
            return _scientific(-value if frac.group(1) else value, 0)
        if ratio := _RATIO.fullmatch(text):
            return _scientific(Fraction(int(ratio.group(1)), int(ratio.group(2))), 0)
        if _DECIMAL.fullmatch(text):
            sign, digits, exponent = Decimal(text).as_tuple()
            coefficient = int("".join(map(str, digits)))
            return _scientific(Fraction(-coefficient if sign else coefficient), exponent)
    except (ValueError, ArithmeticError):  # a zero denominator; an exponent or integer too long for decimal or int
        return None
    return None


def _is_integer(number: Number) -> bool:
    """Whether ``m * 10**e`` is an integer, without computing ``10**e``: ``m = p/q`` in lowest terms, so it is
    one exactly when ``q = 2**a * 5**b`` with ``a, b <= e``."""
    mantissa, exponent = number
    if not mantissa:
        return True
    if exponent < 0:  # 0 < |value| < 1
        return False
    q = mantissa.denominator
    twos = (q & -q).bit_length() - 1
    q >>= twos
    fives = 0
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    return q == 1 and max(twos, fives) <= exponent


def _close(a: Number, b: Number) -> bool:
    """``math.isclose(a, b, rel_tol=1e-4)`` on the exact values: ``|a - b| <= 1e-4 * max(|a|, |b|)``."""
    (ma, ea), (mb, eb) = a, b
    if not ma or not mb or abs(ea - eb) > 1:  # zero is close to zero only; a tenfold ratio is never close
        return a == b
    low = min(ea, eb)
    x, y = ma * 10 ** (ea - low), mb * 10 ** (eb - low)
    return abs(x - y) <= _REL_TOL * max(abs(x), abs(y))


def numbers_equal(answer: Number, gold: Number) -> bool:
    """The official numeric rule, in exact arithmetic: ``answer`` equals ``gold / 100``, ``gold`` or ``gold * 100``
    (percentages), where two integers must be equal and anything else within a relative 1e-4.

    The official ``math_equal`` compares floats, so every number beyond 1.8e308 is ``inf`` and equal to every
    other, and 10**30 equals 10**30 + 1; integers compare exactly here, of any size. The tolerance stays for
    non-integers, where it forgives rounding (``18.00001`` for ``18``).

    Example:
        >>> numbers_equal(as_number("1e309"), as_number("2e309"))
        False
        >>> numbers_equal(as_number("0.5"), as_number("50")), numbers_equal(as_number("18.00001"), as_number("18"))
        (True, True)
        >>> numbers_equal(as_number(str(10**30)), as_number(str(10**30 + 1)))
        False
    """
    mantissa, exponent = gold
    refs = [(mantissa, exponent + shift) if mantissa else gold for shift in (-2, 0, 2)]
    return any(answer == ref if _is_integer(answer) and _is_integer(ref) else _close(answer, ref) for ref in refs)


def _paper_compat_equal(answer: str, gold: str) -> bool:
    a, g = _normalize(answer), _normalize(gold)
    if a == g:
        return True
    a_num, g_num = as_number(a), as_number(g)
    if a_num is not None and g_num is not None:
        return numbers_equal(a_num, g_num)
    return _math_verify_equal(answer, gold)


def judge(answer: str, gold: str, mode: str) -> bool:
    """Equivalence of an extracted answer and the gold one; an answer that cannot be parsed or compared is False.

    ``MemoryError`` is raised, not answered: running out of the worker's memory cap is not a verdict.
    """
    try:
        if mode == "paper-compat":
            return _paper_compat_equal(answer, gold)
        return _math_verify_equal(answer, gold)
    except MemoryError:
        raise
    except Exception:  # a verifier must never take a run down
        return False


def parses_to_value(answer: str) -> bool:
    """True if math-verify turns ``answer`` into a sympy value (not just its string fallback)."""
    try:
        from math_verify import parse

        parsed = parse("\\boxed{" + answer + "}", parsing_timeout=None)
        return bool(parsed) and not isinstance(parsed[0], str)
    except Exception:  # a verifier must never take a run down
        return False
