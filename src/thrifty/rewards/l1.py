"""L1's length-controlled rewards (LCPO; Aggarwal & Welleck, 2025, arXiv 2503.04697; cmu-l3/l1), pure, and as the
group rewards ``l1-exact`` and ``l1-max``.

Each training row carries a token budget :math:`n_{gold}`, drawn once per row and written into its prompt ("Think
for N tokens." / "Think for maximum N tokens."); the reward compares the response's length with it. The budget is
drawn uniformly from the integers 100..4000 (cmu-l3/l1 ``scripts/data/deepscaler_dataset.py``:
``random.randint(100, 4000)``). The rewards are :class:`~thrifty.rewards.registry.PromptedReward`: the trainer asks
them for a row's budget (:meth:`L1Exact.prompt_columns`) and its instruction, and hands the budget back in
``rollout.columns["target_length"]``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from thrifty.data.prompts import budget_instruction
from thrifty.rewards.registry import Rollout, check_aligned, register_reward


TARGET_COLUMN = "target_length"
"""The dataset column holding each row's token budget :math:`n_{gold}`."""


def l1_exact_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    targets: Sequence[int],
    alpha: float = 0.0003,
    finished: Sequence[bool] | None = None,
) -> list[float]:
    r"""L1-Exact (LCPO-Exact): correctness minus the distance to the budget, per token.

    .. math::

        r_i = c_i - \alpha \, |n_{gold,i} - L_i|

    with :math:`\alpha = 0.0003` (cmu-l3/l1 ``scripts/train/run_l1_exact.sh``: ``reward_config.alpha=0.0003``,
    ``linear_reward=True``, ``multiplier_reward=False``; ``math_reward.py``'s ``get_delta_score_linear`` adds
    :math:`-\alpha|n_{gold} - L|` to the 0/1 correctness). No group statistics: each response on its own.

    A truncated response (no EOS) counts as wrong (:math:`c_i = 0`) and still pays for its length: L1's grader
    looks for the answer after ``</think>`` and finds none in a response cut while thinking.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens (L1 counts every generated token).
        targets (`Sequence[int]`): each response's budget :math:`n_{gold}` (its prompt's).
        alpha (`float`, defaults to 0.0003): penalty per token of distance to the budget, >= 0.
        finished (`Sequence[bool]`, *optional*): whether each response ended with EOS (default: all did).

    Returns:
        `list[float]`: one reward per response, at most 1.

    Example:
        >>> # budget 1000: 1 - 0.0003 * |1000 - 1200| = 0.94; wrong, 500 tokens: 0 - 0.0003 * 500 = -0.15
        >>> [round(r, 6) for r in l1_exact_rewards([1, 0], [1200, 500], [1000, 1000])]
        [0.94, -0.15]
    """
    _check_alpha("l1-exact", alpha)
    right = _right(correct, lengths, targets, finished)
    return [float(c) - alpha * abs(n - length) for c, length, n in zip(right, lengths, targets, strict=True)]


def l1_max_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    targets: Sequence[int],
    alpha: float = 0.005,
    delta: float = 0.5,
    finished: Sequence[bool] | None = None,
) -> list[float]:
    r"""L1-Max (LCPO-Max): a correct answer earns up to 1, less the further it runs past the budget.

    .. math::

        r_i = c_i \cdot \operatorname{clip}\!\left(\alpha\,(n_{gold,i} - L_i) + \delta,\ 0,\ 1\right)

    with :math:`\delta = 0.5` (the paper) and :math:`\alpha = 0.005`: cmu-l3/l1's code computes
    :math:`(\operatorname{clip}(a\,(n_{gold} - L), -1, 1) + 1)/2` (``math_reward.py``'s
    ``get_delta_score_linear_both``, multiplied by correctness with ``reward_config.multiplier_reward``), which is the
    formula above with :math:`\alpha = a/2`, :math:`\delta = 1/2`, at the config default :math:`a` = 0.01
    (``config/ppo_trainer.yaml``). The released ``scripts/train/run_l1_max.sh`` sets no ``reward_config`` (as written
    it would train on correctness alone; the switches may have come through its extra arguments), so
    :math:`\alpha = 0.005` is the code's default, not a logged value. A correct response at the budget earns 0.5, one
    100 or more tokens under it 1, one 100 or more over it 0.

    A truncated response (no EOS) counts as wrong and earns 0.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        targets (`Sequence[int]`): each response's budget :math:`n_{gold}`.
        alpha (`float`, defaults to 0.005): slope per token, >= 0.
        delta (`float`, defaults to 0.5): the reward of a correct response exactly at the budget, in [0, 1].
        finished (`Sequence[bool]`, *optional*): whether each response ended with EOS (default: all did).

    Returns:
        `list[float]`: one reward per response, in [0, 1].

    Example:
        >>> # budget 1000: 0.005 * (1000 - 1040) + 0.5 = 0.3; 0.005 * (1000 - 800) + 0.5 = 1.5 -> 1; wrong -> 0
        >>> [round(r, 6) for r in l1_max_rewards([1, 1, 0], [1040, 800, 900], [1000, 1000, 1000])]
        [0.3, 1.0, 0.0]
    """
    _check_alpha("l1-max", alpha)
    _check_delta(delta)
    right = _right(correct, lengths, targets, finished)
    return [
        float(c) * min(1.0, max(0.0, alpha * (n - length) + delta))
        for c, length, n in zip(right, lengths, targets, strict=True)
    ]


@dataclass(frozen=True)
class _L1Reward:
    """What L1-Exact and L1-Max share: the budget drawn per training row, its instruction, reading it back."""

    min_budget: int = 100
    max_budget: int = 4000

    mode = "exact"  # budget_instruction's mode; a class attribute, not a parameter

    def _check_budgets(self, name: str) -> None:
        for field_name in ("min_budget", "max_budget"):
            value = getattr(self, field_name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                raise ValueError(f"{name}: {field_name} must be a positive integer, got {value!r}")
        if self.min_budget > self.max_budget:
            raise ValueError(f"{name}: min_budget must be <= max_budget, got {self.min_budget} > {self.max_budget}")

    def prompt_columns(self, rng: random.Random) -> dict[str, Any]:
        """One training row's budget, uniform over the integers ``min_budget..max_budget`` (both included, as
        L1's ``random.randint(100, 4000)``)."""
        return {TARGET_COLUMN: rng.randint(self.min_budget, self.max_budget)}

    def instruction(self, columns: Mapping[str, Any]) -> str:
        """The text appended to the row's question (:func:`thrifty.data.prompts.budget_instruction`)."""
        return budget_instruction(columns[TARGET_COLUMN], self.mode)

    def _targets(self, rollout: Rollout, name: str) -> Sequence[int]:
        if TARGET_COLUMN not in rollout.columns:
            raise ValueError(
                f"{name}: the rollout has no {TARGET_COLUMN!r} column (each response's token budget); columns: "
                f"{sorted(rollout.columns) or 'none'}. Train with --reward {name} so that the trainer writes a "
                "budget into every prompt, or give the training set that column."
            )
        return rollout.columns[TARGET_COLUMN]


@register_reward("l1-exact")
@dataclass(frozen=True)
class L1Exact(_L1Reward):
    """L1-Exact as a group reward: :func:`l1_exact_rewards` against each prompt's budget ("Think for N tokens.").

    Args:
        alpha (`float`, defaults to 0.0003): penalty per token of distance to the budget (L1's ``run_l1_exact.sh``).
        min_budget (`int`, defaults to 100): smallest budget drawn for a training row (L1's data script).
        max_budget (`int`, defaults to 4000): largest budget drawn for a training row (L1's data script).

    Example:
        >>> reward = L1Exact()
        >>> reward.instruction({"target_length": 1000})
        ' Think for 1000 tokens.'
        >>> rollout = Rollout(group_ids=[0, 0], correct=[True, True], lengths=[1000, 1500], finished=[True, True],
        ...                   columns={"target_length": [1000, 1000]})
        >>> [round(r, 6) for r in reward(rollout)]  # 1 - 0.0003 * 0, 1 - 0.0003 * 500
        [1.0, 0.85]
    """

    alpha: float = 0.0003

    def __post_init__(self):
        _check_alpha("l1-exact", self.alpha)
        self._check_budgets("l1-exact")

    def __call__(self, rollout: Rollout) -> list[float]:
        targets = self._targets(rollout, "l1-exact")
        return l1_exact_rewards(rollout.correct, rollout.lengths, targets, self.alpha, rollout.finished)


@register_reward("l1-max")
@dataclass(frozen=True)
class L1Max(_L1Reward):
    """L1-Max as a group reward: :func:`l1_max_rewards` against each prompt's budget ("Think for maximum N
    tokens.").

    Args:
        alpha (`float`, defaults to 0.005): slope per token (cmu-l3/l1's code; see :func:`l1_max_rewards`).
        delta (`float`, defaults to 0.5): reward of a correct response exactly at the budget (the paper).
        min_budget (`int`, defaults to 100): smallest budget drawn for a training row.
        max_budget (`int`, defaults to 4000): largest budget drawn for a training row.

    Example:
        >>> L1Max().instruction({"target_length": 64})
        ' Think for maximum 64 tokens.'
    """

    alpha: float = 0.005
    delta: float = 0.5

    mode = "max"

    def __post_init__(self):
        _check_alpha("l1-max", self.alpha)
        _check_delta(self.delta)
        self._check_budgets("l1-max")

    def __call__(self, rollout: Rollout) -> list[float]:
        targets = self._targets(rollout, "l1-max")
        return l1_max_rewards(rollout.correct, rollout.lengths, targets, self.alpha, self.delta, rollout.finished)


def _right(correct, lengths, targets, finished) -> list[bool]:
    """Correct and finished, per response, after checking that every list has one entry per response."""
    finished = [True] * len(correct) if finished is None else finished
    check_aligned("l1", correct=correct, lengths=lengths, targets=targets, finished=finished)
    return [bool(c) and bool(f) for c, f in zip(correct, finished, strict=True)]


def _check_alpha(name: str, alpha) -> None:
    if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and alpha >= 0):
        raise ValueError(f"{name}: alpha must be a number >= 0, got {alpha!r}")


def _check_delta(delta) -> None:
    if not (isinstance(delta, (int, float)) and not isinstance(delta, bool) and 0 <= delta <= 1):
        raise ValueError(f"l1-max: delta must be in [0, 1], got {delta!r}")
