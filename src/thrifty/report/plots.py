"""PNG plots of evaluation summaries and training curves (matplotlib, headless). Files in, PNG files out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from thrifty import runs


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path, legend_loc: str = "best") -> Path:
    """Grid and legend on every panel, then write the PNG and free the figure."""
    for ax in fig.axes:
        ax.grid(alpha=0.3)
        if ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
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
    "forced": ("^", "C7", "base, behaviour forced"),
    "other": ("P", "C5", None),
}


def _draw_frontiers(ax, entries: Mapping[str, Mapping], frontier, legend: bool) -> None:
    """The base's frontier (a fixed reference), each RL model's own frontier (faint) and its gap to it (a
    vertical segment from the model up to its own frontier)."""
    if frontier:
        xs, ys = [t for t, _ in frontier], [100 * a for _, a in frontier]
        ax.plot(
            xs + [xs[-1] * 1.15],
            ys + [ys[-1]],
            "-.",
            color="black",
            linewidth=1.2,
            zorder=3,
            label="frontier of the base's skills" if legend else None,
        )
    first = True
    for e in entries.values():
        own, gap = e.get("own_frontier"), e.get("frontier_gap")
        if e.get("kind") not in ("family", "ablation") or not own or gap is None:
            continue
        color = STYLE[e["kind"]][1]
        ax.plot([t for t, _ in own], [100 * a for _, a in own], "-", color=color, alpha=0.2, linewidth=1, zorder=2)
        ax.plot(
            [e["mean_tokens"]] * 2,
            [100 * e["accuracy"], 100 * (e["accuracy"] + gap)],
            "-",
            color=color,
            linewidth=2.5,
            alpha=0.5,
            zorder=3,
            label="gap to the model's own frontier" if legend and first else None,
        )
        first = False


def _draw_pareto(
    ax, entries: Mapping[str, Mapping], legend: bool, frontier=None
) -> list[tuple[float, float, str, str]]:
    """Draw every series of :func:`plot_family_pareto` on ``ax``; returns the points to label (x, y, text, colour)."""
    labels = []
    by_kind: dict[str, list[tuple[str, Mapping]]] = {}
    for name, e in entries.items():
        by_kind.setdefault(e.get("kind", "other"), []).append((name, e))
    for name, e in by_kind.get("base", []):
        ax.scatter(
            e["mean_tokens"],
            100 * e["accuracy"],
            marker="*",
            s=260,
            color="black",
            zorder=5,
            label=f"{name} (start)" if legend else None,
        )
        curve = e.get("cutoff_curve", [])
        if curve:
            ax.plot(
                [c["mean_tokens"] for c in curve],
                [100 * c["accuracy"] for c in curve],
                ":",
                color="gray",
                marker=".",
                label=f"cutoff of {name}'s samples" if legend else None,
            )
    for kind, members in by_kind.items():
        if kind == "base":
            continue
        marker, color, name_of_kind = STYLE.get(kind, STYLE["other"])
        members = sorted(
            members,
            key=lambda m: (m[1].get("alpha") or 0, m[1]["mean_tokens"]) if kind == "family" else m[1]["mean_tokens"],
        )
        xs = [e["mean_tokens"] for _, e in members]
        ys = [100 * e["accuracy"] for _, e in members]
        if kind == "other":
            for (name, _), x, y in zip(members, xs, ys, strict=True):
                ax.scatter(x, y, marker=marker, s=70, zorder=4, label=name if legend else None)
            continue
        style = "-" if kind == "family" else "--"
        ax.plot(
            xs,
            ys,
            style if len(xs) > 1 else "",
            marker=marker,
            markersize=8,
            color=color,
            label=name_of_kind if legend else None,
            zorder=4,
        )
        for (name, e), x, y in zip(members, xs, ys, strict=True):
            if kind in ("family", "ablation") and e.get("alpha") is not None:
                text = f"α={e['alpha']:g}" + (
                    f", {e['estimator']}" if kind == "ablation" and e.get("estimator") else ""
                )
            else:
                text = _short(name, kind)
            labels.append((x, y, text, color))
    _draw_frontiers(ax, entries, frontier, legend)
    oracle = next((e["mean_oracle_tokens"] for e in entries.values() if e.get("mean_oracle_tokens")), None)
    if oracle:
        ax.axvline(
            oracle,
            color="gray",
            linestyle="--",
            linewidth=1,
            label="oracle: shortest correct column work (mean)" if legend else None,
        )
    ax.set(xlabel="mean response length (tokens)", ylabel="accuracy (%)")
    return labels


_OFFSETS = [(6, 4), (6, -12), (-6, 4), (-6, -12), (6, 14), (-6, 14), (6, -22), (-6, -22), (16, -4), (-16, -4)]


def _place_labels(ax, labels, points=(), avoid=()) -> None:
    """Annotate points, trying offsets around each until its text overlaps no earlier text, no marker at
    ``points`` (data coordinates) and no ``avoid`` box."""
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    placed = list(avoid)
    for x, y in points:
        cx, cy = ax.transData.transform((x, y))
        placed.append(Bbox.from_extents(cx - 7, cy - 7, cx + 7, cy + 7))
    for x, y, text, color in labels:
        for i, (dx, dy) in enumerate(_OFFSETS):
            ann = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=8,
                color=color,
                ha="left" if dx > 0 else "right",
            )
            box = ann.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed) or i == len(_OFFSETS) - 1:
                placed.append(box)
                break
            ann.remove()


def plot_family_pareto(entries: Mapping[str, Mapping], benchmark: str, path: Path, frontier=None) -> Path:
    """Accuracy against mean response tokens on one benchmark: the α family as a connected curve (labelled by
    α), each baseline kind as its own marker/curve, the base as a star, the cutoff curve from the base's own
    samples dotted, and the oracle (shortest correct response, where known) as a vertical line. When the RL
    models sit close together, a second panel zooms on them (their region is boxed on the first).

    ``entries`` maps a label to an evaluation summary plus ``kind`` (base, forced, family, ablation, sft, dpo,
    cutoff, other) and, for RL runs, ``alpha`` and ``estimator`` (the advantage estimator). ``frontier`` (the
    base's, :func:`thrifty.report.write.reference_frontier`) is drawn as a fixed reference; RL models with
    an ``own_frontier`` get it drawn faintly, with their gap to it.
    """
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    rl = [e for e in entries.values() if e.get("kind") in ("family", "ablation")]
    all_x = [e["mean_tokens"] for e in entries.values()]
    box = None
    if rl:
        xs, ys = [e["mean_tokens"] for e in rl], [100 * e["accuracy"] for e in rl]
        pad_x, pad_y = max(1.0, 0.3 * (max(xs) - min(xs))), max(1.5, 0.3 * (max(ys) - min(ys)))
        box = (min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, min(100.5, max(ys) + pad_y))
        if box[1] - box[0] > 0.5 * max(all_x):
            box = None  # the RL models are spread out: one panel shows them well
    fig, axes = plt.subplots(1, 2 if box else 1, figsize=(13.5, 5.4) if box else (8, 5.2), squeeze=False)
    ax = axes[0][0]
    labels = _draw_pareto(ax, entries, legend=True, frontier=frontier)
    ax.set_xlim(left=0)
    ax.set_title(f"Accuracy against length: {benchmark}")
    if box:
        zoom = axes[0][1]
        zoom_labels = _draw_pareto(zoom, entries, legend=False, frontier=frontier)
        zoom.set_xlim(box[0], box[1])
        zoom.set_ylim(box[2], box[3])
        zoom.set_title("Zoom on the RL models (boxed on the left)")
        ax.add_patch(
            Rectangle(
                (box[0], box[2]),
                box[1] - box[0],
                box[3] - box[2],
                fill=False,
                linestyle="--",
                edgecolor="gray",
                linewidth=1,
            )
        )

        def inside(lab) -> bool:
            return box[0] <= lab[0] <= box[1] and box[2] <= lab[1] <= box[3]

        labels = [lab for lab in labels if not inside(lab)]
        zoom_labels = [lab for lab in zoom_labels if inside(lab)]
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    points = [(e["mean_tokens"], 100 * e["accuracy"]) for e in entries.values()]
    points += [
        (c["mean_tokens"], 100 * c["accuracy"])
        for e in entries.values()
        if e.get("kind") == "base"
        for c in e.get("cutoff_curve", [])
    ]
    _place_labels(ax, labels, points, avoid=[ax.get_legend().get_window_extent(fig.canvas.get_renderer())])
    if box:
        _place_labels(zoom, zoom_labels, points)
    return _save(plt, fig, path)


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


def plot_training(curves: Mapping[str, Path], path: Path, window: int = 5, title: str = "during RL") -> Path:
    """Mean response tokens and rollout accuracy against the optimizer step, one line per run (``curves``: label ->
    its ``metrics.jsonl``; moving average)."""
    plt = _pyplot()
    fig, (ax_tokens, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, metrics_path in curves.items():
        rows = [r for r in runs.read_jsonl(metrics_path) if "tokens/mean" in r]
        if not rows:
            continue
        steps = [r["step"] for r in rows]
        ax_tokens.plot(steps, _smooth([r["tokens/mean"] for r in rows], window), label=name)
        ax_acc.plot(steps, _smooth([100 * r["accuracy"] for r in rows], window), label=name)
    ax_tokens.set(xlabel="optimizer step", ylabel="mean response length (tokens)", title=f"Rollout length {title}")
    ax_acc.set(xlabel="optimizer step", ylabel="accuracy (%)", title=f"Rollout accuracy {title} (T = 1.0)")
    return _save(plt, fig, path)


def plot_ablation(curves: Mapping[str, Path], path: Path, window: int = 5) -> Path:
    """The normalisation ablation (the paper's Fig. 5): the same α with and without a normalised advantage."""
    return plot_training(curves, path, window, title="by advantage normalisation")
