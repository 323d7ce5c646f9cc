"""Group rewards, pure and registered by name: a whole rollout's scored responses in, one reward per response out.

:mod:`~thrifty.rewards.registry` defines what a reward sees (:class:`Rollout`) and the registry;
:mod:`~thrifty.rewards.length_penalty` is the paper's reward (``length_penalized``). Each further method is one
module here that registers its reward; the trainer picks it by name (``--reward``) and never changes.
:mod:`~thrifty.rewards.trl_reward` is the paper's reward as a drop-in reward function for a plain TRL
``GRPOTrainer`` (:func:`make_length_penalty_reward`), with its group-statistics caveat.
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
from thrifty.rewards.trl_reward import IncompleteGroupError, make_length_penalty_reward


__all__ = [
    "REWARDS",
    "GroupReward",
    "IncompleteGroupError",
    "LengthPenalized",
    "Rollout",
    "StatefulReward",
    "groups",
    "length_penalized_rewards",
    "lookup",
    "make_length_penalty_reward",
    "make_reward",
    "register_reward",
    "reward_parameters",
]
