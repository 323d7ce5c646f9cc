"""Evaluation metrics, pure: scored samples in, numbers out. No models, no files.

A *sample* here is a mapping with at least ``id`` (problem), ``tokens`` (response length in tokens),
``finished`` (ended with EOS rather than at the token limit), ``correct`` and optionally ``level``, and for a
thinking model ``thinking_tokens`` and ``answer_tokens`` (its tokens up to and including ``</think>``, and after).

The paper reports the *average pass rate* (mean correctness over all samples of all problems) and the mean
response length over all samples; both are here with their standard errors (clustered by problem: a problem's
samples are not independent of each other), with unbiased pass@k, majority-vote maj@k and the generation-cutoff
curve.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from math import comb, sqrt
from statistics import fmean


def pass_at_k(n: int, c: int, k: int) -> float:
    r"""Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al., 2021).

    .. math:: \text{pass@}k = 1 - \binom{n - c}{k} \Big/ \binom{n}{k}

    Example:
        >>> pass_at_k(n=3, c=1, k=2)  # 1 - C(2,2)/C(3,2) = 1 - 1/3
        0.6666666666666667
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _mean(values: Sequence[float]) -> float | None:
    return fmean(values) if values else None


def clustered_se(values: Sequence[float], clusters: Sequence[str]) -> float | None:
    r"""Standard error of the mean of ``values`` when values sharing a cluster (a problem's samples) are
    correlated: the cluster-robust (sandwich) estimate with the small-sample factor :math:`P/(P-1)`,

    .. math:: \mathrm{SE}^2 = \frac{P}{P-1} \sum_p \Big(\sum_{i \in p} (y_i - \bar y)\Big)^2 \Big/ N^2

    over ``P`` clusters and ``N`` values. With ``k`` samples per problem it is the standard deviation of the
    per-problem means over :math:`\sqrt{P}`; with one sample per problem, the usual :math:`s/\sqrt{N}`. None
    with fewer than two clusters (no spread to estimate).

    Example:
        >>> # problem a: 1, 0 (mean 0.5); problem b: 1, 1 (mean 1.0); sd of (0.5, 1.0) is 0.3536, / sqrt(2)
        >>> round(clustered_se([1, 0, 1, 1], ["a", "a", "b", "b"]), 4)
        0.25
    """
    if len(values) != len(clusters):
        raise ValueError(f"need one cluster per value, got {len(values)} values and {len(clusters)} clusters")
    sums: dict[str, float] = defaultdict(float)
    mean = fmean(values) if values else 0.0
    for value, cluster in zip(values, clusters, strict=True):
        sums[cluster] += value - mean
    p, n = len(sums), len(values)
    if p < 2:
        return None
    return sqrt(p / (p - 1) * sum(e * e for e in sums.values())) / n


def per_problem(samples: Sequence[Mapping]) -> dict[str, list]:
    """``{problem id: [samples, correct, tokens]}``: each problem's sample count, correct count and token sum, in
    first-seen order -- what :func:`paired_difference_se` needs from each of two evaluations.

    Example:
        >>> per_problem([dict(id="a", correct=True, tokens=10), dict(id="a", correct=False, tokens=30)])
        {'a': [2, 1, 40]}
    """
    table: dict[str, list] = {}
    for s in samples:
        row = table.setdefault(s["id"], [0, 0, 0])
        row[0] += 1
        row[1] += int(bool(s["correct"]))
        row[2] += s["tokens"]
    return table


PER_PROBLEM_COLUMNS = {"accuracy": 1, "mean_tokens": 2}
"""The column of :func:`per_problem`'s rows holding each paired measure's per-problem sum."""


def paired_difference_se(a: Mapping[str, Sequence], b: Mapping[str, Sequence], measure: str) -> float | None:
    r"""The standard error of ``mean_a - mean_b`` for two evaluations of the same problems (their
    :func:`per_problem` tables), ``measure`` one of :data:`PER_PROBLEM_COLUMNS`: clustered by problem and paired,

    .. math:: \mathrm{SE}^2 = rac{P}{P-1} \sum_p \Big(rac{s^a_p - n^a_p ar y_a}{N_a}
              - rac{s^b_p - n^b_p ar y_b}{N_b}\Big)^2

    so that what the two share -- a hard problem is hard for both models -- cancels. With ``k`` samples per
    problem in both, it is the standard deviation of the per-problem differences over :math:`\sqrt{P}`. None
    unless both cover the same problems (two or more).

    Example:
        >>> a = {"x": [2, 2, 0], "y": [2, 1, 0], "z": [2, 0, 0]}  # per-problem accuracy 1, 0.5, 0
        >>> b = {"x": [2, 1, 0], "y": [2, 1, 0], "z": [2, 0, 0]}  # 0.5, 0.5, 0: differences 0.5, 0, 0
        >>> round(paired_difference_se(a, b, "accuracy"), 6)  # sd(0.5, 0, 0) / sqrt(3)
        0.166667
    """
    column = PER_PROBLEM_COLUMNS[measure]
    if set(a) != set(b) or len(a) < 2:
        return None
    n_a, n_b = sum(row[0] for row in a.values()), sum(row[0] for row in b.values())
    mean_a = sum(row[column] for row in a.values()) / n_a
    mean_b = sum(row[column] for row in b.values()) / n_b
    residuals = [
        (a[p][column] - a[p][0] * mean_a) / n_a - (b[p][column] - b[p][0] * mean_b) / n_b for p in a
    ]  # fmt: skip
    return sqrt(len(a) / (len(a) - 1) * sum(e * e for e in residuals))


def majority_at_k(samples: Sequence[Mapping], k: int) -> float:
    """maj@k: the share of problems whose majority answer over their first ``k`` samples (by ``sample`` index,
    else file order) is correct (Wang et al., 2022, self-consistency).

    Votes are cast by answer: every correct sample votes for the gold (they are all equivalent to it, however
    they were written), an incorrect one for its ``extracted`` answer (whitespace-normalised), and samples with
    no answer (truncated, or nothing to extract) together vote for "no answer", which is never right. A tie
    between the gold and other answers counts as 1/t of a correct majority (the expected value of breaking the
    tie at random among t answers). Pooling the correct answers by meaning while wrong ones pool only when
    written alike favours the gold slightly where wrong answers are written several ways (``3`` and ``3.0``).

    Example:
        >>> s = [dict(id="a", correct=True, extracted="2"), dict(id="a", correct=False, extracted="3"),
        ...      dict(id="a", correct=True, extracted="2.0"), dict(id="b", correct=False, extracted=None),
        ...      dict(id="b", correct=True, extracted="4"), dict(id="b", correct=False, extracted=None)]
        >>> majority_at_k(s, 3)  # a: the gold 2 votes vs 1; b: "no answer" 2 votes vs the gold 1
        0.5
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    by_problem: dict[str, list[Mapping]] = defaultdict(list)
    for s in samples:
        by_problem[s["id"]].append(s)
    scores = []
    for group in by_problem.values():
        group = sorted(group, key=lambda s: s.get("sample", 0))[:k]
        votes = Counter(
            True
            if s["correct"]
            else None
            if s.get("extracted") in (None, "")
            else " ".join(str(s["extracted"]).split())
            for s in group
        )
        top = max(votes.values())
        winners = [answer for answer, n in votes.items() if n == top]
        scores.append(1 / len(winners) if True in winners else 0.0)
    return fmean(scores)


def cutoff_curve(samples: Sequence[Mapping], limits: Iterable[int]) -> list[dict]:
    """Accuracy and mean tokens had generation been stopped at each token limit (the paper's cutoff baseline).

    A sample counts as correct under limit ``L`` only if it was correct and its text fit in ``L`` tokens (the EOS
    token aside: generating with a limit of ``L`` would give the same text); a response cut earlier loses its
    final answer. Its length under the limit is ``min(tokens, L)``.

    Example:
        >>> s = [dict(tokens=10, correct=True, finished=True), dict(tokens=30, correct=True, finished=False),
        ...      dict(tokens=30, correct=False, finished=True)]
        >>> [(p["max_tokens"], round(p["accuracy"], 3), p["mean_tokens"]) for p in cutoff_curve(s, [20, 30])]
        [(20, 0.333, 16.666666666666668), (30, 0.667, 23.333333333333332)]
    """
    curve = []
    for limit in sorted({int(x) for x in limits}):
        curve.append(
            {
                "max_tokens": limit,
                "accuracy": fmean(
                    bool(s["correct"]) and s["tokens"] - bool(s.get("finished")) <= limit for s in samples
                ),
                "mean_tokens": fmean(min(s["tokens"], limit) for s in samples),
            }
        )
    return curve


def default_cutoffs(max_new_tokens: int) -> list[int]:
    """Token limits for the cutoff curve: 1/16, 1/8, 1/4, 3/8, 1/2, 3/4 and all of ``max_new_tokens``."""
    return sorted({max(1, round(max_new_tokens * f)) for f in (1 / 16, 1 / 8, 1 / 4, 3 / 8, 1 / 2, 3 / 4, 1)})


def _basic(samples: Sequence[Mapping]) -> dict:
    correct_tokens = [s["tokens"] for s in samples if s["correct"]]
    problems = [s["id"] for s in samples]
    basic = {
        "accuracy": fmean(bool(s["correct"]) for s in samples),
        "accuracy_se": clustered_se([float(bool(s["correct"])) for s in samples], problems),
        "mean_tokens": fmean(s["tokens"] for s in samples),
        "mean_tokens_se": clustered_se([float(s["tokens"]) for s in samples], problems),
        "mean_tokens_correct": _mean(correct_tokens),
        "truncation_rate": fmean(not s["finished"] for s in samples),
        "n_problems": len({s["id"] for s in samples}),
        "n_samples": len(samples),
    }
    if all(s.get("oracle_tokens") for s in samples):  # the organism knows each problem's shortest correct answer
        basic["mean_oracle_tokens"] = fmean(s["oracle_tokens"] for s in samples)
        basic["oracle_ratio"] = basic["mean_tokens"] / basic["mean_oracle_tokens"]
    return basic


THINKING_PARTS = ("thinking_tokens", "answer_tokens")
"""The sample fields that split a thinking model's ``tokens``: up to and including ``</think>``, and after."""


def thinking_means(samples: Sequence[Mapping]) -> dict:
    """``mean_thinking_tokens`` and ``mean_answer_tokens`` with their clustered standard errors (``..._se``:
    :func:`clustered_se`) when every sample carries both :data:`THINKING_PARTS`; ``{}`` otherwise (a model that
    does not think, or records written before they were counted: no mean over only some of the samples).

    Example:
        >>> s = [dict(id="a", thinking_tokens=30, answer_tokens=10), dict(id="b", thinking_tokens=50, answer_tokens=6)]
        >>> {k: v for k, v in thinking_means(s).items() if not k.endswith("_se")}
        {'mean_thinking_tokens': 40.0, 'mean_answer_tokens': 8.0}
        >>> thinking_means([dict(id="a", tokens=40)])
        {}
    """
    if not all(s.get(part) is not None for s in samples for part in THINKING_PARTS):
        return {}
    problems = [s["id"] for s in samples]
    means = {}
    for part in THINKING_PARTS:
        values = [float(s[part]) for s in samples]
        means[f"mean_{part}"] = fmean(values)
        means[f"mean_{part}_se"] = clustered_se(values, problems)
    return means


def behaviour_table(samples: Sequence[Mapping]) -> dict[str, dict]:
    """Per behaviour label (samples' ``behaviour``): its ``share`` of the samples, ``n``, ``accuracy`` and
    ``mean_tokens``, most frequent first.

    Example:
        >>> s = [dict(behaviour="a", tokens=10, correct=True), dict(behaviour="a", tokens=20, correct=False),
        ...      dict(behaviour="b", tokens=40, correct=True), dict(behaviour="a", tokens=30, correct=True)]
        >>> behaviour_table(s)["a"]
        {'share': 0.75, 'n': 3, 'accuracy': 0.6666666666666666, 'mean_tokens': 20.0}
    """
    groups: dict[str, list[Mapping]] = defaultdict(list)
    for s in samples:
        groups[s["behaviour"]].append(s)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        label: {
            "share": len(group) / len(samples),
            "n": len(group),
            "accuracy": fmean(bool(s["correct"]) for s in group),
            "mean_tokens": fmean(s["tokens"] for s in group),
        }
        for label, group in ranked
    }


def forcing_means(samples: Sequence[Mapping]) -> dict:
    """What budget forcing wrote, on average over ``samples`` (``{}`` unless every one carries ``forced_tokens``):
    ``mean_forced_tokens`` (tokens written for the model, inside ``mean_tokens``), ``forced_end_rate`` (share of
    responses whose thinking was ended at its budget) and ``mean_waits`` (early ends of thinking made "Wait").

    Example:
        >>> forcing_means([{"forced_tokens": 3, "forced_end": True, "waits": 0}, {"forced_tokens": 1, "waits": 1}])
        {'mean_forced_tokens': 2.0, 'forced_end_rate': 0.5, 'mean_waits': 0.5}
    """
    if not samples or not all("forced_tokens" in s for s in samples):
        return {}
    return {
        "mean_forced_tokens": fmean(s["forced_tokens"] for s in samples),
        "forced_end_rate": fmean(bool(s.get("forced_end")) for s in samples),
        "mean_waits": fmean(s.get("waits", 0) for s in samples),
    }


def summarize(samples: Sequence[Mapping], cutoffs: Iterable[int] | None = None) -> dict:
    """All metrics of one benchmark run.

    Returns:
        `dict` with ``accuracy`` (average pass rate over all samples), ``mean_tokens`` (over all samples),
        ``accuracy_se`` and ``mean_tokens_se`` (their standard errors, clustered by problem:
        :func:`clustered_se`; None with one problem), ``mean_tokens_correct``, ``truncation_rate``,
        ``n_problems``, ``n_samples``, ``samples_per_problem``,
        ``pass_at_k`` (``{"1": ..., ..., "K": ...}``, unbiased, K = fewest samples any problem has),
        ``maj_at_k`` (``{"K": ...}``, :func:`majority_at_k`; when K > 1 and samples carry ``extracted``),
        ``per_problem`` (:func:`per_problem`: for paired differences between evaluations of the same problems),
        ``per_level`` (``{"3": {accuracy, mean_tokens, ...}}``, when samples carry a level),
        ``mean_oracle_tokens`` and ``oracle_ratio`` (mean tokens / mean minimal tokens, when every sample
        carries ``oracle_tokens``, as the organism's do),
        ``mean_thinking_tokens``, ``mean_answer_tokens`` and their ``_se`` (:func:`thinking_means`: when every
        sample carries ``thinking_tokens`` and ``answer_tokens``, as a thinking model's do; in each level too),
        ``behaviours`` (:func:`behaviour_table`, overall and in each level, when samples carry a ``behaviour``),
        ``mean_forced_tokens``, ``forced_end_rate`` and ``mean_waits`` (:func:`forcing_means`: under budget
        forcing, when every sample carries ``forced_tokens``) and
        ``cutoff_curve`` (see :func:`cutoff_curve`; only when ``cutoffs`` are given).
    """
    if not samples:
        raise ValueError("no samples to summarize")
    by_problem: dict[str, list[Mapping]] = defaultdict(list)
    for s in samples:
        by_problem[s["id"]].append(s)
    k_max = min(len(group) for group in by_problem.values())
    summary = _basic(samples)
    summary["samples_per_problem"] = k_max
    summary["per_problem"] = per_problem(samples)
    summary["pass_at_k"] = {
        str(k): fmean(pass_at_k(len(g), sum(bool(s["correct"]) for s in g), k) for g in by_problem.values())
        for k in range(1, k_max + 1)
    }
    if k_max > 1 and all("extracted" in s for s in samples):
        summary["maj_at_k"] = {str(k_max): majority_at_k(samples, k_max)}
    levels: dict[int, list[Mapping]] = defaultdict(list)
    for s in samples:
        if s.get("level") is not None:
            levels[int(s["level"])].append(s)
    if levels:
        summary["per_level"] = {str(level): _basic(levels[level]) for level in sorted(levels)}
    if thinking := thinking_means(samples):  # every record splits its tokens: so does every level
        summary.update(thinking)
        for level, group in levels.items():
            summary["per_level"][str(level)].update(thinking_means(group))
    if all(s.get("behaviour") is not None for s in samples):
        summary["behaviours"] = behaviour_table(samples)
        for level, group in levels.items():
            summary["per_level"][str(level)]["behaviours"] = behaviour_table(group)
    if forcing := forcing_means(samples):
        summary.update(forcing)
    if cutoffs is not None:
        summary["cutoff_curve"] = cutoff_curve(samples, cutoffs)
    return summary
