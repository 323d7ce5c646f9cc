"""Kimi k1.5's length reward (Kimi Team, 2025, arXiv 2501.12599, §2.3.3), pure, and as the group reward ``kimi``.

Within each group the shortest response earns +0.5 and the longest -0.5, linearly in between; a correct response
keeps that value, a wrong one keeps only its negative part. The length reward is added to the correctness reward
with a weight, after a warm-up trained on correctness alone. Kimi published no training code: the weight and the
warm-up's length are not given, so both are parameters here (defaults: weight 1, no warm-up).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from thrifty.rewards.registry import Rollout, check_aligned, groups, is_number, register_reward


def kimi_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    group_ids: Sequence[Hashable],
    weight: float = 1.0,
    finished: Sequence[bool] | None = None,
) -> list[float]:
    r"""Kimi k1.5's rewards: correctness plus a weighted length reward, relative to the group's shortest and longest.

    .. math::

        \lambda_i = \frac12 - \frac{L_i - L_{\min}(x)}{L_{\max}(x) - L_{\min}(x)}, \qquad
        r_i = c_i + w \cdot \begin{cases} \lambda_i & c_i = 1 \\ \min(0, \lambda_i) & c_i = 0 \end{cases}

    where :math:`L_{\min}(x), L_{\max}(x)` are the shortest and longest of *all* the responses to the prompt
    :math:`x` (right or wrong, finished or not) and :math:`c_i \in \{0, 1\}` (the paper's verifier reward,
    §2.3.3). When :math:`L_{\max} = L_{\min}` the length reward is 0 for the whole group (the paper's rule).

    A truncated response (no EOS) counts as wrong: its final answer was cut off, so :math:`c_i = 0` and it keeps
    only :math:`\min(0, \lambda_i)` -- thrifty's choice, as Kimi publishes no code; its length still sets
    :math:`L_{\max}`, being one of the sampled responses.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        group_ids (`Sequence[Hashable]`): which prompt each response answers (equal ids = same group).
        weight (`float`, defaults to 1.0): weight :math:`w \ge 0` of the length reward; the paper says "a weighting
            parameter" without its value. 0 is the warm-up (correctness alone).
        finished (`Sequence[bool]`, *optional*): whether each response ended with EOS (default: all did).

    Returns:
        `list[float]`: one reward per response, in :math:`[-w/2, 1 + w/2]`.

    Example:
        >>> # lengths 100, 200, 300, 500: L_min 100, L_max 500, lambda = 0.5 - (L - 100)/400 = 0.5, 0.25, 0, -0.5
        >>> # correct, correct, wrong, wrong -> 1 + 0.5, 1 + 0.25, min(0, 0) = 0, min(0, -0.5) = -0.5
        >>> kimi_rewards([1, 1, 0, 0], [100, 200, 300, 500], [0, 0, 0, 0])
        [1.5, 1.25, 0.0, -0.5]
    """
    if not (is_number(weight) and weight >= 0):
        raise ValueError(f"kimi: weight must be a number >= 0, got {weight!r}")
    finished = [True] * len(correct) if finished is None else finished
    check_aligned("kimi", correct=correct, lengths=lengths, group_ids=group_ids, finished=finished)
    rewards = [0.0] * len(correct)
    for members in groups(group_ids).values():
        shortest, longest = min(lengths[i] for i in members), max(lengths[i] for i in members)
        for i in members:
            right = bool(correct[i]) and bool(finished[i])
            if longest == shortest:
                bonus = 0.0
            else:
                share = 0.5 - (lengths[i] - shortest) / (longest - shortest)
                bonus = share if right else min(0.0, share)
            rewards[i] = float(right) + weight * bonus
    return rewards


@register_reward("kimi")
@dataclass(frozen=True)
class KimiLengthReward:
    """Kimi k1.5's length reward as a group reward: :func:`kimi_rewards`, with the length reward off during a
    warm-up of ``warmup_steps`` optimizer steps (:attr:`Rollout.step` below it: correctness alone).

    Args:
        weight (`float`, defaults to 1.0): weight of the length reward (unpublished; see :func:`kimi_rewards`).
        warmup_steps (`int`, defaults to 0): optimizer steps trained on correctness alone before the length reward
            is switched on at its constant weight (the paper's warm-up, §2.3.3; its length is unpublished).

    Example:
        >>> reward = KimiLengthReward(weight=1.0, warmup_steps=10)
        >>> rollout = Rollout(group_ids=[0, 0], correct=[True, False], lengths=[10, 30], finished=[True, True])
        >>> reward(rollout)  # step 0: warm-up, correctness alone
        [1.0, 0.0]
        >>> reward(Rollout(group_ids=[0, 0], correct=[True, False], lengths=[10, 30], finished=[True, True], step=10))
        [1.5, -0.5]
    """

    weight: float = 1.0
    warmup_steps: int = 0

    def __post_init__(self):
        if not (is_number(self.weight) and self.weight >= 0):
            raise ValueError(f"kimi: weight must be a number >= 0, got {self.weight!r}")
        if not (is_number(self.warmup_steps) and isinstance(self.warmup_steps, int) and self.warmup_steps >= 0):
            raise ValueError(f"kimi: warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")

    def metrics(self, rollout: Rollout) -> dict[str, float]:
        """The length reward's weight in force (0 during the warm-up), logged as ``reward/weight``."""
        return {"weight": 0.0 if rollout.step < self.warmup_steps else self.weight}

    def __call__(self, rollout: Rollout) -> list[float]:
        weight = 0.0 if rollout.step < self.warmup_steps else self.weight
        return kimi_rewards(rollout.correct, rollout.lengths, rollout.group_ids, weight, rollout.finished)
