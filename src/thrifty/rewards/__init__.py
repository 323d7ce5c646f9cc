"""Group rewards, pure and registered by name: a whole rollout's scored responses in, one reward per response out.

:mod:`~thrifty.rewards.registry` defines what a reward sees (:class:`Rollout`) and the registry;
:mod:`~thrifty.rewards.length_penalty` is the paper's reward (``length_penalized``, also ``arora``). Each peer
method is one module here that registers its reward; the trainer picks it by name (``--reward``) and never changes:

* :mod:`~thrifty.rewards.kimi` -- ``kimi`` (Kimi k1.5's length reward, with its warm-up);
* :mod:`~thrifty.rewards.l1` -- ``l1-exact``, ``l1-max`` (L1: a token budget written into the prompt);
* :mod:`~thrifty.rewards.shorterbetter` -- ``shorterbetter`` (distance to the shortest correct response);
* :mod:`~thrifty.rewards.dapo` -- ``dapo-overlong`` (DAPO's soft overlong punishment, TRL's);
* :mod:`~thrifty.rewards.thinkprune` -- ``thinkprune`` (a hard limit, tightened in rounds);
* :mod:`~thrifty.rewards.laser` -- ``laser``, ``laser-d`` (a bonus within a target length, adaptive by difficulty);
* :mod:`~thrifty.rewards.hapo` -- ``hapo`` (each problem's history of its shortest correct response);
* :mod:`~thrifty.rewards.alp` -- ``alp`` (a per-token penalty scaled by the solve rate);
* :mod:`~thrifty.rewards.dler` -- ``dler`` (a truncation penalty beyond a target).
:mod:`~thrifty.rewards.trl_reward` is the paper's reward as a drop-in reward function for a plain TRL
``GRPOTrainer`` (:func:`make_length_penalty_reward`), with its group-statistics caveat.
"""

import importlib

from thrifty.rewards.length_penalty import LengthPenalized, length_penalized_rewards
from thrifty.rewards.registry import (
    REWARDS,
    GroupReward,
    PromptedReward,
    Rollout,
    StatefulReward,
    groups,
    kept_groups,
    lookup,
    make_reward,
    register_reward,
    reward_default,
    reward_factory,
    reward_parameters,
)
from thrifty.rewards.trl_reward import IncompleteGroupError, make_length_penalty_reward


__all__ = [
    "REWARDS",
    "GroupReward",
    "PromptedReward",
    "IncompleteGroupError",
    "LengthPenalized",
    "Rollout",
    "StatefulReward",
    "groups",
    "kept_groups",
    "length_penalized_rewards",
    "lookup",
    "make_length_penalty_reward",
    "make_reward",
    "register_reward",
    "reward_default",
    "reward_factory",
    "reward_parameters",
]

PEERS = ("kimi", "l1", "shorterbetter", "dapo", "thinkprune", "laser", "hapo", "alp", "dler")
"""The peers' modules, each registering its reward(s) when imported (here, after the paper's: the order of --help)."""
for _module in PEERS:
    importlib.import_module(f"thrifty.rewards.{_module}")
