"""`thrifty demo`: the whole method on the CPU model organism, in minutes.

Build (or reuse) the base organism -> train one model per α with the organism's recipe (:mod:`thrifty.rl`) ->
evaluate the base (also forced to take its shortcut, to measure that skill on every problem) and every trained
model on the held-out organism problems (:mod:`thrifty.eval`) -> write ``report.md`` (:mod:`thrifty.report`),
``summary.json`` and PNG plots, with the paper's claims checked (:mod:`thrifty.organism.claims`).

``--full`` runs the paper's whole comparison: the α family {0, 0.05, 0.1, 0.2, 0.4}, the three baselines (SFT
on the shortest correct of 8 samples per training prompt and DPO on shortest-vs-longest pairs, each at three
learning rates; generation cutoff, both from the base's samples and run for real; budget forcing, s1's
inference-time control, at ``--thinking_budgets``) and the advantage
normalisation ablation (α = 0.2 with group-normalised advantages, ``grpo``: ``alpha=0.2,norm=group``; and with the
leave-one-out advantages whitened over every response token of the rollout, ``batch`` -- trained as
``--advantage_estimator rloo --whiten_advantages tokens``, the official code's whitening: ``alpha=0.2,norm=batch``).
``--seeds 1,2`` repeats the claims' runs (a base rebuilt with each seed, the α
family, the group-normalised ablation) in ``OUT/seed=N/`` and reports each claim per seed and the spread.

Every setting not given here comes from the organism's recipes (``recipes/organism/*.yaml``, shipped with the
package). Every stage is resumable: a finished base, training run or evaluation is reused when the demo is run
again with the same settings, so ``thrifty demo --full`` after ``thrifty demo`` only adds what is missing.
Layout: ``OUT/<model>/`` holds a trained model and its ``eval/``; ``OUT/base/eval/`` evaluates the cached base.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from statistics import fmean

from thrifty import runs
from thrifty.advantages import ADVANTAGES
from thrifty.args import parse_alphas, parse_limits, parse_names, parse_numbers
from thrifty.ask import answer_live
from thrifty.baselines.budget import record_budget
from thrifty.baselines.cutoff import record_cutoff
from thrifty.baselines.finetune import NoTrainingData, load_baseline_recipe, train_baseline
from thrifty.eval import EvalArguments, evaluate
from thrifty.organism import recipe
from thrifty.organism.base import OrganismConfig, cached_base_model
from thrifty.organism.claims import across_seeds, check
from thrifty.organism.task import SHORTCUT, SHORTCUT_MARKS, SHORTCUT_RATE, SHORTCUTS
from thrifty.report.collect import SEED_FOLDER, collect_runs, live_targets
from thrifty.report.write import ReportArguments, with_frontiers, write_report
from thrifty.rl import load_recipe, train_once


logger = logging.getLogger(__name__)

LIVE_QUESTIONS = ("1+1", "4789+5637")
"""Asked of every model in the report: the organism's "What is 1+1?" (the paper's Appendix A) and a hard one."""


@dataclass
class DemoArguments:
    """Arguments of ``thrifty demo``."""

    out: str = field(default="runs/demo", metadata={"help": "Folder for models, evaluations, report and plots."})
    alphas: str = field(default="0,0.2", metadata={"help": "Comma-separated α values to train (each in [0, 1))."})
    rl_steps: int | None = field(
        default=None, metadata={"help": "Optimizer steps per α (default: the recipe's, 120)."}
    )
    learning_rate: float | None = field(
        default=None, metadata={"help": "RL learning rate (default: the recipe's, 4e-5)."}
    )
    sft_steps: int = field(default=700, metadata={"help": "SFT steps that build the base organism."})
    shortcut_rate: float = field(
        default=SHORTCUT_RATE,
        metadata={"help": "Share of the base's SFT traces that answer at once, no column work (0: no shortcut)."},
    )
    shortcut: str = field(
        default="mental",
        metadata={
            "help": "The base's shortcut: mental (column sums without their operands) or exact (the sum at once).",
            "choices": list(SHORTCUTS),
        },
    )
    eval_samples: int = field(default=2, metadata={"help": "Samples per held-out problem (temperature 0.6)."})
    eval_max_new_tokens: int = field(default=300, metadata={"help": "Longest evaluated response, in tokens."})
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "Where the base organism is cached (default $THRIFTY_CACHE or ~/.cache/thrifty)."},
    )
    rebuild: bool = field(default=False, metadata={"help": "Rebuild the base organism even if a cached one exists."})
    seed: int = field(default=0, metadata={"help": "Seed of the base model's SFT, of RL and of evaluation."})
    seeds: str | None = field(
        default=None,
        metadata={
            "help": "More seeds to repeat the claims' runs on (e.g. 1,2): each rebuilds the base with its seed and "
            "trains --seed_alphas (and, with --full, the group-normalised ablation) into OUT/seed=N/ (a report of "
            "its own: thrifty report OUT/seed=N)."
        },
    )
    seed_alphas: str = field(
        default="0,0.05,0.2,0.4",
        metadata={"help": "The α family of the --seeds runs: the members the seeded claims (1-3) compare."},
    )
    full: bool = field(
        default=False,
        metadata={
            "help": "The whole comparison: α family --full_alphas, SFT/DPO/cutoff baselines, normalisation ablation."
        },
    )
    full_alphas: str = field(default="0,0.05,0.1,0.2,0.4", metadata={"help": "The α family of --full."})
    ablation: str = field(
        default="grpo,batch",
        metadata={
            "help": "Runs of the --full ablation (against rloo): grpo (group-normalised), batch (rloo whitened over "
            "the rollout's tokens: --whiten_advantages tokens) or another registered estimator; extra seeds run the "
            "first."
        },
    )
    ablation_alpha: float = field(default=0.2, metadata={"help": "The α the ablation is run at."})
    sft_lrs: str = field(default="3e-5,1e-4,3e-4", metadata={"help": "Learning rates of the SFT baseline (--full)."})
    dpo_lrs: str = field(default="1e-6,3e-6,1e-5", metadata={"help": "Learning rates of the DPO baseline (--full)."})
    baseline_prompts_per_level: int = field(
        default=500,
        metadata={"help": "Training prompts per level the SFT/DPO baselines sample from (RL's pool: 500)."},
    )
    cutoff_limits: str = field(
        default="40,56,80,112", metadata={"help": "Generation limits of the cutoff baseline run (--full)."}
    )
    thinking_budgets: str = field(
        default="8,16,24,32",
        metadata={
            "help": "Thinking budgets of budget forcing on the base (--full): the column work before the answer "
            "marker '>' runs 5 (level 1) to 30 (level 4) tokens, so 8 cuts all but level 1 and 32 none."
        },
    )

    def __post_init__(self):
        """Check every list argument before minutes are spent; fill the RL settings left out from the recipe."""
        self.alpha_values()
        self.learning_rates("sft")
        self.learning_rates("dpo")
        parse_limits(self.cutoff_limits, "cutoff_limits")
        budgets = parse_limits(self.thinking_budgets, "thinking_budgets")
        if self.full and (too_long := [b for b in budgets if b >= self.eval_max_new_tokens]):  # only --full runs them
            raise ValueError(
                f"--thinking_budgets {too_long} must be below --eval_max_new_tokens {self.eval_max_new_tokens}"
            )
        self.ablations()
        self.extra_seeds()
        parse_alphas(self.seed_alphas, "seed_alphas")
        if not 0 <= self.shortcut_rate <= 1:
            raise ValueError(f"--shortcut_rate must be in [0, 1], got {self.shortcut_rate!r}")
        _, config, _ = load_recipe(recipe("alpha_0"))
        self.rl_steps = config.max_steps if self.rl_steps is None else self.rl_steps
        self.learning_rate = config.learning_rate if self.learning_rate is None else self.learning_rate

    def alpha_values(self) -> list[float]:
        alphas = parse_alphas(self.alphas)
        return sorted(set(alphas + parse_alphas(self.full_alphas, "full_alphas"))) if self.full else alphas

    def learning_rates(self, method: str) -> list[float]:
        flag = f"{method}_lrs"
        return parse_numbers(getattr(self, flag), flag, valid=lambda v: v > 0, rule="positive numbers")

    def extra_seeds(self) -> list[int]:
        """The seeds of ``--seeds`` other than ``--seed``, in order."""
        if not self.seeds:
            return []
        values = parse_numbers(
            self.seeds, "seeds", cast=int, valid=lambda v: v >= 0, rule="integers >= 0", what="integers"
        )
        return [v for v in dict.fromkeys(values) if v != self.seed]

    def ablations(self) -> list[str]:
        """The ablation's runs: ``batch`` (:data:`WHITENED`) or any registered estimator but the paper's own (that
        is the family)."""
        known = tuple(dict.fromkeys([*(name for name in ADVANTAGES if name != "rloo"), WHITENED]))
        return parse_names(self.ablation, "ablation", known)


WHITENED = "batch"
"""The ablation that whitens the leave-one-out advantages over the whole rollout (the paper's Fig. 5 "batch"
normalisation, done as the official code does it: over every response token)."""

NORMS = {"grpo": "group", WHITENED: "batch"}
"""How the ablation's runs are named in labels: the paper's Fig. 5 normalises per group or over the batch."""


def ablation_flags(ablation: str) -> dict:
    """The training settings of an ablation run (or of the family, ``rloo``).

    Example:
        >>> ablation_flags("batch"), ablation_flags("grpo")
        ({'advantage_estimator': 'rloo', 'whiten_advantages': 'tokens'}, {'advantage_estimator': 'grpo'})
    """
    if ablation == WHITENED:
        return {"advantage_estimator": "rloo", "whiten_advantages": "tokens"}
    return {"advantage_estimator": ablation}


def _label(alpha: float, ablation: str = "rloo") -> str:
    if ablation == "rloo":
        return f"alpha={alpha:g}"
    return f"alpha={alpha:g}," + (f"norm={NORMS[ablation]}" if ablation in NORMS else f"adv={ablation}")


def _identity(model: Path) -> str:
    """What identifies a finished model of the demo: its build record (the base: a rebuild changes it) or the
    record it was trained with."""
    for name in (runs.ORGANISM_BUILD, runs.RUN_DONE):
        if (model / name).is_file():
            return (model / name).read_text()
    raise FileNotFoundError(f"{model} is not a finished demo model")


def _build_base(args: DemoArguments) -> Path:
    config = OrganismConfig(
        sft_steps=args.sft_steps, shortcut_rate=args.shortcut_rate, shortcut=args.shortcut, seed=args.seed
    )
    return cached_base_model(config, args.cache_dir, args.rebuild)


def _train(args: DemoArguments, base: Path, alpha: float, ablation: str = "rloo") -> Path:
    """Train one α with the organism's recipe (``ablation``: the family's ``rloo``, or an ablation's settings,
    :func:`ablation_flags`); a finished run with the same settings is reused, an interrupted one resumes from its
    checkpoint."""
    out = Path(args.out) / _label(alpha, ablation)
    settings = {
        "base": str(base),
        "base_build": json.loads(_identity(base)),  # a rebuilt base invalidates the run
        "alpha": alpha,
        "steps": args.rl_steps,
        "lr": args.learning_rate,
        "seed": args.seed,
        **(ablation_flags(ablation) if ablation != "rloo" else {}),
        # GRPO's own advantage since the peers' estimators came in; a run of the former grpo (now rloo-std) is
        # trained again, never reused under the new name
        **({"grpo": "group mean"} if ablation == "grpo" else {}),
    }
    overrides = {
        "model_name_or_path": base,
        "output_dir": out,
        "alpha": alpha,
        **ablation_flags(ablation),
        "max_steps": args.rl_steps,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
    }
    thrifty_args, config, model_args = load_recipe(recipe("alpha_0"), *_flags(overrides))
    train_once(thrifty_args, config, model_args, settings)
    return out


def _flags(values: dict) -> list[str]:
    """``{"alpha": 0.2}`` -> ``["--alpha", "0.2"]``: overrides for a recipe, as on the command line."""
    return [item for key, value in values.items() for item in (f"--{key}", str(value))]


def _baseline(args: DemoArguments, base: Path, method: str, lr: float) -> Path | None:
    """Fine-tune one baseline on the base's own samples of the RL training prompts (sampled once, shared);
    None (with a warning) when those samples give it nothing to train on, as from an untrained toy base."""
    samples = Path(args.out) / "baseline-samples"
    record = {"base": _identity(base), "prompts_per_level": args.baseline_prompts_per_level, "seed": args.seed}
    runs.reset_unless_same(samples, record)  # sampled from another base or with other settings: start afresh
    overrides = {
        "model": base,
        "prompts_per_level": args.baseline_prompts_per_level,
        "samples_dir": samples,
        "sample_seed": args.seed,
        "output_dir": Path(args.out) / f"{method}-lr={lr:g}",
        "learning_rate": lr,
        "seed": args.seed,
    }
    baseline_args, config = load_baseline_recipe(method, recipe(method), *_flags(overrides))
    try:
        return train_baseline(method, baseline_args, config)
    except NoTrainingData as error:
        logger.warning("skipping the %s baseline: %s", method, error)
        return None


def _evaluate(
    args: DemoArguments,
    name: str,
    model: Path,
    max_new_tokens: int | None = None,
    response_prefix: str | None = None,
    thinking_budget: int | None = None,
) -> dict:
    """Evaluate one model into OUT/<name>/eval/; samples are reused only if they came from this very model with
    these settings."""
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
        response_prefix=response_prefix,
        thinking_budget=thinking_budget,
    )
    # the demo owns this folder: another model or other settings start it afresh
    runs.reset_unless_same(Path(eval_args.out), {"model": _identity(model), "eval": asdict(eval_args)})
    return evaluate(eval_args)["organism"]


def _cutoff(args: DemoArguments, base: Path, limit: int) -> dict:
    """The generation-cutoff baseline run for real: the base evaluated with at most ``limit`` new tokens."""
    name = f"cutoff={limit}"
    summary = _evaluate(args, name, base, max_new_tokens=limit)
    record_cutoff(Path(args.out) / name, str(base), limit)
    return summary


def _budget(args: DemoArguments, base: Path, budget: int) -> dict:
    """Budget forcing on the base: its column work ended for it (the answer marker '>' written) at ``budget``."""
    name = f"budget={budget}"
    summary = _evaluate(args, name, base, thinking_budget=budget)
    record_budget(Path(args.out) / name, str(base), budget)
    return summary


def _report(report: ReportArguments) -> Path:
    """The report over this run's models, with their answers to the live questions."""
    models = collect_runs(report.runs, report.base)
    return write_report(report, live=answer_live(live_targets(models), report.questions), models=models)


def _run_section(summary: dict) -> str:
    """How the demo was run: its settings and the time of each stage (appended to the report)."""
    s = summary["settings"]
    cache = s["cache_dir"] or "$THRIFTY_CACHE or ~/.cache/thrifty"
    lines = [
        "",
        "## How this was run",
        "",
        f"Base organism: {s['sft_steps']} SFT steps, {s['shortcut']} shortcut in {s['shortcut_rate']:.0%} of its "
        f"traces (cached in {cache}). "
        f"RL: {s['rl_steps']} steps at lr {s['learning_rate']:g}, 8 prompts × 8 samples per rollout. Evaluation: "
        f"{s['eval_samples']} samples per held-out problem at temperature 0.6, at most {s['eval_max_new_tokens']} "
        f"tokens. Seeds: {', '.join(str(seed) for seed in summary['seeds'])}. "
        f"Whole run: {summary['wall_seconds'] / 60:.1f} min on this machine.",
        "",
        "| stage | seconds |",
        "|---|---|",
    ]
    lines += [f"| {name} | {seconds} |" for name, seconds in summary["stage_seconds"].items()]
    if summary.get("skipped"):
        skipped = ", ".join(summary["skipped"])
        lines += ["", f"Skipped, because the base's samples held nothing to train them on: {skipped}."]
    return "\n".join(lines) + "\n"


def _verdict(holds: bool | None) -> str:
    return {True: "holds", False: "**does not hold**", None: "undecided"}[holds]


def _figures(figures: dict) -> str:
    def show(value):
        if isinstance(value, float):
            return f"{value:.3g}"
        if isinstance(value, list):
            return "[" + ", ".join(show(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
        return str(value)

    return "; ".join(f"{key} {show(value)}" for key, value in figures.items())


def _claims_section(summary: dict) -> str:
    """The paper's claims as this run measured them, and over seeds where there were more (appended to the
    report)."""
    lines = ["", "## The paper's claims on the organism", "", "| claim | verdict | figures |", "|---|---|---|"]
    for claim in summary["claims"]:
        figures = "; ".join(
            part
            for part in (
                _figures(claim["figures"]),
                "needs " + ", ".join(claim["missing"]) if claim["missing"] else "",
            )
            if part
        )
        lines.append(f"| {claim['name']}: {claim['statement']} | {_verdict(claim['holds'])} | {figures} |")
    if len(summary["seeds"]) > 1:
        lines += ["", f"Over seeds {', '.join(str(s) for s in summary['seeds'])} (the base rebuilt per seed):", ""]
        lines += ["| claim | on every seed | each seed |", "|---|---|---|"]
        for row in summary["claims_across_seeds"]:
            each = "<br>".join(
                f"seed {seed}: {_verdict(v['holds'])}; {_figures({k: x for k, x in v.items() if k != 'holds'})}"
                for seed, v in row["seeds"].items()
            )
            lines.append(f"| {row['name']} | {_verdict(row['holds_on_every_seed'])} | {each} |")
        lines += ["", "| model | accuracy: mean (range) | mean tokens: mean (range) |", "|---|---|---|"]
        for label, spread in summary["across_seeds"].items():
            acc, tok = spread["accuracy"], spread["mean_tokens"]
            lines.append(
                f"| {label} | {acc['mean']:.3f} ({acc['min']:.3f}–{acc['max']:.3f}) | "
                f"{tok['mean']:.1f} ({tok['min']:.1f}–{tok['max']:.1f}) |"
            )
    return "\n".join(lines) + "\n"


def _model_entry(summary: dict) -> dict:
    keys = ("accuracy", "mean_tokens", "mean_tokens_correct", "oracle_ratio", "mean_oracle_tokens", "truncation_rate")
    keys += ("n_samples", "accuracy_se", "mean_tokens_se")
    entry = {k: summary[k] for k in keys if k in summary}
    extra = ("behaviours", "frontier_gap", "reference_gap", "response_prefix")
    entry.update({k: summary[k] for k in extra if summary.get(k) is not None})
    entry["per_level"] = {
        level: {k: s[k] for k in (*keys, "behaviours") if k in s} for level, s in summary.get("per_level", {}).items()
    }
    return entry


FORCED_LABEL = "base,forced=" + SHORTCUT


def _entries(summaries: dict[str, dict], prefix: str) -> tuple[dict[str, dict], list | None]:
    """The demo's model entries (``summary.json``), each with its distances to its own and the base's frontier
    (``prefix``: what forced the base's shortcut), and the base's frontier (its vertices)."""
    entries = {}
    for name, s in summaries.items():
        kind = "base" if name == "base" else "forced" if name == FORCED_LABEL else "model"
        entries[name] = {**s, "kind": kind, "response_prefix": prefix if kind == "forced" else None}
    reference = with_frontiers(entries, "organism")
    return {name: _model_entry(e) for name, e in entries.items()}, reference


def _seed_run(args: DemoArguments, stage, full: bool, tag: str = "") -> tuple[dict[str, dict], list[str]]:
    """Build, train and evaluate one seed's models (``full``: with the baselines, both ablations and the cutoff
    runs; else the α family and, with --full, the group-normalised ablation the collapse claim needs (or the first
    ablation)); ``({label: summary}, skipped baselines)``."""
    base = stage(f"build base organism{tag}", _build_base, args)
    models = {"base": base}
    for alpha in args.alpha_values():
        models[_label(alpha)] = stage(f"train {_label(alpha)}{tag}", _train, args, base, alpha)
    skipped = []
    if args.full:
        seeded = ["grpo"] if "grpo" in args.ablations() else args.ablations()[:1]
        for ablation in args.ablations() if full else seeded:
            name = _label(args.ablation_alpha, ablation)
            models[name] = stage(f"train {name}{tag}", _train, args, base, args.ablation_alpha, ablation)
    if full:
        for method in ("sft", "dpo"):
            for lr in args.learning_rates(method):
                trained = stage(f"baseline {method} lr={lr:g}", _baseline, args, base, method, lr)
                if trained is not None:
                    models[f"{method}-lr={lr:g}"] = trained
                else:
                    skipped.append(f"{method}-lr={lr:g}")
    summaries = {name: stage(f"evaluate {name}{tag}", _evaluate, args, name, path) for name, path in models.items()}
    if args.shortcut_rate > 0:  # the base's shortcut skill on every problem (a base without one never learned it)
        summaries[FORCED_LABEL] = stage(
            f"evaluate {FORCED_LABEL}{tag}", _evaluate, args, FORCED_LABEL, base, None, SHORTCUT_MARKS[args.shortcut]
        )
    if full:
        for limit in parse_limits(args.cutoff_limits, "cutoff_limits"):
            summaries[f"cutoff={limit}"] = stage(f"cutoff {limit} tokens", _cutoff, args, base, limit)
        for budget in parse_limits(args.thinking_budgets, "thinking_budgets"):
            summaries[f"budget={budget}"] = stage(f"budget forcing {budget} tokens", _budget, args, base, budget)
    return summaries, skipped


def _spread(per_seed: dict[int, dict[str, dict]]) -> dict[str, dict]:
    """Accuracy and mean tokens of every model run on every seed: mean, min and max over seeds."""
    common = set.intersection(*(set(models) for models in per_seed.values()))
    spread = {}
    for label in next(iter(per_seed.values())):
        if label in common:
            spread[label] = {}
            for key in ("accuracy", "mean_tokens"):
                values = [models[label][key] for models in per_seed.values()]
                spread[label][key] = {"mean": fmean(values), "min": min(values), "max": max(values)}
    return spread


def run_demo(args: DemoArguments) -> dict:
    """Run the demo; returns the contents of ``summary.json``. The folder is held while the demo runs."""
    with runs.folder_lock(Path(args.out)):
        return _run_demo(args)


def _run_demo(args: DemoArguments) -> dict:
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

    if args.extra_seeds() and not args.full:
        logger.warning("--seeds without --full: the extra seeds train the α family only (no ablation)")
    summaries, skipped = _seed_run(args, stage, full=args.full)
    models, reference = _entries(summaries, SHORTCUT_MARKS[args.shortcut])
    per_seed = {args.seed: models}
    for seed in args.extra_seeds():
        seed_args = replace(
            args,
            seed=seed,
            out=str(out / f"{SEED_FOLDER}{seed}"),
            seeds=None,
            alphas=args.seed_alphas,
            full_alphas=args.seed_alphas,
        )
        per_seed[seed] = _entries(
            _seed_run(seed_args, stage, full=False, tag=f" (seed {seed})")[0], SHORTCUT_MARKS[args.shortcut]
        )[0]

    claims = check(models)
    summary = {
        "models": models,
        "claims": [claim.to_dict() for claim in claims],
        "reference_frontier": reference,
        "seeds": list(per_seed),
        "wall_seconds": round(time.time() - start, 1),
        "stage_seconds": stages,
        "skipped": skipped,
        "settings": asdict(args),
    }
    if len(per_seed) > 1:
        summary["seed_models"] = {str(seed): m for seed, m in per_seed.items() if seed != args.seed}
        summary["claims_across_seeds"] = across_seeds({seed: check(m) for seed, m in per_seed.items()})
        summary["across_seeds"] = _spread(per_seed)
    title = "thrifty demo --full" if args.full else "thrifty demo"
    report = ReportArguments(  # only this run's models, even if an earlier --full run left more in OUT
        runs=[str(out / name) for name in summaries],
        out=str(out),
        title=f"{title}: length-penalised RL on the model organism",
        questions=list(LIVE_QUESTIONS),
    )
    path = stage("report", _report, report)
    summary["wall_seconds"] = round(time.time() - start, 1)
    runs.write_atomic(path, path.read_text() + _claims_section(summary) + _run_section(summary))
    runs.write_json(out / runs.SUMMARY, summary)  # the demo's own summary (not an evaluation's)
    return summary
