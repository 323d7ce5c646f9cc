"""`thrifty report RUN_DIRS… --out DIR`: one report over any mix of sweeps, baselines, evaluations and demos.

    thrifty report runs/sweep-1.5b runs/baselines runs/eval-base=base --out runs/report

Writes ``OUT/report.md`` with: the results table (Δ against the base), accuracy against mean tokens per
benchmark (the α family as a curve, each baseline as its own marker/curve, the base, the cutoff curve from the
base's own samples, the oracle where known, the base's frontier and each RL model's gap to its own where
responses are read as behaviours), accuracy at matched length, the savings per difficulty level, what the
responses did per level (behaviours, frontier gaps; :mod:`thrifty.report.frontier`), the training dynamics
of the α family (the paper's Fig. 4), the advantage-normalisation ablation (Fig. 5), the same problems
answered by each model, and answers asked live (given by the caller). Reads files, writes files: it never
loads a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thrifty import runs
from thrifty.data import get_benchmark, load_benchmark
from thrifty.report.collect import ModelRun, collect_runs
from thrifty.report.frontier import distances, frontier, options, own_frontier
from thrifty.report.plots import plot_ablation, plot_family_pareto, plot_training
from thrifty.report.tables import (
    behaviour_table,
    example_section,
    matched_length_table,
    per_level_table,
    responses_block,
    results_table,
)


@dataclass
class ReportArguments:
    """Arguments of ``thrifty report``."""

    runs: list[str] = field(
        default_factory=list, metadata={"help": "Run folders (or NAME=PATH); may also be given first, unflagged."}
    )
    out: str = field(default="runs/report", metadata={"help": "Folder for report.md and its PNG plots."})
    base: str = field(
        default="base", metadata={"help": "Name of the reference model (Δ columns, qualitative section)."}
    )
    examples_per_level: int = field(
        default=1, metadata={"help": "Problems per difficulty level in the qualitative section."}
    )
    max_example_chars: int = field(default=700, metadata={"help": "Longer responses are shortened in the report."})
    title: str = field(default="thrifty report", metadata={"help": "Title of report.md."})
    questions: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Questions every model answers live for the report (e.g. 'What is 1+1?'), one sample each, "
            "with the prompt template and token limit of its evaluation."
        },
    )


def _entries(models: dict[str, ModelRun], benchmark: str) -> dict[str, dict]:
    """``{label: summary entry + kind/alpha}`` of the models evaluated on ``benchmark``."""
    entries = {}
    for run in models.values():
        if benchmark in run.summaries:
            entries[run.label()] = {
                **run.summaries[benchmark],
                "kind": run.kind,
                "alpha": run.alpha,
                "estimator": run.estimator,
                **({"response_prefix": run.info["response_prefix"]} if run.kind == "forced" else {}),
            }
    return entries


def reference_frontier(entries: Mapping[str, Mapping], benchmark: str) -> list[tuple[float, float]] | None:
    """The frontier of the base's skills on ``benchmark`` (see :mod:`thrifty.report.frontier`): its own behaviours,
    with each behaviour it was also evaluated *forced* into (a ``forced`` model of the same model path) measured
    from that evaluation; None without a base that accounts for behaviours."""
    base = next((e for e in entries.values() if e.get("kind") == "base"), None)
    if base is None or not any(f.get("behaviours") for f in base.get("per_level", {}).values()):
        return None
    registered = get_benchmark(benchmark)
    by_prefix = registered.forced if registered else {}
    forced = {
        by_prefix[e["response_prefix"]]: e
        for e in entries.values()
        if e.get("kind") == "forced" and e.get("model") == base.get("model") and e.get("response_prefix") in by_prefix
    }
    return frontier(options(base, forced))


def with_frontiers(entries: dict[str, dict], benchmark: str) -> list[tuple[float, float]] | None:
    """Add each model's own frontier (``own_frontier``) and its distance to it and to the base's (``frontier_gap``,
    ``reference_gap``) to ``entries`` in place; returns the base's frontier (None where there is none)."""
    reference = reference_frontier(entries, benchmark)
    for entry in entries.values():
        if entry.get("kind") != "forced" and own_frontier(entry) is not None:
            entry.update(distances(entry, reference), own_frontier=own_frontier(entry))
    return reference


def _examples(
    models: dict[str, ModelRun], benchmark: str, base: str, per_level: int
) -> list[tuple[str, dict[str, dict]]]:
    """Sample 0 of the first ``per_level`` problems of each level that every model answered:
    ``[(id, {label: record})]``."""
    answered = {}
    for run in models.values():
        if benchmark in run.samples:
            records = runs.read_jsonl(run.samples[benchmark])
            answered[run.label()] = {r["id"]: r for r in records if r.get("sample") == 0}
    if not answered:
        return []
    first = answered.get(next((r.label() for r in models.values() if r.name == base), None)) or next(
        iter(answered.values())
    )
    common = [pid for pid in first if all(pid in a for a in answered.values())]
    chosen, per = [], {}
    for pid in common:
        level = first[pid].get("level")
        if per.get(level, 0) < per_level:
            per[level] = per.get(level, 0) + 1
            chosen.append(pid)
    return [(pid, {label: a[pid] for label, a in answered.items()}) for pid in chosen]


def _questions(benchmark: str, ids: set[str], summary: dict) -> dict[str, str]:
    """The question text of ``ids`` when the benchmark is at hand (a generated one such as the organism, or the
    local files it was evaluated from); else {} -- the report never goes to the network for it."""
    data_dir = summary.get("data_dir")
    registered = get_benchmark(benchmark)
    if not data_dir and not (registered is not None and registered.generated):
        return {}
    try:
        return {p.id: p.question for p in load_benchmark(benchmark, data_dir) if p.id in ids}
    except Exception:  # the report must not fail because a benchmark file moved
        return {}


def write_report(
    args: ReportArguments,
    live: Mapping[str, Sequence[Mapping]] | None = None,
    models: dict[str, ModelRun] | None = None,
) -> Path:
    """Draw the plots and write ``OUT/report.md`` over ``models`` (default: :func:`collect_runs` of ``args.runs``);
    returns its path.

    ``live`` holds the answers to ``args.questions`` (``{label: [one answer per question]}``, each with ``text``,
    ``tokens`` and ``finished``), asked by the caller (:func:`thrifty.ask.answer_live`): the report reads files
    and never loads a model.
    """
    models = models if models is not None else collect_runs(args.runs, args.base)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    benchmarks = sorted({b for run in models.values() for b in run.summaries})
    base_label = next((r.label() for r in models.values() if r.kind == "base" or r.name == args.base), None)
    parts = [
        f"# {args.title}",
        "",
        f"{len(models)} models, {len(benchmarks)} benchmark(s): {', '.join(benchmarks)}. "
        "Accuracy is the average pass rate over all samples; tokens are response tokens.",
        "",
    ]

    by_benchmark = {b: _entries(models, b) for b in benchmarks}
    references = {b: with_frontiers(entries, b) for b, entries in by_benchmark.items()}
    parts += ["## Results", "", results_table(by_benchmark, base_label), ""]
    for benchmark in benchmarks:
        entries = by_benchmark[benchmark]
        png = plot_family_pareto(entries, benchmark, out / f"pareto_{benchmark}.png", frontier=references[benchmark])
        parts += [f"## Accuracy against length: {benchmark}", "", f"![{benchmark}]({png.name})", ""]
        matched = matched_length_table(entries)
        if matched:
            parts += [
                "**At matched length.** Each baseline against the α family's accuracy at the baseline's mean "
                "tokens (linear between neighbouring α):",
                "",
                matched,
                "",
            ]
        levels = per_level_table(entries, base_label)
        if levels:
            parts += [
                f"**By difficulty level ({benchmark}).** Tokens saved against the base, per level:",
                "",
                levels,
                "",
            ]
        behaviours = behaviour_table(entries)
        if behaviours:
            parts += [
                f"**What the responses did ({benchmark}).** Per level, each behaviour's share of the responses · "
                "its accuracy · its mean tokens. A model's *frontier* is the best accuracy its own per-level, "
                "per-behaviour skills reach at each mean-token budget when each level gets the best mix of "
                "behaviours; the gap at its own mean tokens is what better allocation alone would gain. "
                + (
                    "The base's frontier (its skills, with forced behaviours measured on every problem) is one "
                    "reference for all: a model can end above it by learning."
                    if references[benchmark]
                    else ""
                ),
                "",
                behaviours,
                "",
            ]

    family = {r.label(): r.metrics for r in models.values() if r.kind == "family" and r.metrics.is_file()}
    if family:
        plot_training(family, out / "training.png")
        parts += [
            "## Training dynamics (the α family)",
            "",
            "Rollout accuracy and length during RL (temperature 1.0, moving average over 5 steps).",
            "",
            "![training](training.png)",
            "",
        ]
    ablations = [r for r in models.values() if r.kind == "ablation"]
    if ablations:
        alphas = {r.alpha for r in ablations}
        curves = {
            r.label(): r.metrics for r in models.values() if r.kind in ("family", "ablation") and r.alpha in alphas
        }
        plot_ablation(curves, out / "ablation.png")
        parts += [
            "## Ablation: normalising the advantage",
            "",
            "The same α trained with the paper's un-normalised RLOO advantage and with the advantage divided by "
            "its standard deviation (per prompt = GRPO's, or over the batch). The paper (Fig. 5) finds that "
            "normalising collapses length and accuracy.",
            "",
            "![ablation](ablation.png)",
            "",
        ]

    for benchmark in benchmarks:
        examples = _examples(models, benchmark, args.base, args.examples_per_level)
        if examples:
            summary = next(r.summaries[benchmark] for r in models.values() if benchmark in r.summaries)
            questions = _questions(benchmark, {pid for pid, _ in examples}, summary)
            parts += [
                f"## The same problems, answered by each model ({benchmark})",
                "",
                example_section(examples, questions, args.max_example_chars),
                "",
            ]
    if args.questions and live:
        parts += ["## Asked live", "", live_section(live, args.questions, args.max_example_chars), ""]
    path = out / "report.md"
    runs.write_atomic(path, "\n".join(parts))
    return path


def live_section(answers: Mapping[str, Sequence[Mapping]], questions: Sequence[str], max_chars: int) -> str:
    """Each model's answer to each question (``answers[label][i]`` answers ``questions[i]``): the paper's
    Appendix A ("What is 1+1?")."""
    parts = []
    for i, question in enumerate(questions):
        parts += [f"**{question}**", ""]
        rows = [
            (label, a[i]["tokens"], "finished" if a[i]["finished"] else "cut off", a[i]["text"])
            for label, a in answers.items()
        ]
        parts += [responses_block(rows, max_chars), ""]
    return "\n".join(parts)
