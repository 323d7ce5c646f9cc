"""`thrifty baseline budget`: budget forcing (s1, arXiv 2501.19393) swept over thinking budgets -- no training.

    thrifty baseline budget --model M --benchmark gsm8k --budgets 512,1024,2048 --out runs/baselines

Each budget is one ``thrifty eval --thinking_budget B`` (any other ``thrifty eval`` flag applies to all, e.g.
``--answer_budget`` or ``--min_thinking``), into ``OUT/budget=<B>/eval/<benchmark>/``, with a ``baseline.json``
that tells ``thrifty report`` what it is (drawn as one curve, joined in order of budget). A re-run resumes: what
an evaluation already holds is not generated again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from thrifty import runs
from thrifty.eval import EvalArguments, evaluate


def record_budget(folder: Path, model: str, budget: int) -> None:
    """Mark ``folder`` as budget forcing of ``model`` at a thinking budget of ``budget`` tokens (for ``thrifty
    report``); called after its evaluation succeeded, so it names what is there."""
    info = {"method": "budget", "model": model, "thinking_budget": budget}
    runs.write_json(Path(folder) / runs.BASELINE, info)


@dataclass
class BudgetArguments(EvalArguments):
    """``thrifty eval``'s arguments plus the thinking budgets to run; results go to OUT/budget=<B>/eval/."""

    budgets: str = field(
        default="", metadata={"help": "Comma-separated thinking budgets in tokens, e.g. 512,1024,2048."}
    )
    out: str = field(default="runs/baselines", metadata={"help": "One folder per budget: OUT/budget=<B>/."})


def budget_evaluations(eval_args: EvalArguments, budgets: list[int], out: str) -> dict[Path, EvalArguments]:
    """``{OUT/budget=<B>: its evaluation's arguments}``: ``eval_args`` with ``thinking_budget=B`` and ``out``
    ``OUT/budget=<B>/eval``. Every budget is checked here (against ``--min_thinking``, say), before any runs.

    Example:
        >>> from thrifty.eval import EvalArguments
        >>> evaluations = budget_evaluations(EvalArguments(model="M", benchmark="gsm8k"), [16, 32], "b")
        >>> [(str(folder), args.thinking_budget, args.out) for folder, args in evaluations.items()]
        [('b/budget=16', 16, 'b/budget=16/eval'), ('b/budget=32', 32, 'b/budget=32/eval')]
    """
    if eval_args.thinking_budget is not None:
        raise ValueError(
            f"--thinking_budget {eval_args.thinking_budget} would be replaced by each of --budgets: leave it out"
        )
    if not budgets:
        raise ValueError("give the thinking budgets to run: --budgets 512,1024,2048")
    folders = [Path(out) / f"budget={budget}" for budget in budgets]
    return {
        folder: replace(eval_args, thinking_budget=budget, out=str(folder / "eval"))
        for folder, budget in zip(folders, budgets, strict=True)
    }


def run_budget(eval_args: EvalArguments, budgets: list[int], out: str) -> dict[str, dict]:
    """Evaluate ``eval_args.model`` under budget forcing once per thinking budget into ``OUT/budget=<B>/eval/``;
    ``{folder name: summaries}``."""
    results = {}
    for folder, args in budget_evaluations(eval_args, budgets, out).items():
        results[folder.name] = evaluate(args)
        record_budget(folder, eval_args.model, args.thinking_budget)
    return results
