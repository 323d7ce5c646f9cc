"""Group rewards, pure and registered by name: a whole rollout's scored responses in, one reward per response out.

:mod:`~thrifty.rewards.registry` defines what a reward sees (:class:`Rollout`) and the registry;
:mod:`~thrifty.rewards.length_penalty` is the paper's reward (``length_penalized``). Each further method is one
module here that registers its reward; the trainer picks it by name (``--reward``) and never changes.
"""

from thrifty.rewards.length_penalty import LengthPenalized, length_penalized_rewards
from thrifty.rewards.registry import (
    REWARDS,
    GroupReward,
    Rollout,
    StatefulReward,
    groups,
    lookup,
    make_reward,
    register_reward,
    reward_parameters,
)


__all__ = [
    "REWARDS",
    "GroupReward",
    "LengthPenalized",
    "Rollout",
    "StatefulReward",
    "groups",
    "length_penalized_rewards",
    "lookup",
    "make_reward",
    "register_reward",
    "reward_parameters",
]
