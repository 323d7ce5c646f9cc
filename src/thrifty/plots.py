"""PNG plots of evaluation summaries and training curves (matplotlib, headless). Files in, PNG files out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> Path:
    """Grid and legend on every panel, then write the PNG and free the figure."""
    for ax in fig.axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_pareto(models: Mapping[str, Mapping], path: Path) -> Path:
    """Accuracy against mean response tokens, one marker per model, plus each model's per-level points.

    ``models`` maps a name to a summary entry (``accuracy``, ``mean_tokens``, optional ``per_level`` and
    ``mean_oracle_tokens``, which is drawn as a vertical line: no correct answer can be shorter on average).
    """
    plt = _pyplot()
    fig, (ax, ax_levels) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, m) in enumerate(models.items()):
        color = colors[i % len(colors)]
        ax.scatter(m["mean_tokens"], 100 * m["accuracy"], s=70, color=color, label=name, zorder=3)
        levels = m.get("per_level", {})
        xs = [levels[k]["mean_tokens"] for k in sorted(levels, key=int)]
        ys = [100 * levels[k]["accuracy"] for k in sorted(levels, key=int)]
        ax_levels.plot(xs, ys, "o-", color=color, label=name)
        for k, x, y in zip(sorted(levels, key=int), xs, ys):
            ax_levels.annotate(f"L{k}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8, color=color)
    oracle = next((m["mean_oracle_tokens"] for m in models.values() if "mean_oracle_tokens" in m), None)
    if oracle:
        ax.axvline(oracle, color="gray", linestyle="--", linewidth=1, label="oracle (shortest correct)")
    ax.set(xlabel="mean response length (tokens)", ylabel="accuracy (%)", title="All held-out problems")
    ax_levels.set(xlabel="mean response length (tokens)", ylabel="accuracy (%)", title="Per difficulty level (L1 easiest)")
    return _save(plt, fig, path)


def _smooth(values: list[float], window: int) -> list[float]:
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def read_metrics(path: Path) -> list[dict]:
    """Records of a ``metrics.jsonl`` written by ``thrifty train`` (missing file: no records)."""
    if not Path(path).is_file():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_training(runs: Mapping[str, Path], path: Path, window: int = 5) -> Path:
    """Mean response tokens and rollout accuracy against the optimizer step, one line per run (moving average)."""
    plt = _pyplot()
    fig, (ax_tokens, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, metrics_path in runs.items():
        rows = [r for r in read_metrics(metrics_path) if "tokens/mean" in r]
        if not rows:
            continue
        steps = [r["step"] for r in rows]
        ax_tokens.plot(steps, _smooth([r["tokens/mean"] for r in rows], window), label=name)
        ax_acc.plot(steps, _smooth([100 * r["accuracy"] for r in rows], window), label=name)
    ax_tokens.set(xlabel="optimizer step", ylabel="mean response length (tokens)", title="Rollout length during RL")
    ax_acc.set(xlabel="optimizer step", ylabel="accuracy (%)", title="Rollout accuracy during RL (temperature 1.0)")
    return _save(plt, fig, path)
