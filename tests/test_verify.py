"""thrifty.verify: extraction, equivalence in both modes, conformance on MATH500, and adversarial inputs."""

from __future__ import annotations

import faulthandler
import json

import pytest

from thrifty.verify import (
    VerifierPool,
    all_boxed_answers,
    extract_answer,
    extract_boxed_answer,
    is_correct,
    verify_batch,
)


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
        pool._inner_timeout = 60  # disable math-verify's own alarm so only the hard kill can end it
        for worker in pool._workers:
            worker.kill()
        pool._workers = []
        verdict = pool.verify([r"\boxed{9^{9^{9^{9^9}}}}"], ["2"])[0]
        assert verdict.correct is False and verdict.timed_out is True
        assert pool.verify([r"\boxed{2}"], ["2"])[0].correct is True


def test_non_string_inputs_are_false(verifier_pool):
    assert [v.correct for v in verifier_pool.verify([None, 5, r"\boxed{1}"], ["1", "5", None])] == [False] * 3


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
        requests = [("judge", "2", "2", "math-verify"), ("judge", "3", "3", "math-verify")]
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
