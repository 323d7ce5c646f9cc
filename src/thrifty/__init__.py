"""thrifty: train reasoning language models to reason efficiently (Arora & Zanette, 2025).

The package, in the order data flows (each line imports only from the lines above it):

* :mod:`thrifty.runs` -- the on-disk contract: file names, the cache, fingerprints, reuse-or-reset, resume.
* :mod:`thrifty.verify` -- is a response's final answer right: extraction, equivalence rules, a bounded pool.
* :mod:`thrifty.data` -- problems, the benchmark registry (packages register theirs), prompts, training sets.
* :mod:`thrifty.args` -- argument pieces several commands share, comma-separated lists, recipes.
* :mod:`thrifty.generation` -- one backend interface: transformers (``hf``) and vLLM (``vllm``).
* :mod:`thrifty.rewards` -- group rewards by name, pure: the paper's ``length_penalized`` first.
* :mod:`thrifty.advantages` -- advantage estimators by name, pure: ``rloo`` (the paper's), ``grpo``, ``batch``.
* :mod:`thrifty.eval` -- the harness (sample -> score -> summary, resumable) and its metrics.
* :mod:`thrifty.rl` -- TRL glue: the paper's config, the one-direction RL step, ``thrifty train``.
* :mod:`thrifty.baselines` -- rejection-sampling SFT and DPO (selection, then TRL), the cutoff run.
* :mod:`thrifty.report` -- runs on disk -> tables, plots, frontiers, ``report.md`` (never loads a model).
* :mod:`thrifty.organism` -- the CPU model organism: its task, tiny model, base model, recipes and the paper's
  claims as it checks them; a benchmark.
* :mod:`thrifty.ask` (``thrifty generate``), :mod:`thrifty.sweep`, :mod:`thrifty.demo` -- commands that compose
  the above; :mod:`thrifty.cli` is the ``thrifty`` command.
"""

from importlib.metadata import PackageNotFoundError, version


try:
    __version__ = version("thrifty")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
