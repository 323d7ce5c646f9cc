"""`thrifty sweep`: train the α family from one recipe, then evaluate every member. Resumable.

    thrifty sweep --recipe recipes/deepseek-r1-distill-qwen-1.5b/alpha_0.yaml --alphas 0,0.05,0.1,0.2,0.4 \\
        --benchmark gsm8k,math500,aime24 --out runs/sweep-1.5b
    thrifty sweep --recipe recipes/organism/alpha_0.yaml --alphas 0,0.2 --out runs/quick --max_steps 50  # override

Each member trains into ``OUT/alpha=<α>`` with the recipe's settings (and any overrides), only α changing; a
finished member (same recipe, same α, same overrides) is skipped, an interrupted one resumes from its last
checkpoint. Each member is then evaluated into ``OUT/alpha=<α>/eval/<benchmark>/`` by ``thrifty eval`` (which
itself resumes), at the recipe's ``max_completion_length`` unless ``--max_new_tokens`` says otherwise, and its
model card is written again with the results.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from thrifty.args import parse_alphas
from thrifty.data import get_benchmark
from thrifty.eval import EvalArguments, evaluate
from thrifty.rl import load_recipe, train_once


logger = logging.getLogger(__name__)

PAPER_BENCHMARKS = "gsm8k,math500,aime24"


@dataclass
class SweepArguments:
    """Arguments of ``thrifty sweep``. Any other flag is a training override of the recipe, for every member
    (``--max_steps 50 --learning_rate 1e-6``): checked by the recipe's parser, and part of each member's record, so a
    changed override retrains."""

    recipe: str = field(
        default="",
        metadata={
            "help": "A `thrifty train` YAML recipe; α and output_dir are set per member. Any flag not listed here "
            "overrides the recipe for every member (e.g. --max_steps 50 --learning_rate 1e-6); a changed override "
            "retrains."
        },
    )
    alphas: str = field(default="0,0.05,0.1,0.2,0.4", metadata={"help": "Comma-separated α values, each in [0, 1)."})
    out: str = field(default="runs/sweep", metadata={"help": "One folder per member: OUT/alpha=<α>."})
    benchmark: str | None = field(
        default=None,
        metadata={
            "help": "Benchmarks to evaluate on (default: the benchmark the recipe trains on, e.g. organism; for data "
            f"files and hub datasets {PAPER_BENCHMARKS})."
        },
    )
    data_dir: str | None = field(default=None, metadata={"help": "Local benchmark files (else the Hugging Face Hub)."})
    samples: int | None = field(
        default=None, metadata={"help": "Samples per problem (default: the paper's k per benchmark)."}
    )
    max_new_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Longest evaluated response (default: the recipe's max_completion_length, the length the "
            "members were trained to; the paper evaluates at 32768)."
        },
    )
    limit: int | None = field(default=None, metadata={"help": "Evaluate on the first N problems only."})
    skip_eval: bool = field(default=False, metadata={"help": "Only train."})

    def alpha_values(self) -> list[float]:
        return parse_alphas(self.alphas)


PER_MEMBER = ("alpha", "output_dir")
"""Recipe options the sweep sets itself for each member (α from --alphas, the folder from --out)."""


def check_overrides(recipe: str, overrides: Sequence[str]) -> None:
    """Refuse, before anything trains, training overrides the recipe's parser does not accept, and the options
    the sweep sets per member, naming them."""
    named = {token[2:].split("=", 1)[0].replace("-", "_") for token in overrides if token.startswith("--")}
    clash = sorted(named & set(PER_MEMBER))
    if clash:
        raise ValueError(f"--{clash[0]} is set per member by the sweep: use --alphas for α and --out for the folders")
    try:
        load_recipe(recipe, *overrides)
    except ValueError as error:
        raise ValueError(f"training overrides {' '.join(overrides)} do not fit the recipe {recipe}: {error}") from None


def run_sweep(args: SweepArguments, overrides: Sequence[str] = ()) -> dict[str, dict]:
    """Train and evaluate each member; returns ``{"alpha=<α>": {benchmark: summary}}`` (empty with --skip_eval).

    ``overrides`` are command-line style training options (``["--max_steps", "50"]``) applied to the recipe for
    every member; they are part of each member's record, so changing them retrains. Each member's model card
    (:mod:`thrifty.card`) is written again with its evaluation results."""
    if not Path(args.recipe).is_file():
        raise FileNotFoundError(f"--recipe: no such file: {args.recipe!r}")
    alphas = args.alpha_values()
    overrides = [str(token) for token in overrides]
    if overrides:
        check_overrides(args.recipe, overrides)
    recipe_hash = hashlib.sha256(Path(args.recipe).read_bytes()).hexdigest()
    results = {}
    for alpha in alphas:
        name = f"alpha={alpha:g}"
        out = Path(args.out) / name
        thrifty_args, config, model_args = load_recipe(
            args.recipe, *overrides, "--alpha", str(alpha), "--output_dir", str(out)
        )
        record = {"recipe": args.recipe, "recipe_sha256": recipe_hash, "alpha": alpha}
        if overrides:  # (absent without any: members trained before overrides existed stay finished)
            record["overrides"] = overrides
        logger.info("%s: %s", name, "trained" if train_once(thrifty_args, config, model_args, record) else "skipped")
        if args.skip_eval:
            continue
        trained_on = get_benchmark(thrifty_args.prompts)
        benchmark = args.benchmark or (trained_on.name if trained_on is not None else PAPER_BENCHMARKS)
        eval_args = EvalArguments(
            model=str(out),
            benchmark=benchmark,
            data_dir=args.data_dir,
            samples=args.samples,
            max_new_tokens=args.max_new_tokens or config.max_completion_length,
            limit=args.limit,
            out=str(out / "eval"),
        )
        results[name] = evaluate(eval_args)  # which also writes the results into the member's model card
    return results


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(sweep flags, training overrides)`` of a ``thrifty sweep`` command line: a flag that names a
    :class:`SweepArguments` field (or ``--config``), with its value, is the sweep's; any other flag and its value
    is an override of the recipe.

    Example:
        >>> split_overrides(["--recipe", "r.yaml", "--max_steps", "50", "--alphas=0,0.2", "--bf16", "--limit", "3"])
        (['--recipe', 'r.yaml', '--alphas=0,0.2', '--limit', '3'], ['--max_steps', '50', '--bf16'])
    """
    known = {f.name for f in fields(SweepArguments)} | {"config", "help", "h"}
    ours, theirs = [], []
    i = 0
    while i < len(argv):
        token = argv[i]
        takes_value = token.startswith("-") and "=" not in token and i + 1 < len(argv)
        value = [argv[i + 1]] if takes_value and not argv[i + 1].startswith("--") else []
        name = token.lstrip("-").split("=", 1)[0].replace("-", "_")
        (ours if not token.startswith("--") or name in known else theirs).extend([token, *value])
        i += 1 + len(value)
    return ours, theirs
