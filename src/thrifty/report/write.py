"""`thrifty report RUN_DIRS… --out DIR`: one report over any mix of sweeps, baselines, evaluations and demos.

    thrifty report runs/sweep-1.5b runs/baselines runs/eval-base=base --out runs/report

Writes ``OUT/report.md`` with: the results table (± standard errors, Δ against the base marked where it exceeds
noise), how the numbers were made (each evaluation's and each training run's settings), accuracy against mean
tokens per benchmark (the α family as a curve, each baseline as its own marker/curve, budget forcing's curve and
the prompting points beside them, the base, the cutoff curve from the base's own samples, the oracle where known,
error bars, the base's frontier and each RL model's gap to its own where responses are read as behaviours),
accuracy at matched length (every baseline and inference-time method), the savings per difficulty level, a
thinking model's thinking and answer tokens (overall and per level), what the responses did per level
(behaviours, frontier gaps; :mod:`thrifty.report.frontier`), the training dynamics of the α family (the paper's
Fig. 4), the advantage-normalisation ablation (Fig. 5), the same problems answered by each model, and answers
asked live (given by the caller). A training run not evaluated yet is reported by its training alone, with the
command that evaluates it. Reads files, writes files: it never loads a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from thrifty import runs
from thrifty.data import get_benchmark, load_benchmark
from thrifty.report.collect import INFERENCE_DEFAULTS, ModelRun, collect_runs, inference_settings
from thrifty.report.frontier import distances, frontier, options, own_frontier
from thrifty.report.plots import (
    ROLLOUT_KEYS,
    plot_ablation,
    plot_family_pareto,
    plot_training,
    series,
    smoothing_note,
    steps_per_rollout,
    training_panels,
)
from thrifty.report.tables import (
    NOISE_RULE,
    PER_LEVEL_NOTE,
    THINKING_NOTE,
    behaviour_table,
    example_section,
    has_thinking,
    matched_length_table,
    per_level_table,
    responses_block,
    results_table,
    settings_table,
    thinking_table,
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
                **({"thinking_budget": run.info.get("thinking_budget")} if run.kind == "budget" else {}),
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


SMOOTHING_WINDOW = 5
"""Rollouts per moving average in the training plots."""


def _has_curves(run: ModelRun) -> bool:
    """Whether the run logged anything a training plot draws (a run just started may have logged nothing yet)."""
    return run.metrics.is_file() and bool(training_panels({run.label(): runs.read_jsonl(run.metrics)}))


def _training_text(curves: Mapping[str, ModelRun], path: Path, plot) -> str:
    """Draw ``curves`` with ``plot`` (:func:`plot_training` or :func:`plot_ablation`) at ``path``, each run's
    rollout temperature from its own config; returns the sentence that says what the plot shows."""
    temperatures = {label: run.training().get("temperature") for label, run in curves.items()}
    plot({label: run.metrics for label, run in curves.items()}, path, SMOOTHING_WINDOW, temperatures=temperatures)
    spacing = [steps_per_rollout(series(runs.read_jsonl(run.metrics), ROLLOUT_KEYS)[0]) for run in curves.values()]
    known = sorted({t for t in temperatures.values() if t is not None})
    temperature = (
        f"sampled at temperature {', '.join(f'{t:g}' for t in known)} (the runs' configs)"
        if known
        else "at the temperature of each run's recipe (not recorded in these folders)"
    )
    return (
        f"Rollouts during RL, {temperature}, against the optimizer step: length, accuracy, and where logged the "
        f"reward, the KL to the reference model and the share of responses cut at the token limit; "
        f"{smoothing_note(SMOOTHING_WINDOW, max(spacing, default=1))}. Each run has its own line style."
    )


def _not_evaluated(pending: Sequence[ModelRun]) -> str:
    """What to do about training runs that have no evaluation yet."""
    lines = [
        f"**Not evaluated yet:** {', '.join(run.label() for run in pending)}. Only training is reported for "
        + ("it" if len(pending) == 1 else "them")
        + (". Evaluate it" if len(pending) == 1 else ". Evaluate each")
        + " (the benchmark and settings are yours to choose: `thrifty eval --help`), then run this report again:",
        "",
        "```",
    ]
    for run in pending:
        prompts = run.training().get("prompts")  # trained on a benchmark's training split: its test split
        benchmark = prompts if isinstance(prompts, str) and get_benchmark(prompts) is not None else "math500"
        lines.append(f"thrifty eval --model {run.folder} --benchmark {benchmark} --out {run.folder / 'eval'}")
    lines += ["```"]
    return "\n".join(lines)


EVAL_COLUMNS = (
    ("model", "model"),
    ("benchmark", "benchmark"),
    ("path", "model path"),
    ("n_problems", "problems"),
    ("samples_per_problem", "samples / problem"),
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("max_new_tokens", "max new tokens"),
    ("verifier", "verifier"),
    ("seed", "seed"),
    ("backend", "backend"),
    ("response_prefix", "response begun with"),
    ("prompt_style", "prompt style"),
    ("prompt_budget", "prompt budget"),
    ("no_thinking", "NoThinking"),
    ("thinking_budget", "thinking budget"),
    ("min_thinking", "min thinking"),
    ("answer_budget", "answer budget"),
    ("answer_cue", "answer cue"),
)
TRAIN_COLUMNS = (
    ("model", "model"),
    ("from", "trained from"),
    ("method", "method"),
    ("alpha", "α"),
    ("reward", "reward"),
    ("advantage_estimator", "advantage"),
    ("profile", "profile"),
    ("kl_penalty", "KL"),
    ("whiten_advantages", "whitening"),
    ("steps", "steps"),
    ("learning_rate", "learning rate"),
    ("temperature", "rollout / sampling temperature"),
    ("num_generations", "samples per prompt"),
    ("max_completion_length", "max new tokens"),
    ("updates_per_rollout", "updates per rollout"),
    ("prompts", "prompts"),
    ("seed", "seed"),
)


def _evaluation_row(run: ModelRun, benchmark: str) -> dict:
    """One evaluation's settings: the summary's, else its ``config.json`` (older summaries record fewer); the
    inference-time settings it left alone read '-'."""
    summary = run.summaries[benchmark]
    settings = runs.read_json_object(run.samples[benchmark].parent / runs.EVAL_SETTINGS) or {}
    row = {key: summary.get(key, settings.get(key)) for key, _ in EVAL_COLUMNS}
    row.update(dict.fromkeys(INFERENCE_DEFAULTS) | inference_settings(summary, settings))
    row["no_thinking"] = "yes" if row["no_thinking"] else None
    row.update(model=run.label(), benchmark=benchmark, path=summary.get("model") or settings.get("model"))
    row["samples_per_problem"] = summary.get("samples_per_problem") or settings.get("samples")
    return row


def _training_row(run: ModelRun) -> dict | None:
    """One trained model's settings (:func:`thrifty.report.collect.training_settings`); None for a model thrifty
    did not train."""
    settings = run.training()
    if run.kind in ("family", "ablation"):
        method = "RL (PPO)"
    elif run.kind in ("sft", "dpo"):
        method = {"sft": "rejection sampling + SFT", "dpo": "DPO"}[run.kind]
    else:
        return None
    steps = settings.get("max_steps")
    if not steps or steps < 0:
        epochs = settings.get("num_train_epochs")
        steps = f"{epochs:g} epoch{'s' if epochs != 1 else ''}" if epochs else None
    done = settings.get("steps_done")
    if done is not None and done != steps:
        steps = f"{done} of {steps}" if steps else done
    prompts = settings.get("prompts")
    if prompts and settings.get("prompts_split"):
        prompts = f"{prompts} ({settings['prompts_split']})"
    row = {key: settings.get(key) for key, _ in TRAIN_COLUMNS}
    row.update(model=run.label(), method=method, steps=steps, prompts=prompts)
    row["from"] = settings.get("model_name_or_path")
    return row


def how_made(models: Mapping[str, ModelRun]) -> list[str]:
    """The report's "How these numbers were made" section: each evaluation's settings and each trained model's
    (what is unknown reads '-': older runs record less)."""
    evaluations = [_evaluation_row(run, b) for run in models.values() for b in sorted(run.summaries)]
    trained = [row for row in (_training_row(run) for run in models.values()) if row is not None]
    if not evaluations and not trained:
        return []
    parts = ["## How these numbers were made", ""]
    if evaluations:
        parts += [
            "**Evaluations** (`thrifty eval`): every problem answered `samples / problem` times at this "
            "temperature, responses cut at `max new tokens`, the last `\\boxed{}` answer checked by the verifier.",
            "",
            settings_table(evaluations, EVAL_COLUMNS),
            "",
        ]
    if trained:
        parts += [
            "**Training** (`thrifty train`, `thrifty baseline`): from each run folder's `thrifty_args.json`, "
            "`train_config.json` or `baseline.json`.",
            "",
            settings_table(trained, TRAIN_COLUMNS),
            "",
        ]
    return parts


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
        f"{len(models)} model{'s' if len(models) != 1 else ''}, "
        + (
            f"{len(benchmarks)} benchmark(s): {', '.join(benchmarks)}. Accuracy is the average pass rate over all "
            "samples; tokens are response tokens."
            if benchmarks
            else "no evaluation yet."
        ),
        "",
    ]
    pending = [run for run in models.values() if not run.summaries]
    if pending:
        parts += [_not_evaluated(pending), ""]

    by_benchmark = {b: _entries(models, b) for b in benchmarks}
    references = {b: with_frontiers(entries, b) for b, entries in by_benchmark.items()}
    if benchmarks:
        reference = base_label or "the base"
        parts += ["## Results", "", results_table(by_benchmark, base_label), "", NOISE_RULE.format(base=reference), ""]
        if has_thinking(e for entries in by_benchmark.values() for e in entries.values()):
            parts += [THINKING_NOTE, ""]
    parts += how_made(models)
    for benchmark in benchmarks:
        entries = by_benchmark[benchmark]
        png = plot_family_pareto(entries, benchmark, out / f"pareto_{benchmark}.png", frontier=references[benchmark])
        parts += [f"## Accuracy against length: {benchmark}", "", f"![{benchmark}]({png.name})", ""]
        if any(e.get("accuracy_se") is not None for e in entries.values()):
            parts += ["Error bars: ± one standard error of accuracy and of mean tokens.", ""]
        matched = matched_length_table(entries)
        if matched:
            parts += [
                "**At matched length.** Each baseline and inference-time method against the α family's accuracy at "
                "its mean tokens (linear between neighbouring α; ± and * as in the results table):",
                "",
                matched,
                "",
            ]
        levels = per_level_table(entries, base_label)
        if levels:
            parts += [
                f"**By difficulty level ({benchmark}).** " + PER_LEVEL_NOTE.format(base=base_label or "the base"),
                "",
                levels,
                "",
            ]
        thinking = thinking_table(entries)
        if thinking:
            parts += [
                f"**Thinking and answer by level ({benchmark}).** Each cell: mean thinking tokens / mean answer "
                "tokens of a thinking model's responses on that level.",
                "",
                thinking,
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

    family = {r.label(): r for r in models.values() if r.kind == "family" and _has_curves(r)}
    if family:
        parts += [
            "## Training dynamics (the α family)",
            "",
            _training_text(family, out / "training.png", plot_training),
            "",
            "![training](training.png)",
            "",
        ]
    ablations = [r for r in models.values() if r.kind == "ablation" and _has_curves(r)]
    if ablations:
        alphas = {r.alpha for r in ablations}
        curves = {
            r.label(): r
            for r in models.values()
            if r.kind in ("family", "ablation") and r.alpha in alphas and _has_curves(r)
        }
        parts += [
            "## Ablation: normalising the advantage",
            "",
            "The same α trained with the paper's un-normalised RLOO advantage and with the advantage divided by "
            "its standard deviation (per prompt = GRPO's, or whitened over every response token of the rollout, as "
            "the official code does). The paper (Fig. 5) finds that "
            "normalising collapses length and accuracy. "
            + _training_text(curves, out / "ablation.png", plot_ablation),
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
