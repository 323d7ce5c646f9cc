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


def _save(plt, fig, path: Path, legend_loc: str = "best") -> Path:
    """Grid and legend on every panel, then write the PNG and free the figure."""
    for ax in fig.axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


STYLE = {  # kind -> (marker, colour, legend name)
    "family": ("o", "C0", "length-penalised RL (α family)"),
    "ablation": ("X", "C4", "RL, normalised advantage"),
    "sft": ("D", "C1", "rejection sampling + SFT"),
    "dpo": ("v", "C2", "DPO (shortest vs longest correct)"),
    "cutoff": ("s", "C3", "generation cutoff (run)"),
    "other": ("P", "C5", None),
}


def plot_family_pareto(entries: Mapping[str, Mapping], benchmark: str, path: Path) -> Path:
    """Accuracy against mean response tokens on one benchmark: the α family as a connected curve (labelled by
    α), each baseline kind as its own marker/curve, the base as a star, the cutoff curve from the base's own
    samples dashed, and the oracle (shortest correct response, where known) as a vertical line.

    ``entries`` maps a label to an evaluation summary plus ``kind`` (base, family, ablation, sft, dpo,
    cutoff, other) and, for RL runs, ``alpha``.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.2))
    by_kind: dict[str, list[tuple[str, Mapping]]] = {}
    for name, e in entries.items():
        by_kind.setdefault(e.get("kind", "other"), []).append((name, e))
    for name, e in by_kind.get("base", []):
        ax.scatter(e["mean_tokens"], 100 * e["accuracy"], marker="*", s=260, color="black", zorder=5, label=f"{name} (start)")
        curve = e.get("cutoff_curve", [])
        if curve:
            ax.plot([c["mean_tokens"] for c in curve], [100 * c["accuracy"] for c in curve], ":", color="gray", marker=".",
                    label=f"cutoff of {name}'s samples")
    for kind, members in by_kind.items():
        if kind == "base":
            continue
        marker, color, legend = STYLE.get(kind, STYLE["other"])
        members = sorted(members, key=lambda m: (m[1].get("alpha") or 0, m[1]["mean_tokens"]) if kind == "family" else m[1]["mean_tokens"])
        xs = [e["mean_tokens"] for _, e in members]
        ys = [100 * e["accuracy"] for _, e in members]
        if kind == "other":
            for (name, _), x, y in zip(members, xs, ys):
                ax.scatter(x, y, marker=marker, s=70, zorder=4, label=name)
            continue
        style = "-" if kind == "family" else "--"
        ax.plot(xs, ys, style if len(xs) > 1 else "", marker=marker, markersize=8, color=color, label=legend, zorder=4)
        for (name, e), x, y in zip(members, xs, ys):
            if kind in ("family", "ablation") and e.get("alpha") is not None:
                text = f"α={e['alpha']:g}" + (f", {e['normalization']}" if kind == "ablation" and e.get("normalization") else "")
            else:
                text = _short(name, kind)
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(6, 5), fontsize=8, color=color)
    oracle = next((e["mean_oracle_tokens"] for e in entries.values() if e.get("mean_oracle_tokens")), None)
    if oracle:
        ax.axvline(oracle, color="gray", linestyle="--", linewidth=1, label="oracle: shortest correct (mean)")
    ax.set(xlabel="mean response length (tokens)", ylabel="accuracy (%)", title=f"Accuracy against length: {benchmark}")
    ax.set_xlim(left=0)
    return _save(plt, fig, path, legend_loc="lower right")


def _short(name: str, kind: str) -> str:
    """The annotation next to a baseline point: what distinguishes it from the others of its kind."""
    if "(" in name:
        return name[name.index("(") + 1 : name.rindex(")")]
    return name.split(" ", 1)[-1] if kind == "cutoff" else name


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


def plot_training(runs: Mapping[str, Path], path: Path, window: int = 5, title: str = "during RL") -> Path:
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
    ax_tokens.set(xlabel="optimizer step", ylabel="mean response length (tokens)", title=f"Rollout length {title}")
    ax_acc.set(xlabel="optimizer step", ylabel="accuracy (%)", title=f"Rollout accuracy {title} (T = 1.0)")
    return _save(plt, fig, path)


def plot_ablation(runs: Mapping[str, Path], path: Path, window: int = 5) -> Path:
    """The normalisation ablation (the paper's Fig. 5): the same α with and without a normalised advantage."""
    return plot_training(runs, path, window, title="by advantage normalisation")
