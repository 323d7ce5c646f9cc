"""thrifty.verify, property-based: what must hold for every input, not just the listed ones.

One pool serves the whole module (a worker start-up per example would dominate), and every test caps its examples
so the file runs in well under a minute; ``pytest --hypothesis-show-statistics`` reports the cases and times.
"""

from __future__ import annotations

import re
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.verify import DEFAULT_TIMEOUT, MODES, VerifierPool, all_boxed_answers, extract_boxed_answer
from thrifty.verify.extract import _boxed_spans
from thrifty.verify.rules import as_number, numbers_equal


SLACK = 10.0
"""Seconds beyond the time bound a call may take: a timed-out worker's replacement starting on a busy machine."""


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=2) as pool:
        yield pool


# ------------------------------------------------------------------ strategies
LATEX = [r"\frac{", r"\sqrt{", r"\boxed{", r"\fbox{", r"\{", r"\}", "{", "}", "^", "_", "\\", "x", "1", "2", "-"]
LATEX += [".", ",", "/", "(", ")", "[", "]", "=", " ", "$", "%", r"\pi", r"\infty", r"\left(", r"\right)", "e9"]
latex_soup = st.lists(st.sampled_from(LATEX), max_size=30).map("".join)
with_surrogates = st.text(st.characters(exclude_categories=[]), max_size=50)  # lone surrogates, NULs: model output
any_text = st.one_of(st.text(max_size=200), with_surrogates, latex_soup)

no_backslash = st.text(st.characters(exclude_characters="\\"), max_size=30)
plain = st.text(st.characters(exclude_characters="{}\\"), max_size=12)
commands = st.sampled_from([r"\frac", r"\sqrt", r"\pi", r"\cdot", r"\left(", r"\right)", r"\mathbb"])
balanced = st.recursive(
    plain | commands,
    lambda inner: st.lists(inner | inner.map(lambda s: "{" + s + "}"), max_size=4).map("".join),
    max_leaves=15,
)
"""Text whose braces balance and which holds no box opening: the content of a box that must come back as is."""

NUMBERS = ["0", "1", "2", "3", "10", "12", "0.5", "-4", r"\frac{1}{2}", r"\frac{3}{4}", r"\sqrt{2}", r"\pi", "x"]
answers = st.recursive(
    st.sampled_from(NUMBERS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "^"]), inner).map("".join),
        st.tuples(inner, inner).map(lambda ab: rf"\frac{{{ab[0]}}}{{{ab[1]}}}"),
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: r"\{" + ",".join(xs) + r"\}"),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + ",".join(xs) + ")"),
    ),
    max_leaves=6,
)
"""Small LaTeX answers (numbers, sums, fractions, sets, tuples), so that the equivalence itself is exercised."""


def reference_boxed_spans(text: str) -> list[tuple[int, int]]:
    """The char-by-char scan ``_boxed_spans`` replaced (a stack entry per open brace): the specification."""
    box_opens = {m.end() - 1 for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)}
    spans, stack = [], []
    for i, char in enumerate(text):
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            start = stack.pop()
            if start in box_opens:
                spans.append((start + 1, i))
    return sorted(spans)


# ------------------------------------------------------------------ the verifier as a whole
@settings(max_examples=300, deadline=None)
@given(response=any_text, gold=any_text)
def test_never_raises_and_returns_within_the_bound(pool, response, gold):
    for mode in MODES:
        started = time.monotonic()
        verdict = pool.verify([response], [gold], mode)[0]
        assert time.monotonic() - started < DEFAULT_TIMEOUT + SLACK
        assert isinstance(verdict.correct, bool) and isinstance(verdict.timed_out, bool)
        assert not (verdict.correct and verdict.timed_out)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(-(10**40), 10**40), as_int=st.booleans())
def test_an_integer_equals_itself_and_not_its_successor(pool, n, as_int):
    """Both modes; paper-compat compares integers exactly however large (floats made 10**30 equal 10**30 + 1)."""
    golds = [n, n + 1] if as_int else [str(n), str(n + 1)]
    for mode in MODES:
        verdicts = pool.verify([rf"\boxed{{{n}}}"] * 2, golds, mode)
        assert [(v.correct, v.timed_out) for v in verdicts] == [(True, False), (False, False)]


@settings(max_examples=100, deadline=None)
@given(responses=st.lists(answers.map(lambda a: rf"\boxed{{{a}}}"), min_size=1, max_size=4), gold=answers)
def test_verdicts_are_deterministic(pool, responses, gold):
    """The same check twice gives the same verdict (the second one helped by math-verify's caches, so faster):
    timing decides nothing but whether a check finishes, and one that does not is flagged."""
    for mode in MODES:
        first = pool.verify(responses, [gold] * len(responses), mode)
        second = pool.verify(responses, [gold] * len(responses), mode)
        for a, b in zip(first, second, strict=True):
            assert a.extracted == b.extracted
            assert a.correct == b.correct or a.timed_out or b.timed_out


# ------------------------------------------------------------------ extraction (pure, so many examples are cheap)
@settings(max_examples=500, deadline=None)
@given(before=no_backslash, content=balanced, after=no_backslash)
def test_extraction_round_trips_a_box(before, content, after):
    """``\\boxed{X}`` gives back X for brace-balanced X, whatever stray braces surround it."""
    text = before + r"\boxed{" + content + "}" + after
    assert extract_boxed_answer(text) == content.strip()


@settings(max_examples=100, deadline=None)
@given(content=balanced)
def test_the_pool_reports_the_extracted_answer(pool, content):
    """The same through the workers, where extraction runs (the answer crosses a pipe both ways)."""
    assert pool.verify([rf"so \boxed{{{content}}}."], ["1"])[0].extracted == content.strip()


@settings(max_examples=1000, deadline=None)
@given(text=st.lists(st.sampled_from(["{", "}", r"\boxed{", r"\fbox {", r"\boxed ", "x", "1", " "]), max_size=40))
def test_box_spans_match_the_old_scan(text):
    """Extraction results do not change: the run-length scan finds exactly the boxes the char-by-char one did."""
    text = "".join(text)
    assert sorted(_boxed_spans(text)) == reference_boxed_spans(text)
    assert all_boxed_answers(text) == [text[a:b].strip() for a, b in reference_boxed_spans(text)]


# ------------------------------------------------------------------ paper-compat numbers (pure)
def _as_ratio(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


fractions = st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**12)


@settings(max_examples=500, deadline=None)
@given(answer=fractions, gold=fractions)
def test_numbers_equal_is_the_official_rule_in_exact_arithmetic(answer, gold):
    """Equal to gold/100, gold or gold*100: integers exactly, other numbers within a relative 1e-4."""

    def expected(ref: Fraction) -> bool:
        if answer.denominator == 1 and ref.denominator == 1:
            return answer == ref
        return abs(answer - ref) <= Fraction(1, 10_000) * max(abs(answer), abs(ref))

    got = numbers_equal(
        as_number(f"{answer.numerator}/{answer.denominator}"), as_number(f"{gold.numerator}/{gold.denominator}")
    )
    assert got == any(expected(ref) for ref in (gold / 100, gold, gold * 100))


@settings(max_examples=200, deadline=None)
@given(mantissa=st.integers(1, 10**6), exponent=st.integers(300, 10**9))
def test_numbers_beyond_float_range_stay_distinct(mantissa, exponent):
    """Never ``inf == inf``: two integers past 1.8e308 are equal only when they are."""
    a, b = as_number(f"{mantissa}e{exponent}"), as_number(f"{mantissa + 1}e{exponent}")
    assert numbers_equal(a, a) and not numbers_equal(a, b)
