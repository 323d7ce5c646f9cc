"""ShorterBetter's reward (Yi et al., 2025, arXiv 2504.21370; JingyangYi/ShorterBetter), pure, and as the group
reward ``shorterbetter``: correctness, minus the distance to the group's Sample Optimal Length (its shortest correct
response).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import fmean

from thrifty.rewards.registry import Rollout, check_aligned, groups, is_number, register_reward


def shorterbetter_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    group_ids: Sequence[Hashable],
    alpha: float = 2.0,
    beta: float = 0.001,
    finished: Sequence[bool] | None = None,
) -> list[float]:
    r"""ShorterBetter: reward correctness, and closeness to the group's Sample Optimal Length (SOL).

    .. math::

        \mathrm{SOL}(x) = \begin{cases} \min\{L_j : c_j = 1\} & \text{some response to } x \text{ is correct} \\
        \operatorname{mean}_j L_j & \text{otherwise} \end{cases}, \qquad
        r_i = \alpha\, c_i - \beta\, |L_i - \mathrm{SOL}(x)|

    over the responses :math:`j` to the same prompt :math:`x`; :math:`\alpha = 2.0`, :math:`\beta = 0.001` (the
    paper; ``verl/verl/workers/reward_manager/naive.py``'s ``sb_compute_score`` hard-codes both). Responses
    shorter than the SOL are penalised too (a wrong short answer pays its distance below it).

    A truncated response (no EOS) counts as wrong: it is never the SOL, and pays :math:`\beta|L_i - \mathrm{SOL}|`.
    (The official code grades the decoded text whatever its ending; a response cut while thinking has no final
    answer to find.) Its length enters the mean when no response is correct.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        group_ids (`Sequence[Hashable]`): which prompt each response answers (equal ids = same group).
        alpha (`float`, defaults to 2.0): reward of a correct answer, > 0.
        beta (`float`, defaults to 0.001): penalty per token of distance to the SOL, >= 0.
        finished (`Sequence[bool]`, *optional*): whether each response ended with EOS (default: all did).

    Returns:
        `list[float]`: one reward per response.

    Example:
        >>> # group a: correct 300 and 500 -> SOL 300; 2 - 0.001*0 = 2, 2 - 0.001*200 = 1.8, wrong 100: -0.001*200
        >>> # group b: none correct, lengths 400, 600 -> SOL 500; -0.001*100 each
        >>> r = shorterbetter_rewards([1, 1, 0, 0, 0], [300, 500, 100, 400, 600], ["a", "a", "a", "b", "b"])
        >>> [round(x, 6) for x in r]
        [2.0, 1.8, -0.2, -0.1, -0.1]
    """
    if not (is_number(alpha) and alpha > 0):
        raise ValueError(f"shorterbetter: alpha must be a number > 0, got {alpha!r}")
    if not (is_number(beta) and beta >= 0):
        raise ValueError(f"shorterbetter: beta must be a number >= 0, got {beta!r}")
    finished = [True] * len(correct) if finished is None else finished
    check_aligned("shorterbetter", correct=correct, lengths=lengths, group_ids=group_ids, finished=finished)
    right = [bool(c) and bool(f) for c, f in zip(correct, finished, strict=True)]
    rewards = [0.0] * len(correct)
    for members in groups(group_ids).values():
        solved = [lengths[i] for i in members if right[i]]
        optimal = min(solved) if solved else fmean(lengths[i] for i in members)
        for i in members:
            rewards[i] = alpha * right[i] - beta * abs(lengths[i] - optimal)
    return rewards


@register_reward("shorterbetter")
@dataclass(frozen=True)
class ShorterBetter:
    """ShorterBetter as a group reward: :func:`shorterbetter_rewards` over a whole :class:`Rollout`.

    Args:
        alpha (`float`, defaults to 2.0): reward of a correct answer (the paper's α).
        beta (`float`, defaults to 0.001): penalty per token of distance to the group's SOL (the paper's β).

    Example:
        >>> rollout = Rollout(group_ids=[0, 0, 0], correct=[True, True, False], lengths=[10, 30, 5],
        ...                   finished=[True, True, True])
        >>> [round(r, 6) for r in ShorterBetter()(rollout)]  # SOL 10: 2, 2 - 0.02, -0.005
        [2.0, 1.98, -0.005]
    """

    alpha: float = 2.0
    beta: float = 0.001

    def __post_init__(self):
        shorterbetter_rewards([], [], [], self.alpha, self.beta)  # validates the parameters

    def __call__(self, rollout: Rollout) -> list[float]:
        return shorterbetter_rewards(
            rollout.correct, rollout.lengths, rollout.group_ids, self.alpha, self.beta, rollout.finished
        )
