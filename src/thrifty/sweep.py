"""`thrifty sweep`: train the α family from one recipe, then evaluate every member. Resumable.

    thrifty sweep --recipe recipes/deepseek-r1-distill-qwen-1.5b/alpha_0.yaml --alphas 0,0.05,0.1,0.2,0.4 \\
        --benchmark gsm8k,math500,aime24 --out runs/sweep-1.5b

Each member trains into ``OUT/alpha=<α>`` with the recipe's settings and only α changed; a finished member
(same recipe, same α) is skipped, an interrupted one resumes from its last checkpoint. Each member is then
evaluated into ``OUT/alpha=<α>/eval/<benchmark>/`` by ``thrifty eval``, which itself resumes.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from thrifty.args import parse_alphas
from thrifty.data import get_benchmark
from thrifty.eval import EvalArguments, evaluate
from thrifty.rl import load_recipe, train_once


logger = logging.getLogger(__name__)

PAPER_BENCHMARKS = "gsm8k,math500,aime24"


@dataclass
class SweepArguments:
    """Arguments of ``thrifty sweep``."""

    recipe: str = field(
        default="", metadata={"help": "A `thrifty train` YAML recipe; α and output_dir are set per member."}
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
    max_new_tokens: int = field(default=32768, metadata={"help": "Longest evaluated response (the paper: 32768)."})
    limit: int | None = field(default=None, metadata={"help": "Evaluate on the first N problems only."})
    skip_eval: bool = field(default=False, metadata={"help": "Only train."})

    def alpha_values(self) -> list[float]:
        return parse_alphas(self.alphas)


def run_sweep(args: SweepArguments) -> dict[str, dict]:
    """Train and evaluate each member; returns ``{"alpha=<α>": {benchmark: summary}}`` (empty with --skip_eval)."""
    if not Path(args.recipe).is_file():
        raise FileNotFoundError(f"--recipe: no such file: {args.recipe!r}")
    alphas = args.alpha_values()
    recipe_hash = hashlib.sha256(Path(args.recipe).read_bytes()).hexdigest()
    results = {}
    for alpha in alphas:
        name = f"alpha={alpha:g}"
        out = Path(args.out) / name
        thrifty_args, config, model_args = load_recipe(args.recipe, "--alpha", str(alpha), "--output_dir", str(out))
        record = {"recipe": args.recipe, "recipe_sha256": recipe_hash, "alpha": alpha}
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
            max_new_tokens=args.max_new_tokens,
            limit=args.limit,
            out=str(out / "eval"),
        )
        results[name] = evaluate(eval_args)
    return results
