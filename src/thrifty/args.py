"""Argument pieces shared by several commands: comma-separated lists, and where training prompts come from.

Each command's own arguments live beside the command (``thrifty eval``'s in :mod:`thrifty.eval.harness`, ...);
what two or more share lives here, so that one flag means one thing everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from thrifty.data import Problem, template_for, training_problems


# --------------------------------------------------------------------------------------------- comma-separated lists
def parse_numbers(
    text: str, flag: str, cast=float, valid: Callable = lambda v: True, rule: str = "numbers", what: str = "numbers"
) -> list:
    """``"0,0.2"`` -> ``[0.0, 0.2]``: comma-separated values of ``cast``; a clear ``ValueError`` naming ``--flag``
    unless there is at least one and every value is ``valid`` (described by ``rule``).

    Example:
        >>> parse_numbers("3e-5, 1e-4", "sft_lrs", valid=lambda v: v > 0, rule="positive numbers")
        [3e-05, 0.0001]
    """
    try:
        values = [cast(x) for x in text.split(",") if x.strip()]
    except ValueError as error:
        raise ValueError(f"--{flag} must be comma-separated {what}, got {text!r}") from error
    if not values or not all(valid(v) for v in values):
        raise ValueError(f"--{flag} must be {rule}, got {text!r}")
    return values


def parse_alphas(text: str, flag: str = "alphas") -> list[float]:
    """``"0,0.2"`` -> ``[0.0, 0.2]``; a clear ``ValueError`` unless every value is a number in [0, 1)."""
    return parse_numbers(text, flag, valid=lambda a: 0 <= a < 1, rule="values in [0, 1)")


def parse_limits(text: str, flag: str = "limits") -> list[int]:
    """``"128,64"`` -> ``[64, 128]``; a clear ``ValueError`` unless every value is a positive integer.

    Example:
        >>> parse_limits("128,64,64")
        [64, 128]
    """
    values = parse_numbers(text, flag, int, lambda v: v >= 1, "positive token counts", "token counts")
    return sorted(set(values))


def parse_names(text: str, flag: str, known: Callable[[str], bool] | tuple[str, ...]) -> list[str]:
    """``"grpo, batch"`` -> ``["grpo", "batch"]``; a clear ``ValueError`` naming any value that is not ``known``.

    Example:
        >>> parse_names("grpo,batch", "ablation", ("rloo", "grpo", "batch"))
        ['grpo', 'batch']
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    is_known = known if callable(known) else known.__contains__
    bad = [name for name in names if not is_known(name)]
    if bad:
        choices = "" if callable(known) else f" (choose from {', '.join(known)})"
        raise ValueError(f"--{flag}: unknown {', '.join(map(repr, bad))}{choices}")
    return names


# --------------------------------------------------------------------------------------------- recipes
def read_recipe(dataclass_types, path: str | Path, *overrides: str) -> tuple:
    """The dataclasses of a YAML recipe, with command-line style ``overrides`` (``"--alpha", "0.2"``, ...) on top:
    exactly what ``thrifty <command> --config PATH ...`` reads. Unknown keys are an error."""
    from trl import TrlParser

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such recipe: {str(path)!r}")
    return tuple(TrlParser(list(dataclass_types)).parse_args_and_config(["--config", str(path), *overrides]))


# --------------------------------------------------------------------------------------------- prompts
@dataclass
class PromptArguments:
    """Where the training prompts come from and how answers are checked (shared by RL and the baselines)."""

    prompts: str = field(
        default="organism",
        metadata={
            "help": "Training prompts: a benchmark with a training split (organism), a hub dataset id, or a local "
            ".jsonl/.json/.parquet file."
        },
    )
    prompts_split: str = field(default="train", metadata={"help": "Split of a hub dataset."})
    max_prompts: int | None = field(default=None, metadata={"help": "Use only the first N usable prompts."})
    prompts_per_level: int = field(
        default=1000, metadata={"help": "Prompts per difficulty level of a generated training split (the organism's)."}
    )
    prompt_template: str | None = field(
        default=None,
        metadata={
            "help": "Prompt with a {question} slot (default: the prompt set's own; the paper's for data files)."
        },
    )
    verifier: str = field(default="math-verify", metadata={"help": "Answer checking: math-verify or paper-compat."})
    verify_workers: int | None = field(
        default=None, metadata={"help": "Verifier processes per rank (default min(4, CPUs))."}
    )
    verify_timeout: float = field(default=5.0, metadata={"help": "Hard time bound in seconds on one answer check."})

    def template(self) -> str:
        return self.prompt_template if self.prompt_template is not None else template_for(self.prompts)

    def problems(self) -> list[Problem]:
        """The training prompts these arguments name."""
        return training_problems(self.prompts, self.prompts_split, self.max_prompts, self.prompts_per_level)
