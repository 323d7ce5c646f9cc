"""Human-readable views of evaluation summaries: markdown tables. Pure: dicts in, text out."""

from __future__ import annotations

from typing import Mapping, Sequence


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def summary_table(summaries: Mapping[str, Mapping]) -> str:
    """One markdown row per benchmark: problems, samples, accuracy, pass@k, tokens, truncation.

    Example:
        >>> print(summary_table({"gsm8k": dict(n_problems=2, samples_per_problem=1, accuracy=0.5,
        ...     pass_at_k={"1": 0.5}, mean_tokens=10.0, mean_tokens_correct=8.0, truncation_rate=0.0)}))
        | benchmark | problems | k | accuracy | pass@k | mean tokens | mean tokens (correct) | truncated |
        |---|---|---|---|---|---|---|---|
        | gsm8k | 2 | 1 | 0.500 | 0.500 | 10.0 | 8.0 | 0.000 |
    """
    lines = [
        "| benchmark | problems | k | accuracy | pass@k | mean tokens | mean tokens (correct) | truncated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        k = s["samples_per_problem"]
        lines.append(
            f"| {name} | {s['n_problems']} | {k} | {_fmt(s['accuracy'])} | {_fmt(s['pass_at_k'][str(k)])} | "
            f"{_fmt(s['mean_tokens'], 1)} | {_fmt(s['mean_tokens_correct'], 1)} | {_fmt(s['truncation_rate'])} |"
        )
    return "\n".join(lines)


def cutoff_table(summary: Mapping) -> str:
    """The generation-cutoff baseline of one benchmark as a markdown table (token limit, accuracy, tokens)."""
    lines = ["| cutoff (tokens) | accuracy | mean tokens |", "|---|---|---|"]
    for point in summary.get("cutoff_curve", []):
        lines.append(f"| {point['max_tokens']} | {_fmt(point['accuracy'])} | {_fmt(point['mean_tokens'], 1)} |")
    return "\n".join(lines)


def model_table(models: Mapping[str, Mapping], base: str = "base") -> str:
    """One markdown row per model: accuracy, mean tokens, tokens / oracle, and the change against ``base``.

    Example:
        >>> print(model_table({"base": dict(accuracy=0.9, mean_tokens=100.0, oracle_ratio=2.0),
        ...                    "alpha=0.2": dict(accuracy=0.9, mean_tokens=60.0, oracle_ratio=1.2)}))
        | model | accuracy | mean tokens | tokens / oracle | Δ accuracy (points) | Δ tokens |
        |---|---|---|---|---|---|
        | base | 0.900 | 100.0 | 2.00 | - | - |
        | alpha=0.2 | 0.900 | 60.0 | 1.20 | +0.0 | -40% |
    """
    lines = ["| model | accuracy | mean tokens | tokens / oracle | Δ accuracy (points) | Δ tokens |", "|---|---|---|---|---|---|"]
    ref = models.get(base)
    for name, m in models.items():
        delta_acc = delta_tok = "-"
        if ref is not None and name != base:
            delta_acc = f"{100 * (m['accuracy'] - ref['accuracy']):+.1f}"
            delta_tok = f"{100 * (m['mean_tokens'] / ref['mean_tokens'] - 1):+.0f}%"
        lines.append(
            f"| {name} | {_fmt(m['accuracy'])} | {_fmt(m['mean_tokens'], 1)} | {_fmt(m.get('oracle_ratio'), 2)} "
            f"| {delta_acc} | {delta_tok} |"
        )
    return "\n".join(lines)


def level_table(models: Mapping[str, Mapping], base: str = "base") -> str:
    """Per difficulty level: each model's accuracy, mean tokens and token saving against ``base``."""
    levels = sorted({lvl for m in models.values() for lvl in m.get("per_level", {})}, key=int)
    lines = ["| level | model | accuracy | mean tokens | tokens / oracle | saving vs base |", "|---|---|---|---|---|---|"]
    for level in levels:
        ref = models.get(base, {}).get("per_level", {}).get(level)
        for name, m in models.items():
            s = m.get("per_level", {}).get(level)
            if s is None:
                continue
            saving = "-" if ref is None or name == base else f"{100 * (1 - s['mean_tokens'] / ref['mean_tokens']):.0f}%"
            lines.append(
                f"| {level} | {name} | {_fmt(s['accuracy'])} | {_fmt(s['mean_tokens'], 1)} | {_fmt(s.get('oracle_ratio'), 2)} | {saving} |"
            )
    return "\n".join(lines)


def demo_report(summary: Mapping, plots: Mapping[str, str], examples: Mapping[str, Sequence[Mapping]]) -> str:
    """The demo's ``report.md``: what was run, the tables, the plots, and the same problems answered by each model.

    ``plots`` maps a plot's title to its path relative to the report; ``examples`` maps a model name to
    sample records (``id``, ``response``, ``tokens``, ``correct``) of the same problems in the same order.
    """
    models = summary["models"]
    settings = summary.get("settings", {})
    parts = [
        "# thrifty demo: length-penalised RL on the model organism",
        "",
        f"Base organism, then RL with α ∈ {{{settings.get('alphas', '?')}}} for {settings.get('rl_steps', '?')} steps each; "
        f"every model answers the same held-out problems ({settings.get('eval_samples', '?')} samples each, "
        f"temperature 0.6). Whole run: {summary.get('wall_seconds', 0) / 60:.1f} min.",
        "",
        "*tokens / oracle* is mean response length over the length of the shortest correct trace (1.00 = no",
        "token to spare).",
        "",
        "## Models",
        "",
        model_table(models),
        "",
        "## By difficulty",
        "",
        level_table(models),
        "",
    ]
    for title, rel in plots.items():
        parts += [f"## {title}", "", f"![{title}]({rel})", ""]
    if examples:
        parts += ["## The same problems, answered by each model", ""]
        names = list(examples)
        for i in range(min(len(v) for v in examples.values())):
            parts.append(f"**Problem `{examples[names[0]][i]['question']}`**" if "question" in examples[names[0]][i] else f"**Problem {examples[names[0]][i]['id']}**")
            parts.append("")
            for name in names:
                r = examples[name][i]
                mark = "correct" if r.get("correct") else "wrong"
                parts.append(f"- {name} ({r['tokens']} tokens, {mark}): `{r['response']}`")
            parts.append("")
    stages = summary.get("stage_seconds")
    if stages:
        parts += ["## Time", "", "| stage | seconds |", "|---|---|"] + [f"| {k} | {v} |" for k, v in stages.items()] + [""]
    return "\n".join(parts)
