"""`thrifty report RUN_DIRS… --out DIR`: one report over any mix of sweeps, baselines, evaluations and demos.

    thrifty report runs/sweep-1.5b runs/baselines runs/eval-base=base --out runs/report

Every ``summary.json`` written by ``thrifty eval`` under a RUN_DIR is one (model, benchmark) result. The model
is named after the folder that holds the evaluation (``<model>/eval/<benchmark>/`` as written by ``thrifty
sweep``, ``thrifty baseline`` and ``thrifty demo``, or ``<eval out>/<benchmark>/`` for a bare ``thrifty
eval``); ``NAME=PATH`` names a RUN_DIR's only model yourself. What a model *is* comes from the files beside it:
``thrifty_args.json`` (an RL member: its α and advantage normalisation), ``baseline.json`` (sft, dpo or
cutoff), else its name (``--base``, default "base", is the reference model).

Writes ``OUT/report.md`` with: the results table (Δ against the base), accuracy against mean tokens per
benchmark (the α family as a curve, each baseline as its own marker/curve, the base, the cutoff curve from the
base's own samples, the oracle where known), accuracy at matched length, the savings per difficulty level,
the training dynamics of the α family (the paper's Fig. 4), the advantage-normalisation ablation (Fig. 5),
and the same problems answered by each model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

KIND_ORDER = ("base", "family", "ablation", "sft", "dpo", "cutoff", "other")


@dataclass
class ReportArguments:
    """Arguments of ``thrifty report``."""

    runs: list[str] = field(default_factory=list, metadata={"help": "Run folders (or NAME=PATH); may also be given first, unflagged."})
    out: str = field(default="runs/report", metadata={"help": "Folder for report.md and its PNG plots."})
    base: str = field(default="base", metadata={"help": "Name of the reference model (Δ columns, qualitative section)."})
    examples_per_level: int = field(default=1, metadata={"help": "Problems per difficulty level in the qualitative section."})
    max_example_chars: int = field(default=700, metadata={"help": "Longer responses are shortened in the report."})
    title: str = field(default="thrifty report", metadata={"help": "Title of report.md."})
    questions: list[str] = field(
        default_factory=list,
        metadata={"help": "Questions every model answers live for the report (e.g. 'What is 1+1?'), one sample each, "
                          "with the prompt template and token limit of its evaluation."},
    )


@dataclass
class ModelRun:
    """One model's results, as found on disk."""

    name: str
    folder: Path
    named: bool = False  # named by the user (NAME=PATH): that name is its label
    kind: str = "other"
    alpha: float | None = None
    normalization: str | None = None
    info: dict = field(default_factory=dict)
    summaries: dict[str, dict] = field(default_factory=dict)
    samples: dict[str, Path] = field(default_factory=dict)

    @property
    def metrics(self) -> Path:
        return self.folder / "metrics.jsonl"

    def label(self) -> str:
        """How the model is named in tables and legends."""
        if self.named:
            return self.name
        if self.kind == "family":
            return f"α={self.alpha:g}"
        if self.kind == "ablation":
            return f"α={self.alpha:g}, {self.normalization}-normalised"
        if self.kind in ("sft", "dpo"):
            lr = self.info.get("config", {}).get("learning_rate")
            return f"{self.kind.upper()}" + (f" (lr {lr:g})" if lr is not None else "")
        if self.kind == "cutoff":
            return f"cutoff {self.info.get('max_new_tokens')} tokens"
        return self.name

    def sort_key(self):
        extra = {"family": self.alpha, "ablation": self.alpha, "cutoff": self.info.get("max_new_tokens"),
                 "sft": self.info.get("config", {}).get("learning_rate"), "dpo": self.info.get("config", {}).get("learning_rate")}
        return (KIND_ORDER.index(self.kind), extra.get(self.kind) or 0, self.name)


def _classify(run: ModelRun, base: str) -> None:
    args_file, baseline_file = run.folder / "thrifty_args.json", run.folder / "baseline.json"
    if args_file.is_file():
        args = json.loads(args_file.read_text())
        run.alpha, run.normalization = float(args["alpha"]), args.get("advantage_normalization", "none")
        run.kind = "family" if run.normalization == "none" else "ablation"
    elif baseline_file.is_file():
        run.info = json.loads(baseline_file.read_text())
        run.kind = run.info.get("method", "other")
    elif run.name == base:
        run.kind = "base"


def _split_spec(spec: str) -> tuple[str, str]:
    """``"PATH"`` or ``"NAME=PATH"`` -> ``(name or "", path)``; names and paths may hold "=" (``alpha=0.2``), so the
    split is the first "=" after which an existing folder follows."""
    if Path(spec).exists():
        return "", spec
    for i, char in enumerate(spec):
        if char == "=" and Path(spec[i + 1 :]).is_dir():
            return spec[:i], spec[i + 1 :]
    return "", spec


def collect_runs(paths: list[str], base: str = "base") -> dict[str, ModelRun]:
    """Find every evaluated model under ``paths``; ``{name: ModelRun}`` in report order."""
    runs: dict[str, ModelRun] = {}
    for spec in paths:
        label, path = _split_spec(spec)
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"no such run folder: {spec}")
        found = 0
        for summary_path in sorted(root.rglob("summary.json")):
            parts = summary_path.relative_to(root).parts
            if any(p.startswith("checkpoint-") for p in parts) or summary_path.parent.name == "train-prompts":
                continue  # checkpoints, and the baselines' sampled set (training prompts, not an evaluation)
            summary = json.loads(summary_path.read_text())
            if "accuracy" not in summary or "mean_tokens" not in summary:
                continue  # a demo's summary.json or another file of that name
            holder = summary_path.parent.parent
            folder = holder.parent if holder.name == "eval" else holder
            name = label or folder.resolve().name
            run = runs.get(name)
            if run is not None and run.folder != folder:
                raise ValueError(
                    f"two models are both called {name!r} ({run.folder} and {folder}); name them with NAME=PATH"
                )
            if run is None:
                run = runs[name] = ModelRun(name=name, folder=folder, named=bool(label))
                _classify(run, base)
            benchmark = summary.get("benchmark", summary_path.parent.name)
            run.summaries[benchmark] = summary
            run.samples[benchmark] = summary_path.parent / "samples.jsonl"
            found += 1
        if not found:
            raise FileNotFoundError(f"{path} holds no evaluation (no summary.json written by thrifty eval)")
    if not runs:
        raise ValueError("no run folders given: thrifty report RUN_DIR [RUN_DIR ...] --out DIR")
    labels: dict[str, list[str]] = {}
    for run in runs.values():
        labels.setdefault(run.label(), []).append(run.name)
    clashes = {label: names for label, names in labels.items() if len(names) > 1}
    if clashes:
        raise ValueError(f"models would share a label in the report: {clashes}; name them with NAME=PATH")
    return dict(sorted(runs.items(), key=lambda item: item[1].sort_key()))


# --------------------------------------------------------------------------------------------- sections
def _entries(runs: dict[str, ModelRun], benchmark: str) -> dict[str, dict]:
    """``{label: summary entry + kind/alpha}`` of the models evaluated on ``benchmark``."""
    entries = {}
    for run in runs.values():
        if benchmark in run.summaries:
            entries[run.label()] = {**run.summaries[benchmark], "kind": run.kind, "alpha": run.alpha, "normalization": run.normalization}
    return entries


def _examples(runs: dict[str, ModelRun], benchmark: str, base: str, per_level: int) -> list[tuple[str, dict[str, dict]]]:
    """Sample 0 of the first ``per_level`` problems of each level that every model answered: ``[(id, {label: record})]``."""
    from .evaluate import read_samples

    answered = {}
    for run in runs.values():
        if benchmark in run.samples:
            answered[run.label()] = {r["id"]: r for r in read_samples(run.samples[benchmark]) if r.get("sample") == 0}
    if not answered:
        return []
    first = answered.get(next((r.label() for r in runs.values() if r.name == base), None)) or next(iter(answered.values()))
    common = [pid for pid in first if all(pid in a for a in answered.values())]
    chosen, per = [], {}
    for pid in common:
        level = first[pid].get("level")
        if per.get(level, 0) < per_level:
            per[level] = per.get(level, 0) + 1
            chosen.append(pid)
    return [(pid, {label: a[pid] for label, a in answered.items()}) for pid in chosen]


def _questions(benchmark: str, ids: set[str], summary: dict) -> dict[str, str]:
    """The question text of ``ids`` when the benchmark is at hand (the organism, or the local files it was
    evaluated from); else {} -- the report never goes to the network for it."""
    from .data import load_benchmark

    data_dir = summary.get("data_dir")
    if benchmark != "organism" and not data_dir:
        return {}
    try:
        return {p.id: p.question for p in load_benchmark(benchmark, data_dir) if p.id in ids}
    except Exception:  # noqa: BLE001 - the report must not fail because a benchmark file moved
        return {}


def write_report(args: ReportArguments) -> Path:
    """Collect the runs, draw the plots, write ``OUT/report.md``; returns its path."""
    from .plots import plot_ablation, plot_family_pareto, plot_training
    from .report import example_section, matched_length_table, per_level_table, results_table

    runs = collect_runs(args.runs, args.base)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    benchmarks = sorted({b for run in runs.values() for b in run.summaries})
    base_label = next((r.label() for r in runs.values() if r.kind == "base" or r.name == args.base), None)
    parts = [f"# {args.title}", "", f"{len(runs)} models, {len(benchmarks)} benchmark(s): {', '.join(benchmarks)}. "
             "Accuracy is the average pass rate over all samples; tokens are response tokens.", ""]

    parts += ["## Results", "", results_table({b: _entries(runs, b) for b in benchmarks}, base_label), ""]
    for benchmark in benchmarks:
        entries = _entries(runs, benchmark)
        png = plot_family_pareto(entries, benchmark, out / f"pareto_{benchmark}.png")
        parts += [f"## Accuracy against length: {benchmark}", "", f"![{benchmark}]({png.name})", ""]
        matched = matched_length_table(entries)
        if matched:
            parts += ["**At matched length.** Each baseline against the α family's accuracy at the baseline's mean "
                      "tokens (linear between neighbouring α):", "", matched, ""]
        levels = per_level_table(entries, base_label)
        if levels:
            parts += [f"**By difficulty level ({benchmark}).** Tokens saved against the base, per level:", "", levels, ""]

    family = {r.label(): r.metrics for r in runs.values() if r.kind == "family" and r.metrics.is_file()}
    if family:
        plot_training(family, out / "training.png")
        parts += ["## Training dynamics (the α family)", "", "Rollout accuracy and length during RL (temperature 1.0, "
                  "moving average over 5 steps).", "", "![training](training.png)", ""]
    ablations = [r for r in runs.values() if r.kind == "ablation"]
    if ablations:
        alphas = {r.alpha for r in ablations}
        curves = {r.label(): r.metrics for r in runs.values() if r.kind in ("family", "ablation") and r.alpha in alphas}
        plot_ablation(curves, out / "ablation.png")
        parts += ["## Ablation: normalising the advantage", "",
                  "The same α trained with the paper's un-normalised RLOO advantage and with the advantage divided by "
                  "its standard deviation (per prompt = GRPO's, or over the batch). The paper (Fig. 5) finds that "
                  "normalising collapses length and accuracy.", "", "![ablation](ablation.png)", ""]

    for benchmark in benchmarks:
        examples = _examples(runs, benchmark, args.base, args.examples_per_level)
        if examples:
            summary = next(r.summaries[benchmark] for r in runs.values() if benchmark in r.summaries)
            questions = _questions(benchmark, {pid for pid, _ in examples}, summary)
            parts += [f"## The same problems, answered by each model ({benchmark})", "",
                      example_section(examples, questions, args.max_example_chars), ""]
    if args.questions:
        parts += ["## Asked live", "", live_section(runs, args.questions, args.max_example_chars), ""]
    path = out / "report.md"
    path.write_text("\n".join(parts))
    return path


def live_section(runs: dict[str, ModelRun], questions: list[str], max_chars: int) -> str:
    """Each model answers each question once (temperature 0.6), with the prompt template, token limit and model
    path recorded in its first evaluation's ``config.json``: the paper's Appendix A ("What is 1+1?")."""
    from .data import build_prompt
    from .generation import SamplingParams, load_backend
    from .report import responses_block

    parts = []
    answers: dict[str, list] = {}
    for run in runs.values():
        if run.kind == "cutoff" or not run.samples:
            continue  # a cutoff run is its base model with a shorter limit
        config_path = next(iter(run.samples.values())).parent / "config.json"
        if not config_path.is_file():
            continue
        config = json.loads(config_path.read_text())
        try:
            backend = load_backend(config.get("backend", "hf"), config["model"], gguf_file=config.get("gguf_file"))
        except Exception as error:  # noqa: BLE001 - a model that moved away is reported, not fatal
            logger.warning("cannot load %s for the live questions: %s", config["model"], error)
            continue
        params = SamplingParams(0.6, 1.0, config.get("max_new_tokens", 4096))
        prompts = [build_prompt(q, backend.tokenizer, config.get("prompt_template") or "{question}") for q in questions]
        answers[run.label()] = [c[0] for c in backend.generate(prompts, 1, params, seed=0)]
    for i, question in enumerate(questions):
        parts += [f"**{question}**", ""]
        rows = [(label, c[i].tokens, "finished" if c[i].finished else "cut off", c[i].text) for label, c in answers.items()]
        parts += [responses_block(rows, max_chars), ""]
    return "\n".join(parts)
