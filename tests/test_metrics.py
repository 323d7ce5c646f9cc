"""thrifty.eval.metrics: hand-computed values."""

from __future__ import annotations

import pytest

from thrifty.eval.metrics import cutoff_curve, default_cutoffs, pass_at_k, summarize


def test_pass_at_k_hand_values():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(7,2)/C(10,2) = 1 - 21/45
    assert pass_at_k(10, 3, 2) == pytest.approx(24 / 45)
    # fewer wrong samples than k: some pick always contains a correct one
    assert pass_at_k(4, 2, 3) == 1.0


@pytest.mark.parametrize("n, c, k", [(3, 4, 1), (3, 1, 0), (3, 1, 4), (3, -1, 1)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match=f"n={n}, c={c}, k={k}"):
        pass_at_k(n, c, k)


def _s(pid, tokens, correct, finished=True, level=None):
    return {"id": pid, "tokens": tokens, "correct": correct, "finished": finished, "level": level}


def test_cutoff_curve_hand_values():
    samples = [_s("a", 100, True), _s("a", 300, True), _s("b", 200, False), _s("b", 400, True, finished=False)]
    curve = cutoff_curve(samples, [150, 300, 1000])
    assert curve == [
        {"max_tokens": 150, "accuracy": 0.25, "mean_tokens": (100 + 150 + 150 + 150) / 4},
        {"max_tokens": 300, "accuracy": 0.5, "mean_tokens": (100 + 300 + 200 + 300) / 4},
        {"max_tokens": 1000, "accuracy": 0.75, "mean_tokens": 250.0},
    ]


def test_cutoff_counts_text_tokens_not_the_eos_token():
    """20 text tokens + EOS fit a 20-token limit; 20 tokens cut at the limit (no EOS) do not fit 19."""
    samples = [_s("a", 21, True, finished=True), _s("b", 20, True, finished=False)]
    assert [p["accuracy"] for p in cutoff_curve(samples, [19, 20])] == [0.0, 1.0]


def test_default_cutoffs():
    assert default_cutoffs(32768) == [2048, 4096, 8192, 12288, 16384, 24576, 32768]
    assert default_cutoffs(8) == [1, 2, 3, 4, 6, 8]


def test_summarize_hand_values():
    samples = [
        _s("p1", 10, True, level=1),
        _s("p1", 20, False, level=1),
        _s("p1", 30, True, level=1),
        _s("p2", 40, False, level=3),
        _s("p2", 50, False, finished=False, level=3),
        _s("p2", 60, True, level=3),
    ]
    s = summarize(samples, cutoffs=[30])
    assert s["accuracy"] == pytest.approx(3 / 6)
    assert s["mean_tokens"] == pytest.approx(35.0)
    assert s["mean_tokens_correct"] == pytest.approx((10 + 30 + 60) / 3)
    assert s["truncation_rate"] == pytest.approx(1 / 6)
    assert (s["n_problems"], s["n_samples"], s["samples_per_problem"]) == (2, 6, 3)
    # p1: c=2 of 3; p2: c=1 of 3
    assert s["pass_at_k"]["1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert s["pass_at_k"]["2"] == pytest.approx((1.0 + (1 - 1 / 3)) / 2)
    assert s["pass_at_k"]["3"] == 1.0
    assert s["per_level"]["1"]["accuracy"] == pytest.approx(2 / 3)
    assert s["per_level"]["3"]["mean_tokens"] == pytest.approx(50.0)
    assert s["cutoff_curve"] == [
        {"max_tokens": 30, "accuracy": pytest.approx(2 / 6), "mean_tokens": pytest.approx(25.0)}
    ]


def test_summarize_without_levels_or_correct_answers():
    s = summarize([_s("a", 5, False), _s("b", 7, False)])
    assert "per_level" not in s and "cutoff_curve" not in s
    assert s["mean_tokens_correct"] is None and s["accuracy"] == 0.0


def test_summarize_empty_is_an_error():
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


# --------------------------------------------------------------------------------------------- uncertainty
def test_clustered_se_against_a_hand_computation():
    from thrifty.eval.metrics import clustered_se

    # three problems, three samples each: per-problem means 1/3, 1, 0; their sd (ddof 1) is 0.509175, / sqrt(3)
    values = [1, 0, 0, 1, 1, 1, 0, 0, 0]
    ids = ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert clustered_se(values, ids) == pytest.approx(0.293972, abs=1e-6)
    # one sample per problem: the textbook s / sqrt(N) (s = 0.5 for 1, 0, 1, 1)
    assert clustered_se([1, 0, 1, 1], ["a", "b", "c", "d"]) == pytest.approx(0.25)
    # treating the nine correlated samples as independent would understate it: s / sqrt(9) = 0.1667
    assert clustered_se(values, ids) > 0.5270 / 3
    assert clustered_se([1, 0], ["a", "a"]) is None  # one problem: no spread between problems to estimate


def test_summarize_reports_standard_errors_and_majority_vote():
    samples = [
        dict(id="a", sample=0, tokens=10, finished=True, correct=True, extracted="2", level=1),
        dict(id="a", sample=1, tokens=30, finished=True, correct=False, extracted="3", level=1),
        dict(id="a", sample=2, tokens=20, finished=True, correct=True, extracted="2", level=1),
        dict(id="b", sample=0, tokens=40, finished=True, correct=False, extracted="5", level=2),
        dict(id="b", sample=1, tokens=50, finished=True, correct=False, extracted="5", level=2),
        dict(id="b", sample=2, tokens=60, finished=False, correct=False, extracted=None, level=2),
    ]
    s = summarize(samples)
    # accuracy: problem means 2/3 and 0 -> sd 0.4714 / sqrt(2) = 1/3; tokens: means 20 and 50 -> sd 21.21 / sqrt(2)
    assert s["accuracy_se"] == pytest.approx(1 / 3)
    assert s["mean_tokens_se"] == pytest.approx(15.0)
    assert s["maj_at_k"] == {"3": 0.5}  # a: the gold wins 2-1; b: "5" wins
    assert s["per_level"]["1"]["accuracy_se"] is None  # one problem per level
    assert "maj_at_k" not in summarize([dict(samples[0])])  # one sample per problem: no vote
    from thrifty.eval.metrics import majority_at_k

    # one right answer among responses cut before answering: "no answer" is the majority, which is never right
    cut = [dict(id="c", sample=i, correct=i == 0, extracted="7" if i == 0 else None) for i in range(3)]
    assert majority_at_k(cut, 3) == 0.0
    assert majority_at_k(cut[:2], 2) == 0.5  # a tie between the gold and "no answer": broken at random


def _thinking(pid, thinking, answer, level):
    return dict(id=pid, tokens=thinking + answer, finished=True, correct=True, level=level,
                thinking_tokens=thinking, answer_tokens=answer)  # fmt: skip


def test_thinking_and_answer_means_overall_and_per_level():
    samples = [
        _thinking("a", 3, 2, level=1),  # 5 tokens: 2 thought, </think>, 1 answered, EOS
        _thinking("a", 2, 2, level=1),
        _thinking("b", 6, 0, level=2),  # never closed its thinking: all thinking
        _thinking("b", 4, 2, level=2),
    ]
    s = summarize(samples)
    assert (s["mean_thinking_tokens"], s["mean_answer_tokens"]) == (3.75, 1.5)
    assert s["mean_thinking_tokens"] + s["mean_answer_tokens"] == s["mean_tokens"]
    # per-problem means: thinking 2.5 and 5 -> sd 1.7678 / sqrt(2) = 1.25; answer 2 and 1 -> 0.5
    assert s["mean_thinking_tokens_se"] == pytest.approx(1.25)
    assert s["mean_answer_tokens_se"] == pytest.approx(0.5)
    assert (s["per_level"]["1"]["mean_thinking_tokens"], s["per_level"]["1"]["mean_answer_tokens"]) == (2.5, 2.0)
    assert (s["per_level"]["2"]["mean_thinking_tokens"], s["per_level"]["2"]["mean_answer_tokens"]) == (5.0, 1.0)
    assert s["per_level"]["2"]["mean_thinking_tokens_se"] is None  # one problem in the level


def test_no_thinking_fields_without_them_on_every_record():
    """A model that does not think, and records written before the split was counted (alone or mixed with newer
    ones in a resumed run), summarise as before: no thinking or answer means, rather than means over some."""
    plain = [_s("a", 5, True, level=1), _s("b", 7, False, level=2)]
    mixed = [_thinking("a", 3, 2, level=1), _s("b", 7, False, level=2)]
    for samples in (plain, mixed):
        s = summarize(samples)
        assert not any("thinking" in key or "answer" in key for key in [*s, *s["per_level"]["1"]])
