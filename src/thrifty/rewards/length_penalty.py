"""The paper's reward (Arora & Zanette, 2025), pure: correct answers earn more the shorter they are within their group.

Lists in, lists out: no trainer, no tensors, no I/O. :class:`LengthPenalized` is the same equation as a group
reward (see :mod:`thrifty.rewards`), registered as ``length_penalized`` and, beside the other methods' names, as
``arora``. (The official reward server also declares a ``linear`` ``--reward_type``, its default, but implements
only ``sigmoid``, which its runs pass: ``reward_server/math_server.py:96,130``. There is no linear variant to
reproduce.)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import fmean, pstdev

from thrifty.rewards.registry import Rollout, groups, register_reward


EPS = 1e-7


def length_penalized_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    group_ids: Sequence[Hashable],
    alpha: float,
    truncated: Sequence[bool] | None = None,
    grade_truncated: bool = False,
) -> list[float]:
    r"""Rewards of Arora & Zanette (2025): correct answers earn more the shorter they are within their group.

    .. math::

        r_i = \mathbb{1}\{\text{correct}_i\}\left(1 - \alpha\,
              \sigma\!\left(\frac{\text{len}_i - \text{mean}_c(x)}{\text{std}_c(x) + 10^{-7}}\right)\right)

    where :math:`\text{mean}_c(x)` and :math:`\text{std}_c(x)` (population std) are over the correct,
    non-truncated responses to the same prompt :math:`x` and :math:`\sigma` is the logistic function.
    Incorrect or truncated (no EOS) responses get 0. A lone correct response has :math:`z = 0`, so
    :math:`1 - \alpha/2`.

    ``grade_truncated=True`` grades truncated responses as the official code does (its trainer overwrites the
    last token of a response cut at the limit with EOS, so its reward server sees an ending): a truncated correct
    response is rewarded against the mean and std of its group's *finished* correct responses, which do not
    include it. Where a group has no finished correct response the official server fails (``KeyError``); here
    the statistics are then those of the group's correct truncated responses.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        group_ids (`Sequence[Hashable]`): which prompt each response answers (equal ids = same group).
        alpha (`float`): length-penalty strength, in [0, 1).
        truncated (`Sequence[bool]`, *optional*): responses cut at the generation limit (rewarded 0).
        grade_truncated (`bool`, defaults to False): reward correct truncated responses too, as the official
            code does (``--grade_truncated``).

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
    for members in groups(group_ids).values():
        finished = [i for i in members if correct[i] and not truncated[i]]
        cut = [i for i in members if correct[i] and truncated[i]] if grade_truncated else []
        reference = finished or cut
        if not reference:
            continue
        reference_lengths = [float(lengths[i]) for i in reference]
        mean, std = fmean(reference_lengths), pstdev(reference_lengths)
        for i in finished + cut:
            z = (lengths[i] - mean) / (std + EPS)
            rewards[i] = 1.0 - alpha * _sigmoid(z)
    return rewards


def _sigmoid(z: float) -> float:
    """The logistic function, without overflow: a length unlike its group's zero-spread reference gives |z| ~ 1e7."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@register_reward("arora")
@register_reward("length_penalized")
@dataclass(frozen=True)
class LengthPenalized:
    """The paper's reward as a group reward: :func:`length_penalized_rewards` over a whole :class:`Rollout`.

    Args:
        alpha (`float`, defaults to 0.2): length-penalty strength in [0, 1); 0 rewards correctness alone.
        grade_truncated (`bool`, defaults to False): reward correct truncated responses as the official code
            does (see :func:`length_penalized_rewards`).

    Example:
        >>> reward = LengthPenalized(alpha=0.2)
        >>> rollout = Rollout(group_ids=[0, 0, 0], correct=[True, True, False], lengths=[10, 30, 5],
        ...                   finished=[True, True, True])
        >>> [round(r, 4) for r in reward(rollout)]
        [0.9462, 0.8538, 0.0]
    """

    alpha: float = 0.2
    grade_truncated: bool = False

    def __post_init__(self):
        if not (isinstance(self.alpha, (int, float)) and 0 <= self.alpha < 1):
            raise ValueError(f"alpha must be in [0, 1), got {self.alpha!r}")

    def __call__(self, rollout: Rollout) -> list[float]:
        truncated = [not finished for finished in rollout.finished]
        return length_penalized_rewards(
            rollout.correct, rollout.lengths, rollout.group_ids, self.alpha, truncated, self.grade_truncated
        )
