"""Human-readable views of evaluation summaries: markdown tables. Pure: dicts in, text out."""

from __future__ import annotations

from typing import Mapping


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
