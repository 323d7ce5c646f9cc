"""ThinkPrune's reward (Hou et al., 2025, arXiv 2504.01296; UCSB-NLP-Chang/ThinkPrune), pure, and as the group
reward ``thinkprune``: correctness under a token limit that tightens round by round (4k, then 3k, then 2k).

ThinkPrune cuts generation at the limit, so a response that has not finished by then has no answer and earns 0.
thrifty generates up to ``max_completion_length`` whatever the round, and gives a response longer than the current
limit 0 instead: the same reward, at the cost of generating the tokens past the limit, and such a response is cut
later (so it still trains on those tokens, with reward 0) -- see docs/FIDELITY.md. ThinkPrune's rounds are separate
runs, each starting from the previous round's checkpoint with a fresh optimizer and reference model; here they are
one run whose limit changes at fixed optimizer steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.rewards.registry import Rollout, check_aligned, register_reward


def thinkprune_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    limit: int,
    finished: Sequence[bool] | None = None,
) -> list[float]:
    r"""ThinkPrune's reward under one token limit :math:`L_{lim}`: 1 for a right answer that finished within it.

    .. math::

        r_i = \mathbb{1}\{c_i = 1 \wedge \text{finished}_i \wedge L_i \le L_{lim}\}

    (the correctness reward of ThinkPrune's verl fork, ``verl/utils/reward_score/qwen_math.py``: 1 right, 0
    otherwise; a response cut at the limit has no final answer). A truncated response earns 0 whatever its length.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens (the whole response: ThinkPrune limits all of it).
        limit (`int`): the token limit :math:`L_{lim}`, > 0.
        finished (`Sequence[bool]`, *optional*): whether each response ended with EOS (default: all did).

    Returns:
        `list[float]`: one reward per response, 0 or 1.

    Example:
        >>> # limit 100: right in 80 -> 1; right in 100 -> 1 (within); right in 101 -> 0; wrong in 50 -> 0
        >>> thinkprune_rewards([1, 1, 1, 0], [80, 100, 101, 50], limit=100)
        [1.0, 1.0, 0.0, 0.0]
    """
    if not _positive_int(limit):
        raise ValueError(f"thinkprune: limit must be a positive integer, got {limit!r}")
    finished = [True] * len(correct) if finished is None else finished
    check_aligned("thinkprune", correct=correct, lengths=lengths, finished=finished)
    return [float(bool(c) and bool(f) and n <= limit) for c, n, f in zip(correct, lengths, finished, strict=True)]


@register_reward("thinkprune")
@dataclass(frozen=True)
class ThinkPrune:
    """ThinkPrune as a group reward: :func:`thinkprune_rewards` under the limit of the current round, round
    ``k`` covering optimizer steps ``k * steps_per_limit`` to ``(k + 1) * steps_per_limit - 1`` (the last round
    lasts to the end of training).

    Args:
        limits (`Sequence[int]`, defaults to (4000, 3000, 2000)): each round's token limit (the paper's iterative
            pruning of DeepSeek-R1-Distill-Qwen-1.5B: 4k, then 3k, then 2k).
        steps_per_limit (`int`, defaults to 180): optimizer steps per round (ThinkPrune's README starts the 3k round
            from the 4k round's ``global_step_180``; it gives no step count for the 3k round).

    Example:
        >>> reward = ThinkPrune(limits=[100, 50], steps_per_limit=10)
        >>> reward.limit_at(9), reward.limit_at(10), reward.limit_at(500)
        (100, 50, 50)
        >>> reward(Rollout(group_ids=[0, 0], correct=[True, True], lengths=[40, 80], finished=[True, True], step=12))
        [1.0, 0.0]
    """

    limits: Sequence[int] = (4000, 3000, 2000)
    steps_per_limit: int = 180

    def __post_init__(self):
        if isinstance(self.limits, (str, bytes)) or not isinstance(self.limits, Sequence) or not self.limits:
            raise ValueError(f"thinkprune: limits must be a non-empty list of positive integers, got {self.limits!r}")
        if not all(_positive_int(limit) for limit in self.limits):
            raise ValueError(f"thinkprune: limits must be positive integers, got {list(self.limits)!r}")
        object.__setattr__(self, "limits", tuple(self.limits))  # a YAML list arrives as a list; keep it immutable
        if not _positive_int(self.steps_per_limit):
            raise ValueError(f"thinkprune: steps_per_limit must be a positive integer, got {self.steps_per_limit!r}")

    def limit_at(self, step: int) -> int:
        """The token limit of the round that optimizer step ``step`` belongs to."""
        return self.limits[min(step // self.steps_per_limit, len(self.limits) - 1)]

    def metrics(self, rollout: Rollout) -> dict[str, float]:
        """The round's limit, logged as ``reward/limit``."""
        return {"limit": self.limit_at(rollout.step)}

    def __call__(self, rollout: Rollout) -> list[float]:
        return thinkprune_rewards(rollout.correct, rollout.lengths, self.limit_at(rollout.step), rollout.finished)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
