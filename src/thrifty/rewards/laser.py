r"""LASER and LASER-D (Liu et al., 2025, arXiv 2505.15612; hkust-nlp/Laser), pure: a step bonus for correct answers
within a target length; LASER-D adapts the target to each difficulty bucket as training goes.

The correctness part :math:`C(y)` is the official code's (``verl/utils/reward_score/hf_math_verifier.py:
compute_score``, with its default ``format_reward: True``): +1 for a right answer, -0.5 for a wrong one, -1 when
the response has no finished thinking (no ``</think>``) or no boxed answer. Thrifty's verifier gives a verdict
only, so here a response cut at the generation limit (``finished`` False) earns -1 -- it has no ``</think>`` --
and any other wrong response -0.5 (the official -1 for a finished response without a boxed answer is not
distinguished). The bonus goes only to responses whose score is +1 (``length_penalty.py``:
``if score_lst[i] == 1.0``), so a truncated correct response earns -1 and no bonus.

:class:`Laser` is registered as ``laser``, :class:`LaserD` as ``laser-d`` (``explore=True``: LASER-DE).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from thrifty.rewards.registry import Rollout, check_aligned, groups, register_reward


CORRECT, WRONG, TRUNCATED = 1.0, -0.5, -1.0
"""C(y) of the official code: right, wrong, and cut off (no ``</think>``)."""

BUCKETS = ("low", "medium", "high")
"""LASER-D's difficulty buckets, by the group's rate of right answers: below 1/3, [1/3, 2/3), from 2/3."""


def correctness_scores(correct: Sequence[bool], finished: Sequence[bool]) -> list[float]:
    """C(y) per response: 1 right, -0.5 wrong, -1 cut at the generation limit (whatever its verdict).

    Example:
        >>> correctness_scores([True, False, True], [True, True, False])
        [1.0, -0.5, -1.0]
    """
    return [
        TRUNCATED if not done else CORRECT if right else WRONG for right, done in zip(correct, finished, strict=True)
    ]


def laser_rewards(
    correct: Sequence[bool], lengths: Sequence[int], finished: Sequence[bool], target_length: int, alpha: float = 0.5
) -> list[float]:
    r"""LASER's rewards: the correctness score plus a step bonus :math:`\alpha` for a right, finished answer within
    the target length :math:`L_T`.

    .. math:: r_i = C(y_i) + \alpha\,\mathbb{1}\{C(y_i) = 1\}\,\mathbb{1}\{L_i \le L_T\}

    with :math:`C(y) \in \{1, -0.5, -1\}` (right, wrong, cut off; see the module). Defaults: :math:`\alpha` 0.5
    (``length_reward_scalar=0.5``), :math:`L_T` 4,096 (``scripts/training/laser-1.5b/laser-1.5b-l4096.sh``; the
    repository also ships 2,048 and 8,192).

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        finished (`Sequence[bool]`): whether each response ended (False: cut at the generation limit).
        target_length (`int`): :math:`L_T`, in tokens.
        alpha (`float`, defaults to 0.5): the bonus.

    Returns:
        `list[float]`: one reward per response, in {1 + α, 1, -0.5, -1}.

    Example:
        >>> laser_rewards([True, True, False, True], [100, 101, 50, 300], [True, True, True, False], 100)
        [1.5, 1.0, -0.5, -1.0]
    """
    _check_lengths(correct, lengths, finished)
    scores = correctness_scores(correct, finished)
    return [s + alpha if s == CORRECT and n <= target_length else s for s, n in zip(scores, lengths, strict=True)]


def difficulty_buckets(correct: Sequence[bool], finished: Sequence[bool], group_ids: Sequence[Hashable]) -> list[str]:
    """Each response's difficulty bucket, from its group's rate of right, finished answers: ``high`` from 2/3,
    ``medium`` from 1/3, ``low`` below (``length_penalty.py: compute_length_reward_larse_d``: ``acc >= 2/3``,
    ``acc >= 1/3``; the rate counts responses whose score is +1).

    Example:
        >>> difficulty_buckets([1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 1, 1], ["a", "a", "a", "b", "b", "b"])
        ['high', 'high', 'high', 'medium', 'medium', 'medium']
    """
    bucket = [""] * len(group_ids)
    for members in groups(group_ids).values():
        rate = sum(bool(correct[i]) and bool(finished[i]) for i in members) / len(members)
        name = "high" if rate >= 2 / 3 else "medium" if rate >= 1 / 3 else "low"
        for i in members:
            bucket[i] = name
    return bucket


def laser_d_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    finished: Sequence[bool],
    group_ids: Sequence[Hashable],
    targets: Mapping[str, int | None],
    alpha: float = 0.5,
    explore: bool = False,
) -> list[float]:
    r"""LASER-D's rewards: LASER with the target of each response's difficulty bucket (:func:`difficulty_buckets`).

    .. math:: r_i = C(y_i) + \alpha\,\mathbb{1}\{C(y_i) = 1\}\,\mathbb{1}\{L_i \le L_{b(i)}\}

    ``explore=True`` is LASER-DE: a wrong, finished answer *longer* than its target also earns :math:`\alpha`
    (``compute_length_reward_larse_de``: ``score == -0.5`` and ``length > target``). The official code withholds
    it from responses it detects as repetitive (an n-gram check on the tokens); a :class:`Rollout` carries no
    tokens, so no response is withheld here.

    Args:
        correct, lengths, finished, group_ids: as in :func:`laser_rewards`, and which prompt each answers.
        targets (`Mapping[str, int | None]`): each bucket's target length; None: no target (every right answer earns
            the bonus, as the official code's fallback, the rollout's longest response).
        alpha (`float`, defaults to 0.5): the bonus.
        explore (`bool`, defaults to False): LASER-DE's bonus for long wrong answers.

    Returns:
        `list[float]`: one reward per response.

    Example:
        >>> # group a: 2 of 3 right -> high (target 100); group b: 1 of 3 -> medium (target 200)
        >>> laser_d_rewards([1, 1, 0, 1, 0, 0], [90, 150, 300, 150, 250, 50], [True] * 6, ["a"] * 3 + ["b"] * 3,
        ...                 {"low": None, "medium": 200, "high": 100}, explore=True)
        [1.5, 1.0, 0.0, 1.5, 0.0, -0.5]
    """
    _check_lengths(correct, lengths, finished)
    scores = correctness_scores(correct, finished)
    rewards = []
    for score, n, bucket in zip(scores, lengths, difficulty_buckets(correct, finished, group_ids), strict=True):
        target = targets.get(bucket)
        within = target is None or n <= target
        bonus = (score == CORRECT and within) or (explore and score == WRONG and not within)
        rewards.append(score + alpha if bonus else score)
    return rewards


def length_thresholds(lower_bound: int, upper_bound: int, interval: int) -> list[int]:
    """The candidate targets: ``lower_bound``, then every ``interval`` tokens up to ``upper_bound``
    (``constants.py: get_length_threshold``, whose scripts use 4,096 (or 1,024, 2,048), 16,384 and 1,024).

    Example:
        >>> length_thresholds(4096, 8192, 1024)
        [4096, 5120, 6144, 7168, 8192]
    """
    return list(range(lower_bound, upper_bound + 1, interval))


def choose_targets(
    coverage: Mapping[str, Mapping[str, Sequence[int] | int]], thresholds: Sequence[int], group_size: int
) -> dict[str, int | None]:
    r"""Each bucket's new target: the smallest threshold :math:`l` whose expected number of correct responses within
    :math:`l` stays at least 1 (``length_penalty.py: _choose_target_length``, ``round_method='floor'``,
    ``expected_n_correct=1``):

    .. math:: \text{ECR}_b(l) = \left\lfloor P_b(l)\, K_b \right\rfloor \ge 1

    where :math:`P_b(l)` is the fraction of the bucket's responses (right or not) no longer than :math:`l` and
    :math:`K_b` the bucket's least number of right answers per group: :math:`\lfloor 2K/3 \rfloor` for ``high``,
    :math:`\lfloor K/3 \rfloor` for ``medium``, 1 for ``low`` (:math:`K` the group size). A bucket with no
    threshold that qualifies (or no responses) gets None: no target.

    Args:
        coverage (`Mapping`): per bucket, ``{"responses": n, "within": [responses no longer than each threshold]}``.
        thresholds (`Sequence[int]`): the candidate targets, increasing (:func:`length_thresholds`).
        group_size (`int`): :math:`K`.

    Returns:
        `dict[str, int | None]`: a target per bucket.

    Example:
        >>> # K = 8: high needs floor(5 P) >= 1 (P >= 0.2), medium floor(2 P) >= 1 (P >= 0.5), low P = 1
        >>> counts = {"high": {"responses": 10, "within": [1, 2, 10]}, "medium": {"responses": 4, "within": [1, 2, 4]},
        ...           "low": {"responses": 8, "within": [0, 7, 7]}}
        >>> choose_targets(counts, [100, 200, 300], 8)
        {'low': None, 'medium': 200, 'high': 200}
    """
    least = {"high": math.floor(group_size * 2 / 3), "medium": math.floor(group_size / 3), "low": 1}
    targets: dict[str, int | None] = {}
    for bucket in BUCKETS:
        counts = coverage.get(bucket, {"responses": 0, "within": [0] * len(thresholds)})
        targets[bucket] = None
        for threshold, within in zip(thresholds, counts["within"], strict=True):
            share = within / counts["responses"] if counts["responses"] else 0.0
            if math.floor(share * least[bucket]) >= 1:
                targets[bucket] = threshold
                break
    return targets


def _check_lengths(correct, lengths, finished) -> None:
    check_aligned("laser", correct=correct, lengths=lengths, finished=finished)


def _check_alpha(name: str, alpha) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha < 0:
        raise ValueError(f"{name}: alpha must be a number >= 0, got {alpha!r}")


def _check_positive_int(name: str, parameter: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {parameter} must be a whole number >= 1, got {value!r}")


@register_reward("laser")
@dataclass(frozen=True)
class Laser:
    """LASER as a group reward: :func:`laser_rewards` over a whole :class:`Rollout`.

    Args:
        alpha (`float`, defaults to 0.5): the bonus for a right answer within the target (the paper's α).
        target_length (`int`, defaults to 4096): :math:`L_T`, in tokens as the trainer counts them.

    Example:
        >>> reward = Laser(alpha=0.5, target_length=100)
        >>> reward(Rollout(group_ids=[0, 0], correct=[True, True], lengths=[100, 101], finished=[True, True]))
        [1.5, 1.0]
    """

    alpha: float = 0.5
    target_length: int = 4096

    def __post_init__(self):
        _check_alpha("laser", self.alpha)
        _check_positive_int("laser", "target_length", self.target_length)

    def __call__(self, rollout: Rollout) -> list[float]:
        return laser_rewards(rollout.correct, rollout.lengths, rollout.finished, self.target_length, self.alpha)


@register_reward("laser-d")
@dataclass(frozen=True)
class LaserD:
    """LASER-D as a group reward: :func:`laser_d_rewards` with each bucket's target re-chosen by
    :func:`choose_targets` every ``every`` training rollouts.

    The official code re-chooses on a separate monitor set (500 training problems, ``data.monitor_files``) sampled
    every 20 trainer steps (``trainer.monitor_freq=20``; one veRL step is one rollout and its update) and once
    before training. Thrifty has no monitor set: it re-chooses from the *training* rollouts seen since the last
    choice, the current one included, and scores the current one with the new targets. The first training rollout
    sets the first targets; before it (an evaluation first) there are none and every right answer earns the bonus.
    Evaluation rollouts never change the state. The state -- the targets, the coverage counted since the last
    choice, the rollouts counted and the group size -- is saved in every checkpoint and restored on resume.

    Args:
        alpha (`float`, defaults to 0.5): the bonus (the paper's α).
        lower_bound (`int`, defaults to 4096): the shortest candidate target (``TARGET_LENGTH_LOWER_BOUND`` of
            ``laser-d-1.5b-l4096.sh``; the repository also ships 1,024 and 2,048).
        upper_bound (`int`, defaults to 16384): the longest candidate target (the scripts' ``MAX_RESPONSE_LENGTH``:
            set it to your generation limit).
        interval (`int`, defaults to 1024): the spacing of the candidates (``TARGET_LENGTH_INTERVAL``).
        every (`int`, defaults to 20): training rollouts between two choices (``trainer.monitor_freq=20``).
        explore (`bool`, defaults to False): LASER-DE (``length_penalty.method=larse-de``).

    Example:
        >>> reward = LaserD(lower_bound=100, upper_bound=300, interval=100)
        >>> rollout = Rollout(group_ids=[0, 0, 0], correct=[True, True, False], lengths=[90, 250, 120],
        ...                   finished=[True, True, True])
        >>> reward(rollout)  # high bucket, K = 3: floor(2 P) >= 1 needs P >= 1/2 -> 200 (2 of 3 within)
        [1.5, 1.0, -0.5]
        >>> reward.state_dict()["targets"]
        {'low': None, 'medium': None, 'high': 200}
    """

    alpha: float = 0.5
    lower_bound: int = 4096
    upper_bound: int = 16384
    interval: int = 1024
    every: int = 20
    explore: bool = False
    state: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        _check_alpha("laser-d", self.alpha)
        for parameter in ("lower_bound", "upper_bound", "interval", "every"):
            _check_positive_int("laser-d", parameter, getattr(self, parameter))
        if self.upper_bound < self.lower_bound:
            raise ValueError(
                f"laser-d: upper_bound must be >= lower_bound ({self.lower_bound}), got {self.upper_bound!r}"
            )
        if not isinstance(self.explore, bool):
            raise ValueError(f"laser-d: explore must be true or false, got {self.explore!r}")
        self.state.update(self._fresh())

    @property
    def thresholds(self) -> list[int]:
        return length_thresholds(self.lower_bound, self.upper_bound, self.interval)

    def _fresh(self) -> dict:
        return {"targets": None, "observed": 0, "coverage": self._empty_coverage(), "group_size": 0}

    def _empty_coverage(self) -> dict:
        return {bucket: {"responses": 0, "within": [0] * len(self.thresholds)} for bucket in BUCKETS}

    def __call__(self, rollout: Rollout) -> list[float]:
        if rollout.training:
            self._observe(rollout)
        targets = self.state["targets"] or dict.fromkeys(BUCKETS)
        return laser_d_rewards(
            rollout.correct, rollout.lengths, rollout.finished, rollout.group_ids, targets, self.alpha, self.explore
        )

    def metrics(self, rollout: Rollout) -> dict[str, float]:
        """Each bucket's target in force, logged as ``reward/target/<bucket>`` (none yet: not logged)."""
        targets = self.state["targets"] or {}
        return {f"target/{bucket}": t for bucket, t in targets.items() if t is not None}

    def _observe(self, rollout: Rollout) -> None:
        """Count the rollout's coverage per bucket; choose new targets on the first rollout and every ``every``."""
        thresholds, coverage = self.thresholds, self.state["coverage"]
        buckets = difficulty_buckets(rollout.correct, rollout.finished, rollout.group_ids)
        for n, bucket in zip(rollout.lengths, buckets, strict=True):
            coverage[bucket]["responses"] += 1
            coverage[bucket]["within"] = [
                c + (n <= t) for c, t in zip(coverage[bucket]["within"], thresholds, strict=True)
            ]
        self.state["group_size"] = max(len(m) for m in groups(rollout.group_ids).values()) if len(rollout) else 0
        self.state["observed"] += 1
        if self.state["targets"] is None or self.state["observed"] >= self.every:
            self.state["targets"] = choose_targets(coverage, thresholds, self.state["group_size"])
            self.state["observed"], self.state["coverage"] = 0, self._empty_coverage()

    def state_dict(self) -> dict:
        """The targets and the coverage counted since they were chosen (JSON)."""
        return {
            "targets": self.state["targets"],
            "observed": self.state["observed"],
            "coverage": {
                b: {"responses": c["responses"], "within": list(c["within"])}
                for b, c in self.state["coverage"].items()
            },
            "group_size": self.state["group_size"],
            "thresholds": self.thresholds,
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("thresholds") != self.thresholds:
            raise ValueError(
                f"laser-d: the saved state counts coverage at thresholds {state.get('thresholds')}, this reward at "
                f"{self.thresholds} (lower_bound, upper_bound or interval changed)"
            )
        self.state.clear()
        self.state.update(
            targets=state["targets"],
            observed=int(state["observed"]),
            coverage={
                b: {"responses": c["responses"], "within": list(c["within"])} for b, c in state["coverage"].items()
            },
            group_size=int(state["group_size"]),
        )
