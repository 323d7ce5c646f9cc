"""PNG plots of evaluation summaries and training curves (matplotlib, headless). Files in, PNG files out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    "budget": ("p", "C6", "budget forcing (s1)"),
    "prompting": ("h", "C9", "prompting (no training)"),
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


def _draw_error_bars(ax, entries: Mapping[str, Mapping], legend: bool) -> None:
    """± one standard error in accuracy and in mean tokens around every model that has them, in its kind's colour
    (the base's black)."""
    first = True
    for e in entries.values():
        acc_se, tok_se = e.get("accuracy_se"), e.get("mean_tokens_se")
        if acc_se is None and tok_se is None:
            continue
        kind = e.get("kind", "other")
        color = "black" if kind == "base" else STYLE.get(kind, STYLE["other"])[1]
        ax.errorbar(
            e["mean_tokens"],
            100 * e["accuracy"],
            xerr=tok_se,
            yerr=None if acc_se is None else 100 * acc_se,
            fmt="none",
            ecolor=color,
            elinewidth=1,
            capsize=2.5,
            alpha=0.8,
            zorder=3.5,
            label="± 1 standard error" if legend and first else None,
        )
        first = False


def zoom_limits(
    points: Sequence[tuple[float, float, float | None, float | None]],
    z: float = 2.0,
    pad: float = 0.15,
    min_span: tuple[float, float] = (2.0, 1.5),
    top: float = 100.5,
) -> tuple[float, float, float, float]:
    """The ``(x0, x1, y0, y1)`` of a zoom panel over ``(tokens, accuracy %, tokens SE, accuracy SE in points)``
    points (the RL models *and* the base): every point with ``z`` standard errors either side, padded by ``pad``
    of the span, at least ``min_span`` wide and high (centred), and no higher than ``top``. A gap between two
    models is then drawn at its size against their noise, never stretched over the panel.

    Example (two models 0.6 points apart with SE 0.35, the base 9 points below):
        >>> [round(v, 2) for v in zoom_limits([(40.0, 99.4, 1.0, 0.35), (47.0, 98.8, 1.0, 0.35),
        ...                                     (69.0, 90.0, 2.0, 1.6)])]
        [32.75, 78.25, 84.8, 100.5]
    """
    if not points:
        raise ValueError("a zoom needs at least one point")
    xs = [(x - z * (sx or 0), x + z * (sx or 0)) for x, _, sx, _ in points]
    ys = [(y - z * (sy or 0), y + z * (sy or 0)) for _, y, _, sy in points]
    limits = []
    for spans, least in ((xs, min_span[0]), (ys, min_span[1])):
        low, high = min(lo for lo, _ in spans), max(hi for _, hi in spans)
        margin = pad * (high - low)
        low, high = low - margin, high + margin
        if high - low < least:
            middle = (low + high) / 2
            low, high = middle - least / 2, middle + least / 2
        limits += [low, high]
    limits[3] = min(limits[3], top)
    return limits[0], limits[1], limits[2], limits[3]


CURVE_ORDER = {"family": "alpha", "budget": "thinking_budget"}
"""The kinds whose curve joins its models in the order of a setting (the α family by α, budget forcing by thinking
budget); the others' in the order of their mean tokens."""


def by_kind(entries: Mapping[str, Mapping]) -> dict[str, list[tuple[str, Mapping]]]:
    """``{kind: [(name, entry)]}``, each kind's models in the order its curve joins them (:data:`CURVE_ORDER`, then
    mean tokens).

    Example:
        >>> e = {"budget forcing 32 tokens": dict(kind="budget", thinking_budget=32, mean_tokens=30.0),
        ...      "budget forcing 8 tokens": dict(kind="budget", thinking_budget=8, mean_tokens=31.0),
        ...      "cutoff 20 tokens": dict(kind="cutoff", mean_tokens=20.0)}
        >>> {kind: [name for name, _ in members] for kind, members in by_kind(e).items()}
        {'budget': ['budget forcing 8 tokens', 'budget forcing 32 tokens'], 'cutoff': ['cutoff 20 tokens']}
    """
    kinds: dict[str, list[tuple[str, Mapping]]] = {}
    for name, e in entries.items():
        kinds.setdefault(e.get("kind", "other"), []).append((name, e))
    for kind, members in kinds.items():
        setting = CURVE_ORDER.get(kind)
        members.sort(key=lambda m: ((m[1].get(setting) or 0) if setting else 0, m[1]["mean_tokens"]))
    return kinds


def _draw_pareto(
    ax, entries: Mapping[str, Mapping], legend: bool, frontier=None
) -> list[tuple[float, float, str, str]]:
    """Draw every series of :func:`plot_family_pareto` on ``ax``; returns the points to label (x, y, text, colour)."""
    labels = []
    kinds = by_kind(entries)
    _draw_error_bars(ax, entries, legend)
    for name, e in kinds.get("base", []):
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
    for kind, members in kinds.items():
        if kind == "base":
            continue
        marker, color, name_of_kind = STYLE.get(kind, STYLE["other"])
        xs = [e["mean_tokens"] for _, e in members]
        ys = [100 * e["accuracy"] for _, e in members]
        if kind == "other":
            for (name, _), x, y in zip(members, xs, ys, strict=True):
                ax.scatter(x, y, marker=marker, s=70, zorder=4, label=name if legend else None)
            continue
        if kind == "prompting":  # unrelated methods: points, not a curve, each labelled in full
            ax.scatter(xs, ys, marker=marker, s=70, color=color, zorder=4, label=name_of_kind if legend else None)
            labels += [(x, y, name, color) for (name, _), x, y in zip(members, xs, ys, strict=True)]
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


def _point(e: Mapping) -> tuple[float, float, float | None, float | None]:
    se = e.get("accuracy_se")
    return e["mean_tokens"], 100 * e["accuracy"], e.get("mean_tokens_se"), None if se is None else 100 * se


def zoom_box(entries: Mapping[str, Mapping]) -> tuple[float, float, float, float] | None:
    """The region a second Pareto panel zooms on (:func:`zoom_limits` over the α family -- else the other RL
    models -- and the base), or None when there are no RL models or the region would cover more than half the full
    panel both across and up (one panel shows them well).

    Example:
        >>> e = {"base": dict(kind="base", mean_tokens=500.0, accuracy=0.90, accuracy_se=0.01, mean_tokens_se=9.0),
        ...      "α=0": dict(kind="family", mean_tokens=520.0, accuracy=0.91, accuracy_se=0.01, mean_tokens_se=9.0),
        ...      "cutoff": dict(kind="cutoff", mean_tokens=100.0, accuracy=0.2)}
        >>> [round(v, 1) for v in zoom_box(e)]
        [473.6, 546.4, 87.2, 93.8]
    """
    chosen = [e for e in entries.values() if e.get("kind") == "family"]
    chosen = chosen or [e for e in entries.values() if e.get("kind") == "ablation"]
    if not chosen:
        return None
    chosen += [e for e in entries.values() if e.get("kind") == "base"]
    box = zoom_limits([_point(e) for e in chosen])
    all_x = [e["mean_tokens"] for e in entries.values()]
    all_y = [100 * e["accuracy"] for e in entries.values()]
    all_y += [100 * c["accuracy"] for e in entries.values() for c in e.get("cutoff_curve", [])]
    wide = box[1] - box[0] > 0.5 * max(all_x)
    tall = box[3] - box[2] > 0.5 * max(max(all_y) - min(all_y), 1.0)
    return None if wide and tall else box


def plot_family_pareto(entries: Mapping[str, Mapping], benchmark: str, path: Path, frontier=None) -> Path:
    """Accuracy against mean response tokens on one benchmark: the α family as a connected curve (labelled by
    α), each baseline kind as its own marker/curve, the base as a star, the cutoff curve from the base's own
    samples dotted, and the oracle (shortest correct response, where known) as a vertical line; every model with
    standard errors (``accuracy_se``, ``mean_tokens_se``) gets ± 1 SE error bars both ways. When the RL models
    and the base sit close together, a second panel zooms on them (:func:`zoom_box`; boxed on the first), the
    base always in view and no gap drawn larger than its noise.

    Inference-time methods sit beside them: budget forcing (s1) as its own curve, joined in order of thinking
    budget (``thinking_budget``), and prompting (NoThinking, Chain of Draft, an L1 prompt...) as unjoined points.

    ``entries`` maps a label to an evaluation summary plus ``kind`` (base, forced, family, ablation, sft, dpo,
    cutoff, budget, prompting, other) and, for RL runs, ``alpha`` and ``estimator`` (the advantage estimator).
    ``frontier`` (the
    base's, :func:`thrifty.report.write.reference_frontier`) is drawn as a fixed reference; RL models with
    an ``own_frontier`` get it drawn faintly, with their gap to it.
    """
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    box = zoom_box(entries)
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
        zoomed = "the α family" if any(e.get("kind") == "family" for e in entries.values()) else "the RL models"
        zoom.set_title(f"Zoom on {zoomed} and the base (boxed on the left)")
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
    """The annotation next to a baseline point: what distinguishes it from the others of its kind.

    Example:
        >>> _short("budget forcing 16 tokens", "budget"), _short("cutoff 40 tokens", "cutoff")
        ('thinking ≤ 16', '40 tokens')
        >>> _short("NoThinking (base)", "prompting"), _short("SFT (lr 3e-05)", "sft")
        ('NoThinking (base)', 'lr 3e-05')
    """
    if kind == "budget":  # "budget forcing 16 tokens" -> "thinking ≤ 16": not read as a cutoff's limit
        return "thinking ≤ " + name.removeprefix("budget forcing ").replace(" tokens", "", 1)
    if kind == "prompting":  # the method is the name ("NoThinking (model)")
        return name
    if "(" in name:
        return name[name.index("(") + 1 : name.rindex(")")]
    return name.split(" ", 1)[-1] if kind == "cutoff" else name


def moving_average(values: Sequence[float], window: int) -> list[float | None]:
    """The trailing mean of the last ``window`` values at each position; None until ``window`` values exist (no
    partial windows: an average of the first three values is not a 5-point average).

    Example:
        >>> moving_average([3.1, 10.0, 20.0, 30.0, 40.0, 50.0], 3)
        [None, None, 11.033333333333333, 20.0, 30.0, 40.0]
    """
    if window < 1:
        raise ValueError(f"the moving-average window must be at least 1, got {window}")
    out: list[float | None] = []
    for i in range(len(values)):
        out.append(None if i + 1 < window else sum(values[i + 1 - window : i + 1]) / window)
    return out


def steps_per_rollout(steps: Sequence[int]) -> int:
    """How many optimizer steps one logged record spans: the most common gap between consecutive ``steps`` (the
    rollout metrics are logged once per rollout, which ``steps_per_generation`` spreads over several updates).

    Example:
        >>> steps_per_rollout([1, 3, 5, 7, 9]), steps_per_rollout([1, 2, 3]), steps_per_rollout([4])
        (2, 1, 1)
    """
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False) if b > a]
    return max(set(gaps), key=gaps.count) if gaps else 1


TRAINING_PANELS = (  # (title, metric names in order of preference, y label, scale)
    ("Rollout length", ("tokens/mean", "completions/mean_length"), "mean response length (tokens)", 1.0),
    ("Rollout accuracy", ("accuracy",), "accuracy (%)", 100.0),
    ("Reward", ("reward",), "mean reward", 1.0),
    ("KL to the reference", ("kl",), "KL (per token)", 1.0),
    ("Truncated responses", ("truncated", "completions/clipped_ratio"), "cut at the token limit (%)", 100.0),
)
"""The panels of :func:`plot_training`, each drawn when some run's ``metrics.jsonl`` has one of its metrics (TRL's
names, or thrifty's own where it logs one)."""
ROLLOUT_KEYS = ("tokens/mean", "completions/mean_length")
"""Metrics logged once per rollout (not per optimizer step): the records that mark the rollouts."""
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P")


def series(rows: Sequence[Mapping], keys: Sequence[str], scale: float = 1.0) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of the first of ``keys`` that the records hold (every record that has it), times
    ``scale``."""
    for key in keys:
        chosen = [r for r in rows if isinstance(r.get(key), (int, float)) and "step" in r]
        if chosen:
            return [r["step"] for r in chosen], [scale * r[key] for r in chosen]
    return [], []


def smoothing_note(window: int, per_rollout: int) -> str:
    """What the smoothed training lines are, in words.

    Example:
        >>> smoothing_note(5, 2)
        'lines: mean of the last 5 rollouts (10 optimizer steps), from rollout 5 on; faint: each rollout'
        >>> smoothing_note(5, 1)
        'lines: mean of the last 5 rollouts (one optimizer step each), from rollout 5 on; faint: each rollout'
    """
    steps = "one optimizer step each" if per_rollout == 1 else f"{window * per_rollout} optimizer steps"
    return f"lines: mean of the last {window} rollouts ({steps}), from rollout {window} on; faint: each rollout"


def temperature_note(temperatures: Mapping[str, float | None] | None) -> str:
    """The rollout temperature for a title, from each run's own config: ``T = 1.0`` when all runs share one,
    each run's when they differ, '' when no run recorded it.

    Example:
        >>> temperature_note({"α=0": 1.0, "α=0.2": 1.0}), temperature_note({"α=0": 0.7, "α=0.2": 1.0})
        ('T = 1.0', 'T = 0.7 (α=0), 1.0 (α=0.2)')
        >>> temperature_note({"α=0": None}), temperature_note({"α=0": 0.7, "α=0.2": None})
        ('', 'T = 0.7 (α=0), ? (α=0.2)')
    """
    temperatures = dict(temperatures or {})
    known = {t for t in temperatures.values() if t is not None}
    if not known:
        return ""
    if len(known) == 1 and None not in temperatures.values():
        return f"T = {float(known.pop())}"
    return "T = " + ", ".join(f"{'?' if t is None else float(t)} ({name})" for name, t in temperatures.items())


def training_panels(
    runs_rows: Mapping[str, Sequence[Mapping]], title: str = "during RL", temperatures=None
) -> list[tuple[str, tuple[str, ...], str, float]]:
    """The :data:`TRAINING_PANELS` that some run has data for, each with its full title (rollout panels name the
    rollout temperature: :func:`temperature_note`).

    Example:
        >>> rows = {"α=0": [{"step": 1, "tokens/mean": 80.0, "accuracy": 0.5, "kl": 0.0}]}
        >>> [p[0] for p in training_panels(rows, temperatures={"α=0": 0.8})]
        ['Rollout length during RL (T = 0.8)', 'Rollout accuracy during RL (T = 0.8)', 'KL to the reference during RL']
    """
    note = temperature_note(temperatures)
    panels = []
    for name, keys, ylabel, scale in TRAINING_PANELS:
        if any(series(rows, keys)[0] for rows in runs_rows.values()):
            suffix = f" ({note})" if note and name.startswith("Rollout") else ""
            panels.append((f"{name} {title}{suffix}", keys, ylabel, scale))
    return panels


def plot_training(
    curves: Mapping[str, Path],
    path: Path,
    window: int = 5,
    title: str = "during RL",
    temperatures: Mapping[str, float | None] | None = None,
) -> Path:
    """Rollout length and accuracy, and where logged the reward, the KL to the reference and the share of truncated
    responses, against the optimizer step: one line style per run (``curves``: label -> its ``metrics.jsonl``), so
    runs that coincide stay visible.

    Each rollout's value is drawn faintly; the line over it is the moving average over the last ``window``
    rollouts (:func:`moving_average`, no partial windows; per-step metrics such as the KL over the same number of
    optimizer steps). ``temperatures`` (label -> the run's rollout temperature, from its config) go in the titles.
    """
    plt = _pyplot()
    rows = {name: [r for r in runs.read_jsonl(p) if "step" in r] for name, p in curves.items()}
    panels = training_panels(rows, title, temperatures)
    if not panels:
        raise ValueError(f"no training metrics to plot in {', '.join(str(p) for p in curves.values())}")
    per_rollout = max(
        (steps_per_rollout(series(r, ROLLOUT_KEYS)[0]) for r in rows.values() if series(r, ROLLOUT_KEYS)[0]),
        default=1,
    )
    columns = min(3, len(panels))
    lines = -(-len(panels) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(5.2 * columns, 3.9 * lines + 0.4), squeeze=False)
    flat = [ax for line in axes for ax in line]
    short: list[str] = []
    for index, (ax, (panel_title, keys, ylabel, scale)) in enumerate(zip(flat, panels, strict=False)):
        for i, (name, run_rows) in enumerate(rows.items()):
            steps, values = series(run_rows, keys, scale)
            if not steps:
                continue
            color, style, marker = f"C{i % 10}", LINE_STYLES[i % len(LINE_STYLES)], MARKERS[i % len(MARKERS)]
            ax.plot(steps, values, "-", color=color, alpha=0.25, linewidth=0.8)
            span = max(1, round(window * per_rollout / steps_per_rollout(steps)))
            smooth = moving_average(values, span)
            xs = [s for s, v in zip(steps, smooth, strict=True) if v is not None]
            ys = [v for v in smooth if v is not None]
            if not xs:  # too short a run for one whole window: its own values, drawn plainly
                xs, ys, short = steps, values, short + [name]
            ax.plot(
                xs,
                ys,
                linestyle=style,
                marker=marker,
                markevery=max(1, len(xs) // 8),
                markersize=4,
                color=color,
                linewidth=1.6,
                label=name if index == 0 else None,  # one legend, on the first panel
            )
        ax.set(xlabel="optimizer step", ylabel=ylabel, title=panel_title)
        if scale == 100.0 and "accuracy" not in keys:  # a share that is often 0 throughout: keep 0 at the bottom
            top = max(1.0, ax.get_ylim()[1])
            ax.set_ylim(-0.03 * top, top)
    for ax in flat[len(panels) :]:
        ax.remove()
    note = smoothing_note(window, per_rollout)
    if short:
        note += f"; {', '.join(dict.fromkeys(short))}: fewer than {window} rollouts, each drawn as logged"
    fig.suptitle(note, fontsize=9)
    return _save(plt, fig, path)


def plot_ablation(
    curves: Mapping[str, Path], path: Path, window: int = 5, temperatures: Mapping[str, float | None] | None = None
) -> Path:
    """The normalisation ablation (the paper's Fig. 5): the same α with and without a normalised advantage."""
    return plot_training(curves, path, window, title="by advantage normalisation", temperatures=temperatures)
