"""Reinforcement learning on TRL: the paper's config pinned (:mod:`~thrifty.rl.config`), the one-direction RL step
(:mod:`~thrifty.rl.trainer`), ``thrifty train`` (:mod:`~thrifty.rl.run`), and colocated vLLM rollouts on a CPU
(:mod:`~thrifty.rl.vllm_cpu`). Engine glue only: the equations are :mod:`thrifty.rewards` and
:mod:`thrifty.advantages`."""

from thrifty.rl.config import ThriftyArguments, TrainConfig
from thrifty.rl.run import build_dataset, load_recipe, metrics_callback, train, train_once
from thrifty.rl.trainer import ThriftyTrainer


__all__ = [
    "ThriftyArguments",
    "ThriftyTrainer",
    "TrainConfig",
    "build_dataset",
    "load_recipe",
    "metrics_callback",
    "train",
    "train_once",
]
