"""`thrifty baseline cutoff`: the generation-cutoff baseline, run for real -- the model evaluated at smaller limits.

    thrifty baseline cutoff --model M --benchmark gsm8k --limits 1024,2048,4096 --out runs/baselines

It needs no training. ``thrifty eval`` already reports it from the samples it has (``cutoff_curve``: accuracy had
each response been cut at L tokens); this re-runs the evaluation once per limit, into
``OUT/cutoff=<L>/eval/<benchmark>/``, with a ``baseline.json`` that tells ``thrifty report`` what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from thrifty import runs
from thrifty.eval import EvalArguments, evaluate


def record_cutoff(folder: Path, model: str, limit: int) -> None:
    """Mark ``folder`` as the cutoff baseline of ``model`` at ``limit`` tokens (for ``thrifty report``); called
    after its evaluation succeeded, so it names what is there."""
    info = {"method": "cutoff", "model": model, "max_new_tokens": limit}
    runs.write_json(Path(folder) / runs.BASELINE, info)


@dataclass
class CutoffArguments(EvalArguments):
    """``thrifty eval``'s arguments plus the generation limits to run; results go to OUT/cutoff=<L>/eval/."""

    limits: str = field(
        default="", metadata={"help": "Comma-separated generation limits in tokens, e.g. 1024,2048,4096."}
    )
    out: str = field(default="runs/baselines", metadata={"help": "One folder per limit: OUT/cutoff=<L>/."})


def run_cutoff(eval_args: EvalArguments, limits: list[int], out: str) -> dict[str, dict]:
    """Evaluate ``eval_args.model`` once per generation limit into ``OUT/cutoff=<L>/eval/``; ``{name: summaries}``."""
    results = {}
    for limit in limits:
        folder = Path(out) / f"cutoff={limit}"
        results[folder.name] = evaluate(replace(eval_args, max_new_tokens=limit, out=str(folder / "eval")))
        record_cutoff(folder, eval_args.model, limit)
    return results
