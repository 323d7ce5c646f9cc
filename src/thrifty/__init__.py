"""thrifty: train reasoning language models to reason efficiently (Arora & Zanette, 2025).

The package, in the order data flows (each line imports only from the lines above it):

* :mod:`thrifty.runs` -- the on-disk contract: file names, the cache, fingerprints, reuse-or-reset, resume.
* :mod:`thrifty.profiles` -- the two training profiles as data: the paper's update and the official code's.
* :mod:`thrifty.lengths` -- how long a response is, pure: tokens, thinking and answer tokens, the official count.
* :mod:`thrifty.card` -- the model card of every trained model (thrifty's, not TRL's): base model, method, α,
  data, hyperparameters, evaluation results, the paper's citation; what ``push_to_hub`` publishes.
* :mod:`thrifty.verify` -- is a response's final answer right: extraction, equivalence rules, a bounded pool.
* :mod:`thrifty.data` -- problems, the benchmark registry (packages register theirs), prompts, training sets.
* :mod:`thrifty.args` -- argument pieces several commands share, comma-separated lists, recipes.
* :mod:`thrifty.generation` -- one backend interface: transformers (``hf``) and vLLM (``vllm``).
* :mod:`thrifty.rewards` -- group rewards by name, pure: the paper's ``length_penalized`` first, then the peers'.
* :mod:`thrifty.advantages` -- advantage estimators by name, pure: ``rloo`` (the paper's), ``grpo``, ``rloo-std``,
  ``reinforce++-baseline``; the official code's KL-to-go and token whitening.
* :mod:`thrifty.eval` -- the harness (sample -> score -> summary, resumable) and its metrics.
* :mod:`thrifty.rl` -- TRL glue: the paper's config, the one-direction RL step, ``thrifty train``.
* :mod:`thrifty.baselines` -- rejection-sampling SFT and DPO (selection, then TRL), the cutoff run.
* :mod:`thrifty.report` -- runs on disk -> tables, plots, frontiers, ``report.md`` (never loads a model).
* :mod:`thrifty.organism` -- the CPU model organism: its task, tiny model, base model, recipes and the paper's
  claims as it checks them; a benchmark.
* :mod:`thrifty.ask` (``thrifty generate``), :mod:`thrifty.sweep`, :mod:`thrifty.demo` -- commands that compose
  the above; :mod:`thrifty.cli` is the ``thrifty`` command.

The main entry points are importable from ``thrifty`` itself (``from thrifty import train, evaluate``), loaded on
first use: ``import thrifty`` alone loads neither torch nor TRL.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version


try:
    __version__ = version("thrifty")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"


_API = {
    # train: one model of the family, from a recipe or from dataclasses
    "ThriftyArguments": "thrifty.rl",
    "TrainConfig": "thrifty.rl",
    "ThriftyTrainer": "thrifty.rl",
    "load_recipe": "thrifty.rl",
    "train": "thrifty.rl",
    "SweepArguments": "thrifty.sweep",
    "run_sweep": "thrifty.sweep",
    # evaluate
    "EvalArguments": "thrifty.eval",
    "evaluate": "thrifty.eval",
    "summarize": "thrifty.eval",
    "load_benchmark": "thrifty.data",
    # rewards: the paper's, as a group reward and as a drop-in TRL reward function
    "length_penalized_rewards": "thrifty.rewards",
    "make_reward": "thrifty.rewards",
    "make_length_penalty_reward": "thrifty.rewards",
    # report and model card
    "ReportArguments": "thrifty.report.write",
    "write_report": "thrifty.report.write",
    "write_card": "thrifty.card",
}
"""The Python API, ``from thrifty import train, evaluate, ...``: imported on first use, so ``import thrifty`` does not
load torch, transformers or TRL."""

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'thrifty' has no attribute {name!r}")
    value = getattr(import_module(_API[name]), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
