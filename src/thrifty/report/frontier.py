"""The allocation frontier: the best accuracy a model's own skills reach at each mean-token budget. Pure.

Where responses can be read as behaviours (the organism: answer at once, or do the column work with ``k``
checks), a model's evaluation gives, per difficulty level, each behaviour's accuracy and token cost. Choosing
a behaviour per level -- or a mixture, since a policy can randomise -- gives every (mean tokens, accuracy) a
policy with *these* skills can reach; the upper edge of that set is the frontier. It is exact and cheap: per
level, the upper concave hull of its behaviours; overall, the hulls' segments taken steepest first (a
fractional knapsack), each weighted by its level's share of the problems.

A model's distance to its own frontier at its token count is what it could gain by allocating its tokens
better without learning anything new: the paper's claim about the length penalty, separated from skill gains.
It knows only the behaviours the model shows (a model that always does the same at a level sits on its own
frontier there) and their figures on the problems where it chose them (a model that takes a shortcut only
where it is easy looks more skilled at it than it is); a forced evaluation measures a behaviour on every
problem.
A frontier built from another model's skills (the base's) is a fixed reference every model can be placed
against; a model that learned new skills can end above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


MIN_SAMPLES = 10
"""A behaviour counts as a model's option at a level only with at least this many samples there: one lucky
sample would otherwise make a frontier of it. (The level's own mix of behaviours always counts.)"""


def level_hull(options: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The upper concave hull of one level's ``(tokens, accuracy)`` options, from the cheapest option (the most
    accurate of the cheapest, if several) up to the most accurate one: what mixing behaviours at this level can
    reach.

    Example:
        >>> level_hull([(10, 0.5), (20, 0.6), (30, 0.9), (40, 0.9), (15, 0.4)])
        [(10, 0.5), (30, 0.9)]
    """
    if not options:
        raise ValueError("a level needs at least one (tokens, accuracy) option")
    points = sorted(set(options), key=lambda p: (p[0], -p[1]))
    hull: list[tuple[float, float]] = []
    for point in points:
        if hull and point[1] <= hull[-1][1]:  # as dear as the last, and no better: never worth it
            continue
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) >= 0:  # the last is below the chord: drop it
            hull.pop()
        hull.append(point)
    return hull


def _cross(a, b, c) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def frontier(levels: Mapping[str, tuple[float, Sequence[tuple[float, float]]]]) -> list[tuple[float, float]]:
    """The frontier's vertices ``(mean tokens, accuracy)``, cheapest first, from ``{level: (weight, options)}``.

    ``weight`` is the level's share of the problems (they are normalised to sum to 1). Between vertices the
    frontier is a straight line; above the last, it is flat.

    Example (two equally weighted levels; the second gains more per token, so it is funded first):
        >>> frontier({"1": (1, [(10, 0.9), (20, 1.0)]), "4": (1, [(20, 0.2), (40, 0.9)])})
        [(15.0, 0.55), (25.0, 0.9), (30.0, 0.95)]
    """
    total = sum(weight for weight, _ in levels.values())
    if not levels or total <= 0:
        raise ValueError("the frontier needs at least one level with a positive weight")
    tokens = accuracy = 0.0
    steps = []
    for weight, options in levels.values():
        share = weight / total
        hull = level_hull(options)
        tokens += share * hull[0][0]
        accuracy += share * hull[0][1]
        for (t0, a0), (t1, a1) in zip(hull, hull[1:], strict=False):
            steps.append(((a1 - a0) / (t1 - t0), share * (t1 - t0), share * (a1 - a0)))
    vertices = [(tokens, accuracy)]
    for _, d_tokens, d_accuracy in sorted(steps, key=lambda step: -step[0]):
        tokens, accuracy = tokens + d_tokens, accuracy + d_accuracy
        vertices.append((tokens, accuracy))
    return vertices


def accuracy_at(vertices: Sequence[tuple[float, float]], tokens: float) -> float | None:
    """The frontier's accuracy at a mean-token budget; None below its cheapest point (not reachable).

    Example:
        >>> round(accuracy_at([(15.0, 0.55), (25.0, 0.9), (30.0, 0.95)], 20), 3), accuracy_at([(15.0, 0.55)], 10)
        (0.725, None)
    """
    if tokens < vertices[0][0] - 1e-9:
        return None
    for (t0, a0), (t1, a1) in zip(vertices, vertices[1:], strict=False):
        if tokens <= t1:
            return a0 + (a1 - a0) * (tokens - t0) / (t1 - t0)
    return vertices[-1][1]


def options(summary: Mapping, forced: Mapping[str, Mapping] | None = None, min_samples: int = MIN_SAMPLES) -> dict:
    """``{level: (weight, [(tokens, accuracy), ...])}`` for :func:`frontier`, from an evaluation's ``summary``
    (per-level ``behaviours``, as :func:`thrifty.eval.metrics.behaviour_table` writes them).

    Each level's options are its behaviours with at least ``min_samples`` samples, and the level's own mix (its
    overall tokens and accuracy: what the model does there is always within its reach). ``forced`` maps a
    behaviour to the summary of an evaluation that forced it (``--response_prefix``); its per-level figures
    replace the model's own for that behaviour, measured on every problem rather than on the few it chose to.
    """
    levels = {}
    for level, figures in summary.get("per_level", {}).items():
        if not figures.get("behaviours"):
            continue
        table = dict(figures["behaviours"])
        for label, forced_summary in (forced or {}).items():
            forced_level = forced_summary.get("per_level", {}).get(level, {})
            if label in (forced_level.get("behaviours") or {}):
                table[label] = forced_level["behaviours"][label]
        points = [(b["mean_tokens"], b["accuracy"]) for b in table.values() if b.get("n", 0) >= min_samples]
        levels[level] = (figures["n_samples"], [*points, (figures["mean_tokens"], figures["accuracy"])])
    if not levels:
        raise ValueError("this evaluation has no behaviour accounting to build a frontier from")
    return levels


def gap(summary: Mapping, vertices: Sequence[tuple[float, float]]) -> float | None:
    """How far below a frontier a model is at its own mean tokens (accuracy points as a fraction; negative when it
    is above it, as a model can be above a frontier built from another model's skills)."""
    best = accuracy_at(vertices, summary["mean_tokens"])
    return None if best is None else best - summary["accuracy"]


def own_frontier(summary: Mapping) -> list[tuple[float, float]] | None:
    """The frontier of a model's own skills (None when its evaluation has no behaviour accounting in every level:
    a frontier over some levels would not be comparable with the model's mean over all of them)."""
    per_level = summary.get("per_level", {})
    if not per_level or not all(f.get("behaviours") for f in per_level.values()):
        return None
    return frontier(options(summary))


def distances(summary: Mapping, reference: Sequence[tuple[float, float]] | None = None) -> dict:
    """``frontier_gap`` (to the model's own frontier at its mean tokens) and ``reference_gap`` (to ``reference``,
    e.g. the base's frontier), each in accuracy as a fraction; {} without behaviour accounting."""
    own = own_frontier(summary)
    if own is None:
        return {}
    result = {"frontier_gap": gap(summary, own)}
    if reference is not None:
        result["reference_gap"] = gap(summary, reference)
    return result
