r"""HAPO (Huang et al., 2025, arXiv 2505.11225; HCY123902/HAPO), pure: a length reward against the shortest (or mean)
right answer the policy has produced for the same problem so far.

The official code (``grpo_trainer.py: combined_reward_func``, ``utils.py: compute_len_reward``) reads the history
before scoring a batch, scores every response against it, and only then folds the batch's right answers into it:
a response is never compared with itself or its batch. :class:`Hapo` keeps that order, registered as ``hapo``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from thrifty.rewards.registry import Rollout, check_aligned, register_reward


MODES = ("min", "mean")
"""How the history aggregates a problem's right answers (the official ``--mode``)."""


def hapo_length_reward(length: int, history: float | None, correct: bool) -> float:
    r"""HAPO's length reward of one response (``utils.py: compute_len_reward``, ``--type_lr cosine``):

    .. math::

        f = \begin{cases} \cos\left(\frac{\pi}{2} \cdot \frac{L}{h}\right) & L < 2h \\ -1 & L \ge 2h \end{cases},
        \qquad \text{right: } \max(f, -0.7), \quad \text{wrong: } \min(f, 0)

    and 0 while the problem has no history (no right answer seen yet). The -0.7 floor keeps every right answer
    above every wrong one when the weight is at most 1 (the README: "to ensure that any correct response has a
    higher combined reward than any incorrect response").

    Example:
        >>> hapo_length_reward(50, 100.0, True), hapo_length_reward(250, 100.0, True)  # cos(pi/4); floor -0.7
        (0.7071067811865476, -0.7)
        >>> hapo_length_reward(50, 100.0, False), hapo_length_reward(150, 100.0, False)  # wrong: never above 0
        (0.0, -0.7071067811865475)
        >>> hapo_length_reward(9, None, True)
        0.0
    """
    if history is None or history <= 0:
        return 0.0
    f = math.cos(math.pi / 2 * length / history) if length < 2 * history else -1.0
    return max(f, -0.7) if correct else min(f, 0.0)


def hapo_rewards(
    correct: Sequence[bool], lengths: Sequence[int], histories: Sequence[float | None], weight: float = 1.0
) -> list[float]:
    r"""HAPO's rewards: correctness plus the weighted length reward against each response's problem history.

    .. math:: r_i = \mathbb{1}\{\text{correct}_i\} + w \cdot f(L_i, h_{p(i)})

    Truncated responses are not singled out (the official code grades every completion's text as it is): a
    response cut at the generation limit earns what its verdict and length give.

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        histories (`Sequence[float | None]`): the history :math:`h` of each response's problem (None: none yet).
        weight (`float`, defaults to 1.0): :math:`w` (``--w_lr 1.0``).

    Returns:
        `list[float]`: one reward per response, in [-1, 2].

    Example:
        >>> # h = 100: right at 50 -> 1 + cos(pi/4); right at 100 -> 1 + cos(pi/2) = 1; wrong at 300 -> -1
        >>> [round(r, 4) for r in hapo_rewards([1, 1, 0, 1], [50, 100, 300, 70], [100.0, 100.0, 100.0, None])]
        [1.7071, 1.0, -1.0, 1.0]
    """
    check_aligned("hapo", correct=correct, lengths=lengths, histories=histories)
    return [
        float(bool(c)) + weight * hapo_length_reward(n, h, bool(c))
        for c, n, h in zip(correct, lengths, histories, strict=True)
    ]


def updated_history(
    history: Mapping[str, float],
    counts: Mapping[str, int],
    problem_ids: Sequence[str],
    correct: Sequence[bool],
    lengths: Sequence[int],
    mode: str = "min",
) -> tuple[dict[str, float], dict[str, int]]:
    """The history after a rollout: each problem's right answers folded in -- the shortest so far (``min``), or the
    mean of every right answer so far (``mean``: the official running mean weighted by counts). ``counts`` is how
    many right answers each problem's history holds.

    Returns:
        `tuple[dict, dict]`: the new history and counts (the arguments are not changed).

    Example:
        >>> updated_history({"p": 80.0}, {"p": 1}, ["p", "p", "q", "r"], [1, 1, 1, 0], [60, 90, 40, 10])
        ({'p': 60, 'q': 40}, {'p': 3, 'q': 1})
        >>> updated_history({"p": 80.0}, {"p": 1}, ["p", "p"], [1, 1], [60, 90], mode="mean")  # (80 + 60 + 90) / 3
        ({'p': 76.66666666666667}, {'p': 3})
    """
    history, counts = dict(history), dict(counts)
    right: dict[str, list[int]] = {}
    for pid, c, n in zip(problem_ids, correct, lengths, strict=True):
        if c:
            right.setdefault(str(pid), []).append(n)
    for pid, seen in right.items():
        before = counts.get(pid, 0)
        if mode == "min":
            history[pid] = min(min(seen), history.get(pid, math.inf))
        else:
            mean = sum(seen) / len(seen)
            history[pid] = mean if before == 0 else (before * history[pid] + len(seen) * mean) / (before + len(seen))
        counts[pid] = before + len(seen)
    return history, counts


@register_reward("hapo")
@dataclass(frozen=True)
class Hapo:
    """HAPO as a group reward: :func:`hapo_rewards` against a per-problem history (keyed by
    :attr:`Rollout.problem_ids`), then the training rollout's right answers folded in (:func:`updated_history`).

    The official code keeps a history per process and merges them at every batch (``gather_len_dict``: the min,
    or the count-weighted mean, over processes); here every process sees the whole rollout, so one history, the
    same on every process. Evaluation rollouts are scored against it but never change it (the official code keeps
    evaluation problems under separate ids). The history is saved in every checkpoint and restored on resume.

    Args:
        weight (`float`, defaults to 1.0): :math:`w`, the length reward's weight, in [0, 1] (README: above 1 a wrong
            answer could outscore a right one).
        mode (`str`, defaults to ``"min"``): ``min`` (the shortest right answer so far) or ``mean``.

    Example:
        >>> reward = Hapo()
        >>> first = Rollout(group_ids=[0, 0], correct=[True, True], lengths=[40, 80], finished=[True, True],
        ...                 problem_ids=["p", "p"])
        >>> reward(first), reward.state_dict()["history"]  # no history yet: correctness only; then h = 40
        ([1.0, 1.0], {'p': 40})
        >>> [round(r, 4) for r in reward(first)]  # cos(pi/2), cos(pi) -> -0.7 floor
        [1.0, 0.3]
    """

    weight: float = 1.0
    mode: str = "min"
    history: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    counts: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) or not 0 <= self.weight <= 1:
            raise ValueError(f"hapo: weight must be in [0, 1], got {self.weight!r}")
        if self.mode not in MODES:
            raise ValueError(f"hapo: mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    def __call__(self, rollout: Rollout) -> list[float]:
        if rollout.problem_ids is None:
            raise ValueError("hapo: the rollout has no problem_ids; the history is kept per problem")
        keys = [str(pid) for pid in rollout.problem_ids]
        rewards = hapo_rewards(rollout.correct, rollout.lengths, [self.history.get(k) for k in keys], self.weight)
        if rollout.training:
            history, counts = updated_history(
                self.history, self.counts, keys, rollout.correct, rollout.lengths, self.mode
            )
            self.history.clear(), self.history.update(history)
            self.counts.clear(), self.counts.update(counts)
        return rewards

    def metrics(self, rollout: Rollout) -> dict[str, float]:
        """How many problems have a history, logged as ``reward/problems_remembered``."""
        return {"problems_remembered": len(self.history)}

    def state_dict(self) -> dict:
        """The per-problem history and how many right answers each holds (JSON)."""
        return {"mode": self.mode, "history": dict(self.history), "counts": dict(self.counts)}

    def load_state_dict(self, state: dict) -> None:
        if state.get("mode") != self.mode:
            raise ValueError(
                f"hapo: the saved history was kept with mode {state.get('mode')!r}, this reward's is {self.mode!r}"
            )
        self.history.clear(), self.history.update(state["history"])
        self.counts.clear(), self.counts.update({k: int(v) for k, v in state["counts"].items()})
