r"""ALP, the Adaptive Length Penalty (Xiang et al., 2025, arXiv 2506.05256), pure: a per-token penalty scaled by the
prompt's solve rate in its group, so easy prompts pay more per token than hard ones.

No official code was found; the formula is the paper's (§3, as quoted by the stored copies of arXiv 2506.05256v2
and its reviews). The values of :math:`\beta` and :math:`N` could not be read from a stored copy of the paper: the
defaults are the project's reference sheet (``research/length-rewards.md``: :math:`\beta = 10^{-7}`, "as
published"), with :math:`N = 1`. :class:`Alp` is registered as ``alp``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from thrifty.rewards.registry import Rollout, check_aligned, groups, register_reward


def alp_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    group_ids: Sequence[Hashable],
    beta: float = 1e-7,
    normalizer: float = 1.0,
) -> list[float]:
    r"""ALP's rewards: correctness minus a length penalty whose rate grows with the group's solve rate.

    .. math::

        r_i = \mathbb{1}\{\text{correct}_i\} - \frac{\beta}{N}\,\max\left(p_{\text{solved}}(x), \frac{1}{K}\right) L_i,
        \qquad p_{\text{solved}}(x) = \frac{1}{K}\sum_{k=1}^{K} \mathbb{1}\{\text{correct}_k\}

    over the :math:`K` responses to the same prompt :math:`x` (the group). A prompt no response solves still pays
    the floor :math:`1/K`. Every response pays, right or wrong; a response cut at the generation limit is graded
    by its verdict like any other (the paper sets no rule for it).

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens (:math:`|y|`).
        group_ids (`Sequence[Hashable]`): which prompt each response answers (equal ids = same group).
        beta (`float`, defaults to 1e-7): :math:`\beta`, the global coefficient.
        normalizer (`float`, defaults to 1.0): :math:`N`, the normalisation constant.

    Returns:
        `list[float]`: one reward per response.

    Example:
        >>> # group a: 3 of 4 right, p = 0.75; group b: none right, p floored at 1/2 (K = 2). beta / N = 0.001
        >>> r = alp_rewards([1, 1, 0, 1, 0, 0], [100, 200, 300, 400, 100, 500], ["a", "a", "a", "a", "b", "b"],
        ...                 beta=0.01, normalizer=10)
        >>> [round(x, 4) for x in r]  # 1 - 0.001 * 0.75 * 100, ...; -0.001 * 0.5 * 100, ...
        [0.925, 0.85, -0.225, 0.7, -0.05, -0.25]
    """
    check_aligned("alp", correct=correct, lengths=lengths, group_ids=group_ids)
    rewards = [0.0] * len(correct)
    for members in groups(group_ids).values():
        k = len(members)
        rate = max(sum(bool(correct[i]) for i in members) / k, 1 / k)
        for i in members:
            rewards[i] = float(bool(correct[i])) - beta / normalizer * rate * lengths[i]
    return rewards


@register_reward("alp")
@dataclass(frozen=True)
class Alp:
    """ALP as a group reward: :func:`alp_rewards` over a whole :class:`Rollout`; :math:`K` is each group's size.

    Args:
        beta (`float`, defaults to 1e-7): :math:`\\beta` (> 0; see the module for the default's source).
        normalizer (`float`, defaults to 1.0): :math:`N` (> 0).

    Example:
        >>> reward = Alp(beta=0.01)
        >>> reward(Rollout(group_ids=[0, 0], correct=[True, False], lengths=[10, 20], finished=[True, True]))
        [0.95, -0.1]
    """

    beta: float = 1e-7
    normalizer: float = 1.0

    def __post_init__(self):
        for name in ("beta", "normalizer"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"alp: {name} must be a number > 0, got {value!r}")

    def __call__(self, rollout: Rollout) -> list[float]:
        return alp_rewards(rollout.correct, rollout.lengths, rollout.group_ids, self.beta, self.normalizer)
