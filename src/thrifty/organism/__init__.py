"""A model organism of overthinking, for the CPU: column addition, a tiny Qwen2, and a verbose SFT'd "reasoning model".

Modules: :mod:`~thrifty.organism.task` (the task, its traces, its problems and their oracle lengths; pure),
:mod:`~thrifty.organism.tiny` (a tiny Qwen2 with a character tokenizer, also used by the tests),
:mod:`~thrifty.organism.base` (the base model's SFT and its cache), :mod:`~thrifty.organism.claims` (the
paper's claims as the organism checks them; pure) and ``recipes/`` (its RL and baseline recipes, shipped with
the package).

The organism is a benchmark like any other: :data:`BENCHMARK` is registered under the ``thrifty.benchmarks``
entry point, so ``--benchmark organism`` and ``--prompts organism`` work everywhere without thrifty's other
packages knowing it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from thrifty.data import Benchmark
from thrifty.organism.task import FORCED, PROMPT_TEMPLATE, behaviour, eval_problems, train_problems


BENCHMARK = Benchmark(
    name="organism",
    load=lambda data_dir: eval_problems(),
    default_samples=1,
    prompt_template=PROMPT_TEMPLATE,
    generated=True,
    train=train_problems,
    behaviour=behaviour,
    forced=FORCED,
    end_of_thinking=">",  # the column work (its thinking) ends where the answer starts: "...;8>8617 \\boxed{8617}"
)
"""The held-out problems (evaluation) and the training split (``--prompts organism``), prompted as bare questions;
every response is read back as a behaviour (shortcut, or column work with ``k`` checks)."""


def recipe(name: str) -> Path:
    """The path of an organism recipe shipped with the package: ``alpha_0``, ``alpha_0.2``, ``sft`` or ``dpo``.

    Example:
        >>> recipe("alpha_0.2").name
        'alpha_0.2.yaml'
    """
    path = Path(str(files("thrifty.organism") / "recipes" / f"{name}.yaml"))
    if not path.is_file():
        raise FileNotFoundError(f"no organism recipe {name!r} in {path.parent}")
    return path
