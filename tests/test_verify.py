"""thrifty.verify: extraction, equivalence in both modes, conformance on MATH500, and adversarial inputs."""

from __future__ import annotations

import faulthandler
import json
import signal
import time
import tracemalloc
from decimal import Decimal
from fractions import Fraction

import pytest

from thrifty.verify import (
    DEFAULT_TIMEOUT,
    Verdict,
    VerifierPool,
    all_boxed_answers,
    extract_answer,
    extract_boxed_answer,
    is_correct,
    verify_batch,
)
from thrifty.verify.rules import judge, parses_to_value


# ------------------------------------------------------------------ extraction
@pytest.mark.parametrize(
    "text, expected",
    [
        (r"so \boxed{5}", "5"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"\boxed{ \left( 3, \frac{\pi}{2} \right) }", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\fbox{7}", "7"),
        (r"\boxed 9", "9"),
        (r"\boxed{3} and an unterminated \boxed{4", "3"),
        ("no answer", None),
        ("", None),
    ],
)
def test_extract_boxed_answer(text, expected):
    assert extract_boxed_answer(text) == expected


def test_all_boxed_answers_in_order_and_nested():
    assert all_boxed_answers(r"\boxed{a} x \boxed{\boxed{b}}") == ["a", r"\boxed{b}", "b"]


def test_paper_compat_extraction_falls_back_like_the_official_parser():
    assert extract_answer("The answer is 42.\n", "paper-compat") == "42"
    assert extract_answer("we get 3, then 1,234 apples", "paper-compat") == "1234"
    assert extract_answer("we get 3, then 1,234 apples", "math-verify") is None


# ------------------------------------------------------------------ equivalence
CASES = [
    # (response, gold, math-verify, paper-compat)
    (r"\boxed{18}", "18", True, True),
    (r"\boxed{\dfrac{1}{2}}", "0.5", True, True),
    (r"\boxed{\frac12}", r"\frac{1}{2}", True, True),
    (r"\boxed{19}", "18", False, False),
    (r"\boxed{x = 5}", "5", True, True),
    (r"\boxed{2\sqrt{2}}", r"\sqrt{8}", True, True),
    (r"\boxed{10\%}", "10", True, True),
    (r"\boxed{18.00001}", "18", False, True),  # the official numeric tolerance (rel 1e-4)
    ("the answer is 18", "18", False, True),  # no box: the official parser takes the last number
    (r"\boxed{(1,2)}", "(1, 2)", True, True),
    (r"\boxed{x^2+2x+1}", "(x+1)^2", True, True),
]


@pytest.mark.parametrize("response, gold, mv, compat", CASES)
def test_equivalence_both_modes(verifier_pool, response, gold, mv, compat):
    assert verifier_pool.verify([response], [gold], "math-verify")[0].correct is mv
    assert verifier_pool.verify([response], [gold], "paper-compat")[0].correct is compat


def test_is_correct_simple_api():
    assert is_correct(r"Thus $\boxed{\frac{3}{4}}$.", "0.75") is True
    assert is_correct(r"Thus $\boxed{\frac{3}{4}}$.", "0.76") is False


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown verifier mode 'exact'"):
        is_correct(r"\boxed{1}", "1", mode="exact")


def test_batch_length_mismatch_is_a_clear_error(verifier_pool):
    with pytest.raises(ValueError, match="2 responses but 1 gold"):
        verifier_pool.verify(["a", "b"], ["1"])


# ------------------------------------------------------------------ conformance on real data
def _math500(benchmarks_dir):
    return [json.loads(line) for line in open(benchmarks_dir / "math500.jsonl", encoding="utf-8")]


def test_math500_every_reference_solution_is_correct(benchmarks_dir, verifier_pool):
    rows = _math500(benchmarks_dir)
    verdicts = verifier_pool.verify([r["solution"] for r in rows], [r["answer"] for r in rows])
    wrong = [(r["unique_id"], v.extracted, r["answer"]) for r, v in zip(rows, verdicts, strict=True) if not v.correct]
    assert len(rows) == 500
    assert wrong == []


def test_math500_paper_compat_accepts_every_reference_solution(benchmarks_dir, verifier_pool):
    rows = _math500(benchmarks_dir)
    verdicts = verifier_pool.verify([r["solution"] for r in rows], [r["answer"] for r in rows], "paper-compat")
    assert [r["unique_id"] for r, v in zip(rows, verdicts, strict=True) if not v.correct] == []


def test_math500_answers_of_other_problems_are_rejected(benchmarks_dir, verifier_pool):
    """Negative control: solution i against the answer of problem i+1, whenever the two answers differ."""
    rows = _math500(benchmarks_dir)
    pairs = [(r, rows[(i + 1) % len(rows)]) for i, r in enumerate(rows)]
    pairs = [(r, o) for r, o in pairs if r["answer"].strip() != o["answer"].strip()]
    verdicts = verifier_pool.verify([r["solution"] for r, _ in pairs], [o["answer"] for _, o in pairs])
    accepted = {(o["answer"], r["answer"]) for (r, o), v in zip(pairs, verdicts, strict=True) if v.correct}
    assert len(pairs) > 450
    # The one pair accepted is a genuine equivalence: the answer "5" to a question answered "x=5".
    assert accepted == {("x=5", "5")}


# ------------------------------------------------------------------ adversarial inputs
ADVERSARIAL = {
    "power tower": r"\boxed{9^{9^{9^{9^9}}}}",
    "huge power": r"\boxed{10^{10^{10}}}",
    "huge factorial": r"\boxed{(10^{10})!}",
    "20,000 nested braces": r"\boxed{" + "{" * 20_000 + "1" + "}" * 20_000 + "}",
    "20,000 unterminated boxes": r"\boxed{" * 20_000,
    "20,000 nested closed boxes": r"\boxed{" * 20_000 + "1" + "}" * 20_000,
    "megabyte of text": "x" * 1_000_000 + r"\boxed{7",
    "megabyte answer": r"\boxed{" + "1+" * 500_000 + "1}",
    "lone surrogate": "\ud800\udfff\ud800 \\boxed{\ud800}",
    "NUL bytes": "\x00\\boxed{\x00}",
    "empty": "",
    "only a backslash": "\\",
}


@pytest.fixture()
def hang_guard():
    """A hung verifier would stall the suite: end the process with every thread's traceback instead. (How fast
    the verifier is belongs to benchmarks/verify_throughput.py, which times these same inputs.)"""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_inputs_return_false(name, hang_guard):
    with VerifierPool(workers=1, timeout=3.0) as pool:
        for mode in ("math-verify", "paper-compat"):
            verdict = pool.verify([ADVERSARIAL[name]], ["2"], mode)[0]
            assert verdict.correct is False


def test_a_hung_worker_is_killed_and_replaced(hang_guard):
    """A verification that outlives the hard bound is killed (``timed_out``), answered False, and the pool keeps
    working."""
    with VerifierPool(workers=1, timeout=1.0) as pool:
        verdict = pool.verify([r"\boxed{9^{9^{9^{9^9}}}}"], ["2"])[0]
        assert verdict == Verdict(r"9^{9^{9^{9^9}}}", False, True)  # the answer is known though the check is not
        assert pool.verify([r"\boxed{2}"], ["2"])[0].correct is True


def test_non_string_responses_are_false(verifier_pool):
    assert verifier_pool.verify([None, 5], ["1", "5"]) == [Verdict(None, False, False)] * 2


def test_verify_batch_in_order(verifier_pool):
    responses = [rf"\boxed{{{i}}}" for i in range(20)]
    golds = [str(i if i % 3 else i + 1) for i in range(20)]
    verdicts = verify_batch(responses, golds, workers=2)
    assert [v.correct for v in verdicts] == [i % 3 != 0 for i in range(20)]
    assert [v.extracted for v in verdicts] == [str(i) for i in range(20)]


def test_an_interrupted_call_leaves_no_stale_answer_for_the_next():
    """Ctrl-C in the middle of a batch must not let a late result land in a later call's slot."""

    class Interrupt:
        def update(self, n):
            if n:  # the first finished item; the other worker is still busy with its item
                raise KeyboardInterrupt

    with VerifierPool(workers=2) as pool:
        requests = [("judge", r"\boxed{2}", "2", "math-verify"), ("judge", r"\boxed{3}", "3", "math-verify")]
        with pytest.raises(KeyboardInterrupt):
            pool._run(requests, progress=Interrupt())
        assert all(w.task is None for w in pool._workers)
        assert pool.verify([r"\boxed{3}"], ["4"])[0].correct is False
        assert pool.verify([r"\boxed{4}"], ["4"])[0].correct is True


def test_extraction_of_deeply_nested_closed_boxes(hang_guard):
    """One pass over the text (a quadratic scan of 20,000 nested boxes would stall here for minutes)."""
    text = r"\boxed{" * 20_000 + "1" + "}" * 20_000
    assert extract_boxed_answer(text) == "1"
    assert all_boxed_answers(r"\boxed{\boxed{2}+1}") == [r"\boxed{2}+1", "2"]


# ------------------------------------------------------------------ issue 13: timing, exact numbers, golds, bounds
SET_200 = r"\{" + ",".join(map(str, range(1, 201))) + r"\}"
SET_200_REVERSED = r"\{" + ",".join(map(str, range(200, 0, -1))) + r"\}"


def test_a_slow_right_answer_is_right_under_the_default_budget(hang_guard):
    """The set {1..200} against itself reversed takes math-verify over a second. Its own 1 s alarm used to score it
    False, not timed out, on most runs; the pool's budget is the only one now. A fresh pool: no cached parse helps."""
    with VerifierPool(workers=1) as pool:
        verdict = pool.verify([rf"\boxed{{{SET_200_REVERSED}}}"], [SET_200])[0]
    assert verdict == Verdict(SET_200_REVERSED, True, False)


def test_math_verify_never_arms_its_own_alarm(monkeypatch):
    """Its SIGALRM expiry reads as a plain False; the equivalence must run with no budget but the pool's."""
    armed = []
    monkeypatch.setattr(signal, "alarm", lambda seconds: armed.append(seconds) or 0)
    assert judge(r"\{3, 2, 1\}", r"\{1, 2, 3\}", "math-verify") is True
    assert judge(r"\sqrt{8}", r"2\sqrt{2}", "paper-compat") is True
    assert parses_to_value(r"\frac{1}{2}") is True
    assert armed == []


def test_a_check_that_does_not_finish_is_timed_out_never_a_plain_false(hang_guard):
    """Too small a budget for the same right answer: not finished, so flagged, not a verdict of False."""
    with VerifierPool(workers=1, timeout=0.3) as pool:
        verdict = pool.verify([rf"\boxed{{{SET_200_REVERSED}}}"], [SET_200])[0]
    assert verdict.correct or verdict.timed_out
    assert verdict.extracted == SET_200_REVERSED


def test_a_result_that_has_arrived_is_read_even_after_the_deadline():
    """A check that finished is never called timed out because this process looked late (e.g. while it was
    starting a replacement worker): what the worker sent is read before the deadline is looked at."""
    with VerifierPool(workers=1, timeout=60) as pool:
        pool._ensure_started()
        worker = pool._workers[0]
        worker.conn.send((0, "judge", r"\boxed{2}", "2", "math-verify"))
        worker.task, worker.deadline = 0, time.monotonic() - 1
        assert worker.conn.poll(30)
        time.sleep(1.0)  # both messages (the answer, then the verdict) are in the pipe by now
        results = [Verdict(None, False)]
        assert pool._collect(worker, results) is True
        assert results == [Verdict("2", True, False)]


def test_paper_compat_never_calls_numbers_beyond_float_range_equal():
    assert is_correct(r"\boxed{1e309}", "2e309", mode="paper-compat") is False
    assert is_correct(r"\boxed{1e309}", "10e308", mode="paper-compat") is True


@pytest.mark.parametrize(
    "answer, gold, expected",
    [
        (str(10**30), str(10**30), True),
        (str(10**30), str(10**30 + 1), False),  # floats: equal
        (str(10**400 + 7), str(10**400 + 7), True),  # floats: inf, and "equal" to anything as large
        (str(10**400 + 7), str(10**400 + 8), False),
        ("100001", "100000", False),  # integers are exact (the official float rule has them within 1e-4)
        ("18.00001", "18", True),  # non-integers keep the official relative tolerance, 1e-4
        ("18.01", "18", False),
        ("0.33333", r"\frac{1}{3}", True),
        ("0.333", r"\frac{1}{3}", False),
        (r"\frac{2}{6}", "1/3", True),
        ("0.5", "50", True),  # a percentage: gold / 100
        ("5000", "50", True),  # gold * 100
        ("5001", "50", False),
        ("0", "0.0", True),
        ("-2.5e-3", "-0.0025", True),
    ],
)
def test_paper_compat_numbers_are_exact(verifier_pool, answer, gold, expected):
    assert verifier_pool.verify([rf"\boxed{{{answer}}}"], [gold], "paper-compat")[0].correct is expected


@pytest.mark.parametrize(
    "response, gold",
    [
        (r"\boxed{5}", 5),
        (r"\boxed{5}", 5.0),
        (r"\boxed{5}", Decimal("5")),
        (r"\boxed{5}", Fraction(10, 2)),
        (r"\boxed{\frac{1}{10}}", 0.1),
        (r"\boxed{10^{20}}", 1e20),  # written out, not "1e+20" (which math-verify reads as 1 * e + 20)
        (r"\boxed{-\frac{1}{2}}", Fraction(-1, 2)),
        (r"\boxed{" + str(10**30) + "}", 10**30),
    ],
)
def test_numeric_golds_from_json_are_their_numbers(verifier_pool, response, gold):
    for mode in ("math-verify", "paper-compat"):
        assert verifier_pool.verify([response], [gold], mode)[0].correct is True
    assert verifier_pool.verify([r"\boxed{7}"], [gold])[0].correct is False


def test_the_reported_int_gold():
    assert is_correct(r"\boxed{5}", 5) is True


@pytest.mark.parametrize("gold, name", [(False, "bool"), (True, "bool"), (None, "NoneType"), ([5], "list")])
def test_a_gold_that_is_not_text_or_a_number_is_refused(verifier_pool, gold, name):
    """A JSON ``false`` gold is a data bug, not the number 0; the error names the type, before any work."""
    with pytest.raises(TypeError, match=f"got {name} "):
        is_correct(r"\boxed{0}", gold)
    with pytest.raises(TypeError, match=f"got {name} "):
        verifier_pool.verify([r"\boxed{1}", r"\boxed{0}"], ["1", gold])


@pytest.mark.parametrize("gold", [float("nan"), float("inf"), Decimal("-inf")])
def test_a_gold_that_is_not_a_finite_number_is_refused(gold):
    with pytest.raises(ValueError, match="must be finite"):
        is_correct(r"\boxed{0}", gold)


BRACES = 20_000_000


def test_an_enormous_response_costs_the_caller_little_time_and_memory(verifier_pool, hang_guard):
    """20 MB of "{" after a "\\boxed{": extraction once took 14 s and 3.9 GB per 100 MB in the calling process
    (a stack entry per brace). Now it runs in a worker, under the time bound and the memory cap; the caller only
    pickles the response."""
    text = r"\boxed{" + "{" * BRACES
    tracemalloc.start()
    started = time.monotonic()
    verdict = verifier_pool.verify([text], ["1"])[0]
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert verdict == Verdict(None, False, False)
    assert elapsed < DEFAULT_TIMEOUT
    assert peak < 3 * len(text)  # the pickled copy; a stack of 20M brace positions is ~750 MB


def test_extraction_memory_grows_with_the_boxes_not_the_braces():
    """The pure functions are bounded too (callers outside the pool use them): the depth is an int."""
    for text in (r"\boxed{" + "{" * BRACES, r"\boxed{1}" + "}" * BRACES, "{" * BRACES + r"\boxed{2}"):
        tracemalloc.start()
        answer = extract_boxed_answer(text)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert answer in (None, "1", "2")
        assert peak < 1 << 20
