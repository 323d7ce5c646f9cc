"""The paper's equations, pure: length-penalised rewards and RLOO advantages.

Lists in, lists out: no trainer, no tensors, no I/O. The TRL adapter (later) gathers a whole group's
responses before calling these, because the length statistics are per prompt.
"""

from __future__ import annotations

import math
from collections import defaultdict
from statistics import fmean, pstdev, stdev
from typing import Hashable, Literal, Sequence

Normalization = Literal["none", "group", "batch"]

EPS = 1e-7


def _groups(group_ids: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(group_ids):
        members[g].append(i)
    return members


def length_penalized_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    group_ids: Sequence[Hashable],
    alpha: float,
    truncated: Sequence[bool] | None = None,
) -> list[float]:
    r"""Rewards of Arora & Zanette (2025): correct answers earn more the shorter they are within their group.

    .. math::

        r_i = \mathbb{1}\{\text{correct}_i\}\left(1 - \alpha\,
              \sigma\!\left(\frac{\text{len}_i - \text{mean}_c(x)}{\text{std}_c(x) + 10^{-7}}\right)\right)

    where :math:`\text{mean}_c(x)` and :math:`\text{std}_c(x)` (population std) are over the correct,
    non-truncated responses to the same prompt :math:`x` and :math:`\sigma` is the logistic function.
    Incorrect or truncated (no EOS) responses get 0. A lone correct response has :math:`z = 0`, so
    :math:`1 - \alpha/2`.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        group_ids (`Sequence[Hashable]`): which prompt each response answers (equal ids = same group).
        alpha (`float`): length-penalty strength, in [0, 1).
        truncated (`Sequence[bool]`, *optional*): responses cut at the generation limit (rewarded 0).

    Returns:
        `list[float]`: one reward per response, in [0, 1].

    Example:
        >>> r = length_penalized_rewards([1, 0, 1, 1, 0, 0, 1, 0], [1000, 5000, 2000, 3000, 32000, 800, 2000, 4000],
        ...                              [0] * 8, alpha=0.2)
        >>> [round(x, 4) for x in r]
        [0.9609, 0.0, 0.9, 0.8391, 0.0, 0.0, 0.9, 0.0]
    """
    if not (isinstance(alpha, (int, float)) and 0 <= alpha < 1):
        raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
    n = len(correct)
    truncated = [False] * n if truncated is None else truncated
    if not len(lengths) == len(group_ids) == len(truncated) == n:
        raise ValueError(
            f"correct, lengths, group_ids and truncated must have one entry per response; got {n}, "
            f"{len(lengths)}, {len(group_ids)}, {len(truncated)}"
        )
    rewards = [0.0] * n
    for members in _groups(group_ids).values():
        winners = [i for i in members if correct[i] and not truncated[i]]
        if not winners:
            continue
        winner_lengths = [float(lengths[i]) for i in winners]
        mean, std = fmean(winner_lengths), pstdev(winner_lengths)
        for i in winners:
            z = (lengths[i] - mean) / (std + EPS)
            rewards[i] = 1.0 - alpha / (1.0 + math.exp(-z))
    return rewards


def rloo_advantages(
    rewards: Sequence[float],
    group_ids: Sequence[Hashable],
    normalization: Normalization = "none",
) -> list[float]:
    r"""REINFORCE leave-one-out advantages: each response's reward minus the mean reward of the *other*
    responses to the same prompt.

    .. math:: A_i = r_i - \frac{1}{n-1}\sum_{j \ne i} r_j

    Args:
        rewards (`Sequence[float]`): one reward per response.
        group_ids (`Sequence[Hashable]`): which prompt each response answers.
        normalization (`str`, defaults to ``"none"``):
            ``"none"`` -- the paper's method (normalising would make the shortest correct answer's advantage
            independent of :math:`\alpha`; the paper's ablation);
            ``"group"`` -- divide by the group's sample std of rewards (+1e-4), as GRPO does;
            ``"batch"`` -- whiten over the whole batch (subtract the mean, divide by the std), as the official
            OpenRLHF code does.

    Returns:
        `list[float]`: one advantage per response. A group of one response gets 0 (no baseline exists).

    Example:
        >>> rloo_advantages([1.0, 0.0, 0.5, 0.5], ["a", "a", "a", "a"])
        [0.6666666666666667, -0.6666666666666666, 0.0, 0.0]
    """
    if normalization not in ("none", "group", "batch"):
        raise ValueError(f"normalization must be 'none', 'group' or 'batch', got {normalization!r}")
    if len(rewards) != len(group_ids):
        raise ValueError(f"got {len(rewards)} rewards but {len(group_ids)} group ids")
    advantages = [0.0] * len(rewards)
    for members in _groups(group_ids).values():
        k = len(members)
        if k < 2:
            continue
        total = sum(rewards[i] for i in members)
        group_std = stdev([rewards[i] for i in members]) if normalization == "group" else 1.0
        for i in members:
            baseline = (total - rewards[i]) / (k - 1)
            advantages[i] = rewards[i] - baseline
            if normalization == "group":
                advantages[i] /= group_std + 1e-4
    if normalization == "batch" and len(advantages) > 1:
        mean, std = fmean(advantages), stdev(advantages)
        advantages = [(a - mean) / (std + 1e-8) for a in advantages]
    return advantages
