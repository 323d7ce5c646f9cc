"""`thrifty demo`: the whole method on the CPU model organism, in minutes.

Build (or reuse) the base organism -> train one model per α with :mod:`thrifty.train` -> evaluate the base
and every trained model on the held-out organism problems with :mod:`thrifty.evaluate` -> write
``report.md`` (:mod:`thrifty.report_runs`), ``summary.json`` and PNG plots.

``--full`` runs the paper's whole comparison: the α family {0, 0.1, 0.2, 0.4}, the three baselines (SFT on
the shortest correct of 8 samples per training prompt and DPO on shortest-vs-longest pairs, each at three
learning rates; generation cutoff, both from the base's samples and run for real) and the advantage
normalisation ablation (α = 0.2 with group- and batch-normalised advantages).

Every stage is resumable: a finished base, training run or evaluation is reused when the demo is run again
with the same settings, so ``thrifty demo --full`` after ``thrifty demo`` only adds what is missing. Layout:
``OUT/<model>/`` holds a trained model and its ``eval/``; ``OUT/base/eval/`` evaluates the cached base.
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
    full: bool = field(
        default=False,
        metadata={"help": "The whole comparison: α family --full_alphas, SFT/DPO/cutoff baselines, normalisation ablation."},
    )
    full_alphas: str = field(default="0,0.1,0.2,0.4", metadata={"help": "The α family of --full."})
    ablation: str = field(default="group,batch", metadata={"help": "Advantage normalisations of the --full ablation."})
    ablation_alpha: float = field(default=0.2, metadata={"help": "The α the ablation is run at."})
    sft_lrs: str = field(default="3e-5,1e-4,3e-4", metadata={"help": "Learning rates of the SFT baseline (--full)."})
    dpo_lrs: str = field(default="1e-6,3e-6,1e-5", metadata={"help": "Learning rates of the DPO baseline (--full)."})
    baseline_prompts_per_level: int = field(
        default=500, metadata={"help": "Training prompts per level the SFT/DPO baselines sample from (RL's pool: 500)."}
    )
    cutoff_limits: str = field(default="40,56,80,112", metadata={"help": "Generation limits of the cutoff baseline run (--full)."})

    def alpha_values(self) -> list[float]:
        from .train import parse_alphas

        alphas = parse_alphas(self.alphas)
        return sorted(set(alphas + parse_alphas(self.full_alphas))) if self.full else alphas

    def validate(self) -> None:
        """Check every list argument before minutes are spent."""
        from .train_baseline import parse_limits

        self.alpha_values()
        for name in ("sft_lrs", "dpo_lrs"):
            _floats(getattr(self, name), name)
        parse_limits(self.cutoff_limits)
        bad = [n for n in self.ablation.split(",") if n.strip() and n.strip() not in ("group", "batch")]
        if bad:
            raise ValueError(f"--ablation takes group and/or batch, got {bad}")


def _floats(text: str, name: str) -> list[float]:
    from .train import parse_numbers

    return parse_numbers(text, name, valid=lambda v: v > 0, rule="positive numbers")


def _label(alpha: float, normalization: str = "none") -> str:
    return f"alpha={alpha:g}" + ("" if normalization == "none" else f",norm={normalization}")


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


def _train(args: DemoArguments, base: Path, alpha: float, normalization: str = "none") -> Path:
    """Train one α; a finished run with the same settings is reused, an interrupted one resumes from its checkpoint."""
    from trl import ModelConfig

    from .train import ThriftyArguments, TrainConfig, train_once

    out = Path(args.out) / _label(alpha, normalization)
    settings = {
        "base": str(base),
        "base_build": json.loads((base / "organism.json").read_text()),  # a rebuilt base invalidates the run
        "alpha": alpha,
        "steps": args.rl_steps,
        "lr": args.learning_rate,
        "seed": args.seed,
        **({"advantage_normalization": normalization} if normalization != "none" else {}),
    }
    recipe = {**ORGANISM_RECIPE, "max_steps": args.rl_steps, "learning_rate": args.learning_rate, "seed": args.seed}
    config = TrainConfig(output_dir=str(out), **recipe)
    thrifty_args = ThriftyArguments(
        alpha=alpha, advantage_normalization=normalization, prompts="organism", organism_prompts_per_level=500
    )
    train_once(thrifty_args, config, ModelConfig(model_name_or_path=str(base)), settings)
    return out


LIVE_QUESTIONS = ("1+1", "4789+5637")
"""Asked of every model in the report: the organism's "What is 1+1?" (the paper's Appendix A) and a hard one."""

ORGANISM_BASELINES = {
    "sft": {"per_device_train_batch_size": 32, "num_train_epochs": 2, "lr_scheduler_type": "constant", "warmup_steps": 0},
    "dpo": {"per_device_train_batch_size": 16, "num_train_epochs": 1, "lr_scheduler_type": "constant", "warmup_steps": 0,
            "beta": 0.1},
}
"""The organism's SFT/DPO settings besides the learning rate (recipes/baselines/organism/*.yaml hold the same)."""


def _baseline(args: DemoArguments, base: Path, method: str, lr: float) -> Path | None:
    """Fine-tune one baseline on the base's own samples of the RL training prompts (sampled once, shared);
    None (with a warning) when those samples give it nothing to train on, as from an untrained toy base."""
    from .train_baseline import BaselineArguments, DPOBaselineConfig, NoTrainingData, SFTBaselineConfig, train_baseline

    samples = Path(args.out) / "baseline-samples"
    marker = samples / "demo_samples.json"
    fingerprint = json.dumps({"base": (base / "organism.json").read_text(), "prompts_per_level": args.baseline_prompts_per_level,
                              "seed": args.seed}, sort_keys=True)
    if samples.exists() and (not marker.is_file() or marker.read_text() != fingerprint):
        import shutil

        shutil.rmtree(samples)  # sampled from another base or with other settings: start afresh
    samples.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)
    baseline_args = BaselineArguments(
        model=str(base), prompts="organism", organism_prompts_per_level=args.baseline_prompts_per_level, samples=8, temperature=1.0,
        max_new_tokens=ORGANISM_RECIPE["max_completion_length"], samples_dir=str(samples), sample_batch_size=256,
        sample_seed=args.seed, verify_workers=1,
    )
    config_class = SFTBaselineConfig if method == "sft" else DPOBaselineConfig
    config = config_class(
        output_dir=str(Path(args.out) / f"{method}-lr={lr:g}"), learning_rate=lr, seed=args.seed, use_cpu=True,
        save_strategy="no", report_to="tensorboard", **ORGANISM_BASELINES[method],
    )
    try:
        return train_baseline(method, baseline_args, config)
    except NoTrainingData as error:
        logger.warning("skipping the %s baseline: %s", method, error)
        return None


def _model_marker(model: Path) -> str:
    """What identifies a finished model of the demo: its training record (trained) or its build record (base)."""
    for name in ("run_done.json", "organism.json"):
        if (model / name).is_file():
            return (model / name).read_text()
    raise FileNotFoundError(f"{model} is not a finished demo model")


def _evaluate(args: DemoArguments, name: str, model: Path, max_new_tokens: int | None = None) -> dict:
    """Evaluate one model into OUT/<name>/eval/; samples are reused only if they came from this very model with
    these settings."""
    import shutil

    from .evaluate import EvalArguments, evaluate

    eval_args = EvalArguments(
        model=str(model),
        benchmark="organism",
        samples=args.eval_samples,
        temperature=0.6,
        max_new_tokens=max_new_tokens or args.eval_max_new_tokens,
        batch_size=200,
        out=str(Path(args.out) / name / "eval"),
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


def _cutoff(args: DemoArguments, base: Path, limit: int) -> dict:
    """The generation-cutoff baseline run for real: the base evaluated with at most ``limit`` new tokens."""
    from .train_baseline import record_cutoff

    name = f"cutoff={limit}"
    summary = _evaluate(args, name, base, max_new_tokens=limit)
    record_cutoff(Path(args.out) / name, str(base), limit)
    return summary


def _run_section(summary: dict) -> str:
    """How the demo was run: its settings and the time of each stage (appended to the report)."""
    s = summary["settings"]
    lines = ["", "## How this was run", "",
             f"Base organism: {s['sft_steps']} SFT steps (cached in {s['cache_dir'] or '$THRIFTY_CACHE or ~/.cache/thrifty'}). "
             f"RL: {s['rl_steps']} steps at lr {s['learning_rate']:g}, 8 prompts × 8 samples per rollout. Evaluation: "
             f"{s['eval_samples']} samples per held-out problem at temperature 0.6, at most {s['eval_max_new_tokens']} tokens. "
             f"Whole run: {summary['wall_seconds'] / 60:.1f} min on this machine.", "",
             "| stage | seconds |", "|---|---|"]
    lines += [f"| {name} | {seconds} |" for name, seconds in summary["stage_seconds"].items()]
    if summary.get("skipped"):
        lines += ["", f"Skipped, because the base's samples held nothing to train them on: {', '.join(summary['skipped'])}."]
    return "\n".join(lines) + "\n"


def _model_entry(summary: dict) -> dict:
    keys = ("accuracy", "mean_tokens", "mean_tokens_correct", "oracle_ratio", "mean_oracle_tokens", "truncation_rate")
    entry = {k: summary[k] for k in keys if k in summary}
    entry["per_level"] = {level: {k: s[k] for k in keys if k in s} for level, s in summary.get("per_level", {}).items()}
    return entry


def run_demo(args: DemoArguments) -> dict:
    """Run the demo; returns the contents of ``summary.json``."""
    from .report_runs import ReportArguments, write_report
    from .train_baseline import parse_limits

    args.validate()
    alphas = args.alpha_values()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, stages, skipped = time.time(), {}, []

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
    if args.full:
        for norm in [n.strip() for n in args.ablation.split(",") if n.strip()]:
            name = _label(args.ablation_alpha, norm)
            models[name] = stage(f"train {name}", _train, args, base, args.ablation_alpha, norm)
        for method in ("sft", "dpo"):
            for lr in _floats(getattr(args, f"{method}_lrs"), f"{method}_lrs"):
                trained = stage(f"baseline {method} lr={lr:g}", _baseline, args, base, method, lr)
                if trained is not None:
                    models[f"{method}-lr={lr:g}"] = trained
                else:
                    skipped.append(f"{method}-lr={lr:g}")
    summaries = {name: stage(f"evaluate {name}", _evaluate, args, name, path) for name, path in models.items()}
    if args.full:
        for limit in parse_limits(args.cutoff_limits):
            summaries[f"cutoff={limit}"] = stage(f"cutoff {limit} tokens", _cutoff, args, base, limit)

    summary = {
        "models": {name: _model_entry(s) for name, s in summaries.items()},
        "wall_seconds": round(time.time() - start, 1),
        "stage_seconds": stages,
        "skipped": skipped,
        "settings": asdict(args),
    }
    title = "thrifty demo --full" if args.full else "thrifty demo"
    report = ReportArguments(  # only this run's models, even if an earlier --full run left more in OUT
        runs=[str(out / name) for name in summaries], out=str(out),
        title=f"{title}: length-penalised RL on the model organism", questions=list(LIVE_QUESTIONS),
    )
    path = stage("report", write_report, report)
    summary["wall_seconds"] = round(time.time() - start, 1)
    path.write_text(path.read_text() + _run_section(summary))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
