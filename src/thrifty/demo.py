"""`thrifty demo`: the whole method on the CPU model organism, in minutes.

Build (or reuse) the base organism -> train one model per α with :mod:`thrifty.train` -> evaluate the base
and every trained model on the held-out organism problems with :mod:`thrifty.evaluate` -> write
``report.md``, ``summary.json`` and PNG plots. Every stage is resumable: a finished base, training run or
evaluation is reused when the demo is run again with the same settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

ORGANISM_RECIPE = {
    "per_device_train_batch_size": 32,
    "steps_per_generation": 2,
    "num_generations": 8,
    "max_completion_length": 256,
    "learning_rate": 4.0e-5,
    "warmup_steps": 0,
    "max_steps": 200,
    "use_cpu": True,
    "bf16": False,
    "logging_steps": 1,
    "save_steps": 50,
    "save_total_limit": 1,
    "report_to": "tensorboard",
    "seed": 0,
}
"""The organism's RL settings (recipes/organism/*.yaml holds the same values): 8 prompts × 8 samples per
rollout, two updates of 32 responses each per rollout, as the paper's 256-response rollouts and 128-response
updates."""


@dataclass
class DemoArguments:
    """Arguments of ``thrifty demo``."""

    out: str = field(default="runs/demo", metadata={"help": "Folder for models, evaluations, report and plots."})
    alphas: str = field(default="0,0.2", metadata={"help": "Comma-separated α values to train (each in [0, 1))."})
    rl_steps: int = field(default=ORGANISM_RECIPE["max_steps"], metadata={"help": "Optimizer steps per α."})
    learning_rate: float = field(default=ORGANISM_RECIPE["learning_rate"], metadata={"help": "RL learning rate."})
    sft_steps: int = field(default=700, metadata={"help": "SFT steps that build the base organism."})
    eval_samples: int = field(default=2, metadata={"help": "Samples per held-out problem (temperature 0.6)."})
    eval_max_new_tokens: int = field(default=300, metadata={"help": "Longest evaluated response, in tokens."})
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where the base organism is cached (default $THRIFTY_CACHE or ~/.cache/thrifty)."}
    )
    rebuild: bool = field(default=False, metadata={"help": "Rebuild the base organism even if a cached one exists."})
    seed: int = field(default=0, metadata={"help": "Seed of the base model's SFT and of RL."})

    def alpha_values(self) -> list[float]:
        from .train import parse_alphas

        return parse_alphas(self.alphas)


def _label(alpha: float) -> str:
    return f"alpha={alpha:g}"


def _base_dir(args: DemoArguments, config) -> Path:
    root = Path(args.cache_dir or os.environ.get("THRIFTY_CACHE") or Path.home() / ".cache" / "thrifty").expanduser()
    key = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:10]
    return root / f"organism-base-{key}"


def _build_base(args: DemoArguments) -> Path:
    from .organism import OrganismConfig, base_model_is_built, build_base_model

    config = OrganismConfig(sft_steps=args.sft_steps, seed=args.seed)
    path = _base_dir(args, config)
    if base_model_is_built(path, config) and not args.rebuild:
        logger.info("reusing the base organism cached in %s", path)
        return path
    return build_base_model(path, config)


def _train(args: DemoArguments, base: Path, alpha: float) -> Path:
    """Train one α; a finished run with the same settings is reused, an interrupted one resumes from its checkpoint."""
    from trl import ModelConfig

    from .train import ThriftyArguments, TrainConfig, train_once

    out = Path(args.out) / _label(alpha)
    settings = {
        "base": str(base),
        "base_build": json.loads((base / "organism.json").read_text()),  # a rebuilt base invalidates the run
        "alpha": alpha,
        "steps": args.rl_steps,
        "lr": args.learning_rate,
        "seed": args.seed,
    }
    recipe = {**ORGANISM_RECIPE, "max_steps": args.rl_steps, "learning_rate": args.learning_rate, "seed": args.seed}
    config = TrainConfig(output_dir=str(out), **recipe)
    thrifty_args = ThriftyArguments(alpha=alpha, prompts="organism", organism_prompts_per_level=500)
    train_once(thrifty_args, config, ModelConfig(model_name_or_path=str(base)), settings)
    return out


def _model_marker(model: Path) -> str:
    """What identifies a finished model of the demo: its training record (trained) or its build record (base)."""
    for name in ("run_done.json", "organism.json"):
        if (model / name).is_file():
            return (model / name).read_text()
    raise FileNotFoundError(f"{model} is not a finished demo model")


def _evaluate(args: DemoArguments, name: str, model: Path) -> dict:
    """Evaluate one model; samples are reused only if they came from this very model with these settings."""
    import shutil

    from .evaluate import EvalArguments, evaluate

    eval_args = EvalArguments(
        model=str(model),
        benchmark="organism",
        samples=args.eval_samples,
        temperature=0.6,
        max_new_tokens=args.eval_max_new_tokens,
        batch_size=200,
        out=str(Path(args.out) / "eval" / name),
        seed=args.seed,
        verify_workers=1,
    )
    folder = Path(eval_args.out)
    fingerprint = json.dumps({"model": _model_marker(model), "eval": asdict(eval_args)}, sort_keys=True)
    marker = folder / "demo_model.json"
    if folder.exists() and (not marker.is_file() or marker.read_text() != fingerprint):
        shutil.rmtree(folder)  # another model or other settings: the demo owns this folder, start it afresh
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)
    return evaluate(eval_args)["organism"]


def _model_entry(summary: dict) -> dict:
    keys = ("accuracy", "mean_tokens", "mean_tokens_correct", "oracle_ratio", "mean_oracle_tokens", "truncation_rate")
    entry = {k: summary[k] for k in keys if k in summary}
    entry["per_level"] = {level: {k: s[k] for k in keys if k in s} for level, s in summary.get("per_level", {}).items()}
    return entry


def _examples(out: Path, names: list[str], per_level: int = 1) -> dict[str, list[dict]]:
    """Sample 0 of the first ``per_level`` held-out problems of each level, for every model, same order."""
    from .evaluate import read_samples
    from .organism import eval_problems

    problems = eval_problems()
    chosen = [p for level in sorted({p.level for p in problems}) for p in [q for q in problems if q.level == level][:per_level]]
    examples = {}
    for name in names:
        path = out / "eval" / name / "organism" / "samples.jsonl"
        records = {r["id"]: r for r in read_samples(path) if r["sample"] == 0}
        examples[name] = [{**records[p.id], "question": p.question} for p in chosen if p.id in records]
    return examples


def run_demo(args: DemoArguments) -> dict:
    """Run the demo; returns the contents of ``summary.json``."""
    from .plots import plot_pareto, plot_training
    from .report import demo_report

    alphas = args.alpha_values()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, stages = time.time(), {}

    def stage(name: str, fn, *a):
        t = time.time()
        logger.info("demo: %s", name)
        try:
            result = fn(*a)
        except Exception as error:
            raise RuntimeError(f"demo stage '{name}' failed: {error}") from error
        stages[name] = round(time.time() - t, 1)
        return result

    base = stage("build base organism", _build_base, args)
    models = {"base": base}
    for alpha in alphas:
        models[_label(alpha)] = stage(f"train {_label(alpha)}", _train, args, base, alpha)
    summaries = {name: stage(f"evaluate {name}", _evaluate, args, name, path) for name, path in models.items()}

    summary = {
        "models": {name: _model_entry(s) for name, s in summaries.items()},
        "wall_seconds": round(time.time() - start, 1),
        "stage_seconds": stages,
        "settings": asdict(args),
    }
    plot_pareto(summary["models"], out / "accuracy_vs_tokens.png")
    plot_training({_label(a): out / _label(a) / "metrics.jsonl" for a in alphas}, out / "training.png")
    plots = {"Accuracy against length": "accuracy_vs_tokens.png", "Training dynamics": "training.png"}
    (out / "report.md").write_text(demo_report(summary, plots, _examples(out, list(models))))
    summary["wall_seconds"] = round(time.time() - start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
