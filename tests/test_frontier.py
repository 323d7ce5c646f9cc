"""The allocation frontier: exact against brute force, and read correctly from an evaluation's summary."""

import itertools
import random

import pytest

from thrifty.eval.metrics import summarize
from thrifty.report.frontier import accuracy_at, distances, frontier, gap, level_hull, options, own_frontier


def _brute_force_best(levels, budget, grid=20):
    """The best accuracy within ``budget`` mean tokens over mixtures on a grid (q in steps of 1/grid per level)."""
    total = sum(w for w, _ in levels.values())
    per_level = []
    for weight, opts in levels.values():
        mixes = []
        for q in itertools.product(range(grid + 1), repeat=len(opts)):
            if sum(q) != grid:
                continue
            tokens = sum(qi * t for qi, (t, _) in zip(q, opts, strict=True)) / grid
            accuracy = sum(qi * a for qi, (_, a) in zip(q, opts, strict=True)) / grid
            mixes.append((weight / total * tokens, weight / total * accuracy))
        per_level.append(mixes)
    best = None
    for combo in itertools.product(*per_level):
        tokens, accuracy = sum(t for t, _ in combo), sum(a for _, a in combo)
        if tokens <= budget + 1e-9 and (best is None or accuracy > best):
            best = accuracy
    return best


@pytest.mark.parametrize("seed", range(6))
def test_the_frontier_is_the_best_mixture_and_concave(seed):
    rng = random.Random(seed)
    levels = {
        str(lvl): (rng.randint(1, 4), [(rng.uniform(5, 60), rng.random()) for _ in range(rng.randint(1, 3))])
        for lvl in range(1, 3)
    }
    vertices = frontier(levels)
    slopes = [(a1 - a0) / (t1 - t0) for (t0, a0), (t1, a1) in zip(vertices, vertices[1:], strict=False)]
    assert all(s >= 0 for s in slopes) and all(b <= a + 1e-12 for a, b in zip(slopes, slopes[1:], strict=False))
    for budget in (vertices[0][0], *(rng.uniform(vertices[0][0], vertices[-1][0] + 5) for _ in range(4))):
        best = _brute_force_best(levels, budget)
        exact = accuracy_at(vertices, budget)
        assert best <= exact + 1e-9  # nothing on the grid beats the frontier
        assert exact - best < 0.06  # and the grid gets close to it (its resolution is 1/20 of a level)


def test_a_level_hull_drops_dominated_and_non_concave_options():
    assert level_hull([(10, 0.5), (20, 0.6), (30, 0.9), (40, 0.9), (15, 0.4)]) == [(10, 0.5), (30, 0.9)]
    assert level_hull([(10, 0.9), (20, 0.5)]) == [(10, 0.9)]  # the cheaper one is also better
    with pytest.raises(ValueError, match="at least one"):
        level_hull([])


def test_the_gap_is_measured_at_the_model_s_own_tokens():
    vertices = [(10.0, 0.5), (30.0, 0.9)]
    assert gap(dict(mean_tokens=20.0, accuracy=0.6), vertices) == pytest.approx(0.1)
    assert gap(dict(mean_tokens=50.0, accuracy=0.95), vertices) == pytest.approx(-0.05)  # above it
    assert gap(dict(mean_tokens=5.0, accuracy=0.1), vertices) is None  # cheaper than anything reachable


def _samples(level, behaviour, n, correct, tokens):
    return [
        dict(
            id=f"{level}-{behaviour}-{i}",
            level=level,
            behaviour=behaviour,
            tokens=tokens,
            correct=i < correct,
            finished=True,
        )
        for i in range(n)
    ]


def test_a_summary_gives_each_level_s_behaviours_and_a_model_sits_on_or_below_its_frontier():
    samples = (
        _samples(1, "shortcut", 10, 10, 12)
        + _samples(1, "columns+1", 10, 10, 40)
        + _samples(4, "shortcut", 10, 2, 19)
        + _samples(4, "columns+0", 10, 9, 48)
        + _samples(4, "columns+2", 2, 2, 140)  # too few samples to count as an option
    )
    summary = summarize(samples)
    assert summary["per_level"]["4"]["behaviours"]["shortcut"] == dict(
        share=10 / 22, n=10, accuracy=0.2, mean_tokens=19
    )
    levels = options(summary)
    # each behaviour with 10+ samples there, and the level's own mix (what the model does is within its reach)
    assert (levels["1"][0], sorted(levels["1"][1])) == (20, [(12, 1.0), (26, 1.0), (40, 1.0)])
    assert sorted(levels["4"][1]) == [(19, 0.2), pytest.approx((950 / 22, 13 / 22)), (48, 0.9)]
    vertices = own_frontier(summary)
    # best allocation: shortcut on level 1 always, then buy column work on level 4
    assert vertices[0] == pytest.approx(((20 * 12 + 22 * 19) / 42, (20 * 1.0 + 22 * 0.2) / 42))
    assert vertices[-1] == pytest.approx(((20 * 12 + 22 * 48) / 42, (20 * 1.0 + 22 * 0.9) / 42))
    result = distances(summary, reference=[(0.0, 1.0)])
    assert result["frontier_gap"] > 0.05  # it spends on level-1 columns what level 4 needed
    assert result["reference_gap"] == pytest.approx(1.0 - summary["accuracy"])


def test_a_forced_evaluation_replaces_the_model_s_own_figures_for_that_behaviour():
    natural = summarize(_samples(4, "shortcut", 10, 10, 19) + _samples(4, "columns+0", 20, 18, 48))
    forced = summarize(_samples(4, "shortcut", 40, 8, 19))
    mix = pytest.approx((1150 / 30, 28 / 30))
    assert sorted(options(natural)["4"][1]) == [(19, 1.0), mix, (48, 0.9)]  # shortcuts taken where they are easy
    assert sorted(options(natural, {"shortcut": forced})["4"][1]) == [(19, 0.2), mix, (48, 0.9)]


@pytest.mark.parametrize("seed", range(5))
def test_a_model_is_never_above_its_own_frontier_even_with_rare_behaviours(seed):
    rng = random.Random(seed)
    samples = []
    for level in (1, 2, 3):
        for i in range(rng.randint(1, 30)):
            behaviour = rng.choice(["shortcut", "columns+0", "columns+1", "columns+3"])
            samples.append(
                dict(
                    id=f"{level}-{i}",
                    level=level,
                    behaviour=behaviour,
                    tokens=rng.randint(5, 90),
                    correct=rng.random() < 0.7,
                    finished=True,
                )
            )
    summary = summarize(samples)
    assert gap(summary, own_frontier(summary)) >= -1e-9


def test_no_behaviours_no_frontier():
    plain = summarize([dict(id="a", tokens=3, correct=True, finished=True, level=1)])
    assert own_frontier(plain) is None and distances(plain) == {}
    partly = summarize(
        _samples(1, "shortcut", 10, 10, 12) + [dict(id="b", tokens=3, correct=True, finished=True, level=2)]
    )
    assert own_frontier(partly) is None  # a frontier over some levels is not comparable with the mean over all
    with pytest.raises(ValueError, match="no behaviour accounting"):
        options(plain)
