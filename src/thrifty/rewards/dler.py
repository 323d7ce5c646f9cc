r"""DLER's truncation penalty (Liu et al., 2025, arXiv 2510.15110; NVlabs/DLER), pure: the correctness reward, and
nothing for a response longer than the target.

DLER truncates by the generation limit itself (``dler_slurm.sh``: ``max_response_length=4000``), and its reward
(``verl/utils/reward_score/deepscaler``: ``deepscaler_reward_fn`` returns ``is_correct``, and a response without
``</think>`` is wrong) gives a cut response 0. Thrifty's generation limit may be longer than the target, so the
reward enforces the target itself: a response longer than it, or cut at the limit, earns 0. The rest of DLER is the
optimiser (REINFORCE++-baseline advantages, clip-higher, dynamic sampling, token-mean loss: see the recipes).
:class:`Dler` is registered as ``dler``; ``adaptive=True`` is DA-DLER.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from thrifty.rewards.registry import Rollout, check_aligned, groups, register_reward


def dler_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    finished: Sequence[bool],
    group_ids: Sequence[Hashable],
    target_length: int = 4000,
    adaptive: bool = False,
    easy_target_length: int = 2000,
    easy_accuracy: float = 0.5,
) -> list[float]:
    r"""DLER's rewards: 1 for a right answer that ended within the target, 0 otherwise.

    .. math:: r_i = \mathbb{1}\{\text{correct}_i\}\,\mathbb{1}\{\text{finished}_i\}\,\mathbb{1}\{L_i \le T_{g(i)}\}

    :math:`T` is ``target_length`` (4,000: ``max_response_length=4000``). DA-DLER (``adaptive``) gives a group the
    shorter ``easy_target_length`` (2,000) when its accuracy -- the share of its responses that earn 1 at
    ``target_length`` -- is above ``easy_accuracy`` (0.5), else ``target_length`` (the project's reference sheet;
    the released code has DLER only).

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        finished (`Sequence[bool]`): whether each response ended (False: cut at the generation limit).
        group_ids (`Sequence[Hashable]`): which prompt each response answers (equal ids = same group).
        target_length (`int`, defaults to 4000): the truncation length.
        adaptive (`bool`, defaults to False): DA-DLER's per-group target.
        easy_target_length (`int`, defaults to 2000): DA-DLER's target for easy groups.
        easy_accuracy (`float`, defaults to 0.5): DA-DLER's threshold (strictly above: easy).

    Returns:
        `list[float]`: one reward per response, 0 or 1.

    Example:
        >>> # group a: 3 of 4 within 4,000 (0.75 > 0.5) -> target 2,000; group b: 1 of 2 (not above 0.5) -> 4,000
        >>> dler_rewards([1, 1, 1, 0, 1, 1], [1500, 2500, 3900, 100, 3000, 4500], [True] * 6,
        ...              ["a", "a", "a", "a", "b", "b"], adaptive=True)
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """
    check_aligned("dler", correct=correct, lengths=lengths, finished=finished, group_ids=group_ids)

    def earns(i: int, target: int) -> bool:
        return bool(correct[i]) and bool(finished[i]) and lengths[i] <= target

    rewards = [0.0] * len(correct)
    for members in groups(group_ids).values():
        target = target_length
        if adaptive and sum(earns(i, target_length) for i in members) / len(members) > easy_accuracy:
            target = easy_target_length
        for i in members:
            rewards[i] = float(earns(i, target))
    return rewards


@register_reward("dler")
@dataclass(frozen=True)
class Dler:
    """DLER's truncation penalty as a group reward: :func:`dler_rewards` over a whole :class:`Rollout`.

    Args:
        target_length (`int`, defaults to 4000): the truncation length.
        adaptive (`bool`, defaults to False): DA-DLER.
        easy_target_length (`int`, defaults to 2000): DA-DLER's target for groups above ``easy_accuracy``.
        easy_accuracy (`float`, defaults to 0.5): DA-DLER's threshold, in [0, 1].

    Example:
        >>> reward = Dler(target_length=100)
        >>> reward(Rollout(group_ids=[0, 0, 0], correct=[True, True, True], lengths=[100, 101, 50],
        ...                finished=[True, True, False]))
        [1.0, 0.0, 0.0]
    """

    target_length: int = 4000
    adaptive: bool = False
    easy_target_length: int = 2000
    easy_accuracy: float = 0.5

    def __post_init__(self):
        for name in ("target_length", "easy_target_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"dler: {name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.adaptive, bool):
            raise ValueError(f"dler: adaptive must be true or false, got {self.adaptive!r}")
        if (
            isinstance(self.easy_accuracy, bool)
            or not isinstance(self.easy_accuracy, (int, float))
            or not 0 <= self.easy_accuracy <= 1
        ):
            raise ValueError(f"dler: easy_accuracy must be in [0, 1], got {self.easy_accuracy!r}")

    def __call__(self, rollout: Rollout) -> list[float]:
        return dler_rewards(
            rollout.correct,
            rollout.lengths,
            rollout.finished,
            rollout.group_ids,
            self.target_length,
            self.adaptive,
            self.easy_target_length,
            self.easy_accuracy,
        )
