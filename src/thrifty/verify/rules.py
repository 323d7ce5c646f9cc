"""Equivalence of an extracted answer and the gold one, in both modes. Runs inside the verifier's worker processes.

math-verify's own timeouts use SIGALRM, which works only in a process's main thread: these functions are called
from :mod:`thrifty.verify.pool`'s workers, each in its main thread and killed from outside if it overruns.
"""

from __future__ import annotations

import math
import re


def _math_verify_equal(answer: str, gold: str, inner_timeout: int) -> bool:
    from math_verify import parse, verify

    gold_parsed = parse("\\boxed{" + gold + "}", parsing_timeout=inner_timeout)
    answer_parsed = parse("\\boxed{" + answer + "}", parsing_timeout=inner_timeout)
    if not gold_parsed or not answer_parsed:
        return False
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=inner_timeout))


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


def _as_number(text: str) -> float | None:
    text = text.replace(",", "")
    frac = re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}", text)
    try:
        if frac:
            value = float(frac.group(2)) / float(frac.group(3))
            return -value if frac.group(1) else value
        if re.fullmatch(r"-?\d+/\d+", text):
            num, den = text.split("/")
            return float(num) / float(den)
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
            return float(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def _paper_compat_equal(answer: str, gold: str, inner_timeout: int) -> bool:
    a, g = _normalize(answer), _normalize(gold)
    if a == g:
        return True
    a_num, g_num = _as_number(a), _as_number(g)
    if a_num is not None and g_num is not None:
        return any(math.isclose(a_num, ref, rel_tol=1e-4) for ref in (g_num / 100, g_num, g_num * 100))
    return _math_verify_equal(answer, gold, inner_timeout)


def judge(answer: str, gold: str, mode: str, inner_timeout: int) -> bool:
    """Equivalence of an extracted answer and the gold one; any failure is False."""
    try:
        if mode == "paper-compat":
            return _paper_compat_equal(answer, gold, inner_timeout)
        return _math_verify_equal(answer, gold, inner_timeout)
    except BaseException:  # a verifier must never take a run down
        return False


def parses_to_value(answer: str, inner_timeout: int) -> bool:
    """True if math-verify turns ``answer`` into a sympy value (not just its string fallback)."""
    try:
        from math_verify import parse

        parsed = parse("\\boxed{" + answer + "}", parsing_timeout=inner_timeout)
        return bool(parsed) and not isinstance(parsed[0], str)
    except BaseException:  # a verifier must never take a run down
        return False
