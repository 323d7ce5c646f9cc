"""DAPO's reward with its soft overlong punishment (Yu et al., 2025, arXiv 2503.14476), pure, and as the group reward
``dapo-overlong``: +1 for a right answer, -1 otherwise, plus TRL's ``get_soft_overlong_punishment`` of the length.

The length term is TRL's (``trl.rewards.get_soft_overlong_punishment``, DAPO's Eq. 13), called here, not
re-implemented. The rest of DAPO is the optimiser (clip-higher, token-level loss, dynamic sampling): recipe keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from thrifty.rewards.registry import Rollout, check_aligned, register_reward


def dapo_rewards(
    correct: Sequence[bool],
    lengths: Sequence[int],
    max_length: int = 20480,
    cache: int = 4096,
    finished: Sequence[bool] | None = None,
) -> list[float]:
    r"""DAPO's rule-based reward plus its soft overlong punishment.

    .. math::

        r_i = \begin{cases} 1 & c_i = 1 \\ -1 & c_i = 0 \end{cases} \; + \;
        \begin{cases} 0 & L_i \le L_{\max} - L_{cache} \\
        \dfrac{(L_{\max} - L_{cache}) - L_i}{L_{cache}} & L_{\max} - L_{cache} < L_i \le L_{\max} \\
        -1 & L_i > L_{\max} \end{cases}

    with :math:`L_{\max} = 20480`, :math:`L_{cache} = 4096` (DAPO §3.4 and §4.1: 16,384 tokens expected, 4,096 of
    soft punishment cache). The correctness term is DAPO's rule-based reward (§2.4: +1 equivalent, -1 otherwise),
    not 0/1.

    A truncated response (no EOS) counts as wrong (-1); cut at :math:`L_{\max}`, it also pays the full -1 of the
    punishment (DAPO generates up to :math:`L_{\max}`; so does a recipe that sets ``max_completion_length`` to
    ``max_length``).

    Args:
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens.
        max_length (`int`, defaults to 20480): :math:`L_{\max}`, TRL's ``max_completion_len``.
        cache (`int`, defaults to 4096): :math:`L_{cache}`, TRL's ``soft_punish_cache``, in [0, max_length].
        finished (`Sequence[bool]`, *optional*): whether each response ended with EOS (default: all did).

    Returns:
        `list[float]`: one reward per response, in [-2, 1].

    Example:
        >>> # L_max 100, L_cache 20: 50 tokens right -> 1 + 0; 90 right -> 1 + (80 - 90)/20 = 0.5;
        >>> # 100 wrong -> -1 + (80 - 100)/20 = -2; 120 right -> 1 - 1 = 0
        >>> dapo_rewards([1, 1, 0, 1], [50, 90, 100, 120], max_length=100, cache=20)
        [1.0, 0.5, -2.0, 0.0]
    """
    from trl.rewards import get_soft_overlong_punishment

    _check(max_length, cache)
    finished = [True] * len(correct) if finished is None else finished
    check_aligned("dapo-overlong", correct=correct, lengths=lengths, finished=finished)
    punishment = get_soft_overlong_punishment(max_completion_len=max_length, soft_punish_cache=cache)
    overlong = punishment([range(n) for n in lengths])  # TRL reads only len() of each completion's ids
    return [(1.0 if c and f else -1.0) + float(p) for c, f, p in zip(correct, finished, overlong, strict=True)]


@register_reward("dapo-overlong")
@dataclass(frozen=True)
class DapoOverlong:
    """DAPO's ±1 reward with its soft overlong punishment as a group reward (:func:`dapo_rewards`).

    Args:
        max_length (`int`, defaults to 20480): :math:`L_{\\max}` (DAPO §4.1); scale it with the generation limit.
        cache (`int`, defaults to 4096): :math:`L_{cache}`, the soft punishment interval before it (DAPO §4.1).

    Example:
        >>> rollout = Rollout(group_ids=[0, 0], correct=[True, False], lengths=[90, 10], finished=[True, True])
        >>> DapoOverlong(max_length=100, cache=20)(rollout)
        [0.5, -1.0]
    """

    max_length: int = 20480
    cache: int = 4096

    def __post_init__(self):
        _check(self.max_length, self.cache)

    def __call__(self, rollout: Rollout) -> list[float]:
        return dapo_rewards(rollout.correct, rollout.lengths, self.max_length, self.cache, rollout.finished)


def _check(max_length, cache) -> None:
    if not (isinstance(max_length, int) and not isinstance(max_length, bool) and max_length > 0):
        raise ValueError(f"dapo-overlong: max_length must be a positive integer, got {max_length!r}")
    if not (isinstance(cache, int) and not isinstance(cache, bool) and 0 <= cache <= max_length):
        raise ValueError(f"dapo-overlong: cache must be an integer in [0, max_length={max_length}], got {cache!r}")
