"""Human-readable views of evaluation summaries: markdown tables. Pure: dicts in, text out.

Every figure that is compared carries its standard error where the summary has one (``accuracy_se``,
``mean_tokens_se``: clustered by problem, :func:`thrifty.eval.metrics.clustered_se`), written ``0.900 ± 0.016``;
older summaries without them show the figure alone. A difference against the reference model is marked `` *``
when it exceeds twice its standard error (:func:`exceeds_noise`, :data:`NOISE_RULE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from math import sqrt


NOISE_RULE = (
    "± is one standard error, clustered by problem (a problem's samples are not independent). A difference "
    "against {base} is marked * when it exceeds twice its standard error: paired over problems when both were "
    "evaluated on the same problems (what the two share, a hard problem being hard for both, cancels), else "
    "√(SE² + SE_{base}²). Unmarked differences are within noise."
)
"""What the ± and the * of the Δ columns mean (``{base}``: the reference model's name), for under a table."""


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def signed(value: float, digits: int = 1, suffix: str = "") -> str:
    """``value`` rounded to ``digits``, then signed: a value that rounds to zero has no sign (never "-0").

    Example:
        >>> signed(2.345), signed(-0.04), signed(-32.4, 0, "%"), signed(0.3, 0, "%")
        ('+2.3', '0.0', '-32%', '0%')
    """
    rounded = round(value, digits)
    if rounded == 0:
        return f"{0:.{digits}f}{suffix}"
    return f"{rounded:+.{digits}f}{suffix}"


def with_se(value: float | None, se: float | None, digits: int = 3, scale: float = 1.0) -> str:
    """``value ± se`` (both times ``scale``, to ``digits``); the value alone without an SE; '-' without a value.

    Example:
        >>> with_se(0.9, 0.0164), with_se(68.94, 2.31, 1), with_se(0.9, None), with_se(0.9, 0.0164, 1, 100)
        ('0.900 ± 0.016', '68.9 ± 2.3', '0.900', '90.0 ± 1.6')
    """
    if value is None:
        return "-"
    text = f"{scale * value:.{digits}f}"
    return text if se is None else f"{text} ± {scale * se:.{digits}f}"


def difference_se(se_a: float | None, se_b: float | None) -> float | None:
    """The standard error of a difference of two independent estimates, √(se_a² + se_b²); None if either is
    unknown.

    Example:
        >>> difference_se(0.03, 0.04), difference_se(0.03, None)
        (0.05, None)
    """
    if se_a is None or se_b is None:
        return None
    return sqrt(se_a**2 + se_b**2)


def delta_se(entry: Mapping, ref: Mapping, measure: str) -> tuple[float | None, bool]:
    """``(SE of entry[measure] - ref[measure], paired)``: paired over problems
    (:func:`thrifty.eval.metrics.paired_difference_se`) when both summaries hold ``per_problem`` tables of the
    same problems, else :func:`difference_se` of their own standard errors.

    Example:
        >>> a = dict(accuracy=0.5, accuracy_se=0.29, per_problem={"x": [2, 2, 0], "y": [2, 1, 0], "z": [2, 0, 0]})
        >>> b = dict(accuracy=1 / 3, accuracy_se=0.17, per_problem={"x": [2, 1, 0], "y": [2, 1, 0], "z": [2, 0, 0]})
        >>> [round(se, 4) for se in (delta_se(a, b, "accuracy")[0], difference_se(0.29, 0.17))]
        [0.1667, 0.3362]
    """
    from thrifty.eval.metrics import paired_difference_se

    if entry.get("per_problem") and ref.get("per_problem"):
        paired = paired_difference_se(entry["per_problem"], ref["per_problem"], measure)
        if paired is not None:
            return paired, True
    return difference_se(entry.get(f"{measure}_se"), ref.get(f"{measure}_se")), False


def exceeds_noise(delta: float, se: float | None, z: float = 2.0) -> bool:
    """Whether a difference exceeds noise: ``|delta| > z · se`` (False when ``se`` is unknown).

    Example:
        >>> exceeds_noise(0.029, 0.026 * 2 ** 0.5), exceeds_noise(0.1, 0.03), exceeds_noise(0.1, None)
        (False, True, False)
    """
    return se is not None and abs(delta) > z * se


def delta_accuracy(entry: Mapping, ref: Mapping) -> str:
    """Accuracy of ``entry`` minus ``ref``'s, in points, ``± SE_Δ``, `` *`` when it exceeds noise.

    Example:
        >>> delta_accuracy(dict(accuracy=0.871, accuracy_se=0.018), dict(accuracy=0.900, accuracy_se=0.016))
        '-2.9 ± 2.4'
        >>> delta_accuracy(dict(accuracy=0.986, accuracy_se=0.006), dict(accuracy=0.900, accuracy_se=0.016))
        '+8.6 ± 1.7 *'
        >>> delta_accuracy(dict(accuracy=0.9), dict(accuracy=0.9))
        '0.0'
    """
    delta = entry["accuracy"] - ref["accuracy"]
    se, _ = delta_se(entry, ref, "accuracy")
    text = signed(100 * delta)
    if se is not None:
        text += f" ± {100 * se:.1f}" + (" *" if exceeds_noise(delta, se) else "")
    return text


def delta_tokens(entry: Mapping, ref: Mapping, key: str = "mean_tokens") -> str:
    """The change in mean tokens of ``entry`` against ``ref`` in % (positive = longer), ``± SE`` (delta method
    on the ratio), `` *`` when the difference of the means exceeds noise.

    Example:
        >>> delta_tokens(dict(mean_tokens=47.0, mean_tokens_se=1.0), dict(mean_tokens=68.9, mean_tokens_se=2.0))
        '-32% ± 2 *'
        >>> delta_tokens(dict(mean_tokens=68.8), dict(mean_tokens=68.9))
        '0%'
    """
    value, reference = entry[key], ref[key]
    if not reference:
        return "-"
    ratio = value / reference
    text = signed(100 * (ratio - 1), 0, "%")
    se_value, se_ref = entry.get(f"{key}_se"), ref.get(f"{key}_se")
    se, paired = delta_se(entry, ref, key) if key == "mean_tokens" else (difference_se(se_value, se_ref), False)
    if se is not None and value:
        # the ratio's SE: the paired difference's over the reference, else the delta method on two independent means
        ratio_se = se / reference if paired else ratio * sqrt((se_value / value) ** 2 + (se_ref / reference) ** 2)
        text += f" ± {100 * ratio_se:.0f}" + (" *" if exceeds_noise(value - reference, se) else "")
    return text


def _largest_k(values: Mapping | None) -> int:
    """The largest k of a ``{"k": value}`` mapping (pass@k, maj@k); 0 for none."""
    return max((int(k) for k in values or {}), default=0)


def _at_k(summary: Mapping, key: str) -> str:
    """``pass@k`` or ``maj@k`` at the largest k the summary has, as ``0.950 (k=4)``; '-' where there is none."""
    values = summary.get(key) or {}
    if not values:
        return "-"
    k = max(values, key=int)
    return f"{values[k]:.3f} (k={k})"


THINKING_NOTE = (
    "For a thinking model, *thinking* tokens run up to and including its `</think>` and *answer* tokens follow it "
    "(they add up to the mean tokens; a response that never closes its thinking is all thinking)."
)
"""What the thinking / answer columns mean, for under a table that has them."""

THINKING_KEYS = ("mean_thinking_tokens", "mean_answer_tokens")
"""The summary fields of a thinking model's split of its mean tokens (:func:`thrifty.eval.metrics.thinking_means`)."""


def has_thinking(summaries: Iterable[Mapping]) -> bool:
    """Whether any summary splits its tokens into thinking and answer (a thinking model's evaluation)."""
    return any(s.get(THINKING_KEYS[0]) is not None for s in summaries)


def _thinking_cells(summary: Mapping) -> list[str]:
    """Mean thinking and answer tokens ± SE ('-' for a summary without them)."""
    return [with_se(summary.get(key), summary.get(f"{key}_se"), 1) for key in THINKING_KEYS]


FORCING_KEYS = ("mean_forced_tokens", "forced_end_rate")
"""The summary fields of an evaluation under budget forcing: tokens written for the model per response, and the
share of responses whose thinking was ended for it."""


def summary_table(summaries: Mapping[str, Mapping]) -> str:
    """One markdown row per benchmark: problems, samples, accuracy ± SE, pass@k, maj@k, tokens ± SE, truncation;
    where some summary has them (a thinking model's), thinking and answer tokens ± SE after the mean tokens; under
    budget forcing (:data:`FORCING_KEYS`), the forced tokens per response and the share of thinking ended by force.

    Example:
        >>> print(summary_table({"gsm8k": dict(n_problems=2, samples_per_problem=2, accuracy=0.5, accuracy_se=0.25,
        ...     pass_at_k={"1": 0.5, "2": 0.75}, maj_at_k={"2": 0.5}, mean_tokens=10.0, mean_tokens_se=1.5,
        ...     mean_tokens_correct=8.0, truncation_rate=0.0)}))
        | benchmark | problems | k | accuracy ± SE | pass@k | maj@k | mean tokens ± SE | tokens (correct) | truncated |
        |---|---|---|---|---|---|---|---|---|
        | gsm8k | 2 | 2 | 0.500 ± 0.250 | 0.750 | 0.500 | 10.0 ± 1.5 | 8.0 | 0.000 |
    """
    thinking = has_thinking(summaries.values())
    columns = ["benchmark", "problems", "k", "accuracy ± SE", "pass@k", "maj@k", "mean tokens ± SE"]
    columns += ["thinking ± SE", "answer ± SE"] if thinking else []
    columns += ["tokens (correct)", "truncated"]
    forcing = any(s.get(FORCING_KEYS[0]) is not None for s in summaries.values())
    columns += ["forced tokens", "thinking ended by force"] if forcing else []
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for name, s in summaries.items():
        k = str(s.get("samples_per_problem") or _largest_k(s.get("pass_at_k")))
        cells = [name, str(s["n_problems"]), k, with_se(s["accuracy"], s.get("accuracy_se"))]
        cells += [_fmt((s.get("pass_at_k") or {}).get(k)), _fmt((s.get("maj_at_k") or {}).get(k))]
        cells += [with_se(s["mean_tokens"], s.get("mean_tokens_se"), 1), *(_thinking_cells(s) if thinking else [])]
        cells += [_fmt(s.get("mean_tokens_correct"), 1), _fmt(s.get("truncation_rate"))]
        cells += [_fmt(s.get(FORCING_KEYS[0]), 1), _fmt(s.get(FORCING_KEYS[1]))] if forcing else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cutoff_table(summary: Mapping) -> str:
    """The generation-cutoff baseline of one benchmark as a markdown table (token limit, accuracy, tokens)."""
    lines = ["| cutoff (tokens) | accuracy | mean tokens |", "|---|---|---|"]
    for point in summary.get("cutoff_curve", []):
        lines.append(f"| {point['max_tokens']} | {_fmt(point['accuracy'])} | {_fmt(point['mean_tokens'], 1)} |")
    return "\n".join(lines)


def model_table(models: Mapping[str, Mapping], base: str = "base") -> str:
    """One markdown row per model: accuracy, mean tokens (± SE where known), tokens / oracle, and the change
    against ``base`` (marked * beyond noise: :data:`NOISE_RULE`).

    Example:
        >>> print(model_table({"base": dict(accuracy=0.9, mean_tokens=100.0, oracle_ratio=2.0),
        ...                    "alpha=0.2": dict(accuracy=0.9, mean_tokens=60.0, oracle_ratio=1.2)}))
        | model | accuracy | mean tokens | tokens / oracle | Δ accuracy (points) | Δ tokens |
        |---|---|---|---|---|---|
        | base | 0.900 | 100.0 | 2.00 | - | - |
        | alpha=0.2 | 0.900 | 60.0 | 1.20 | 0.0 | -40% |
    """
    lines = [
        "| model | accuracy | mean tokens | tokens / oracle | Δ accuracy (points) | Δ tokens |",
        "|---|---|---|---|---|---|",
    ]
    ref = models.get(base)
    for name, m in models.items():
        delta_acc = delta_tok = "-"
        if ref is not None and name != base:
            delta_acc, delta_tok = delta_accuracy(m, ref), delta_tokens(m, ref)
        lines.append(
            f"| {name} | {with_se(m['accuracy'], m.get('accuracy_se'))} | "
            f"{with_se(m['mean_tokens'], m.get('mean_tokens_se'), 1)} | {_fmt(m.get('oracle_ratio'), 2)} "
            f"| {delta_acc} | {delta_tok} |"
        )
    return "\n".join(lines)


def results_table(by_benchmark: Mapping[str, Mapping[str, Mapping]], base: str | None) -> str:
    """One row per (model, benchmark): accuracy ± SE, pass@k and maj@k (when some model has k > 1 samples per
    problem), mean tokens ± SE (all / correct; thinking / answer when some model thinks: :data:`THINKING_NOTE`),
    tokens / oracle, Δ against ``base`` (:data:`NOISE_RULE`).

    Example:
        >>> gsm8k = {"base": dict(accuracy=0.8, accuracy_se=0.02, mean_tokens=200.0, mean_tokens_correct=180.0),
        ...          "α=0.2": dict(accuracy=0.78, accuracy_se=0.02, mean_tokens=100.0, mean_tokens_correct=90.0)}
        >>> table = results_table({"gsm8k": gsm8k}, "base").splitlines()
        >>> table[0].split(" | ")[-3:]
        ['tokens / oracle', 'Δ accuracy (points)', 'Δ tokens |']
        >>> print("\\n".join(table[2:]))
        | base | gsm8k | 0.800 ± 0.020 | 200.0 | 180.0 | - | - | - |
        | α=0.2 | gsm8k | 0.780 ± 0.020 | 100.0 | 90.0 | - | -2.0 ± 2.8 | -50% |
    """
    entries_all = [e for entries in by_benchmark.values() for e in entries.values()]
    at_k = [key for key in ("pass_at_k", "maj_at_k") if any(_largest_k(e.get(key)) > 1 for e in entries_all)]
    thinking = has_thinking(entries_all)
    columns = ["model", "benchmark", "accuracy", *(k.replace("_at_", "@") for k in at_k), "mean tokens"]
    columns += ["thinking tokens", "answer tokens"] if thinking else []
    columns += ["tokens (correct)", "tokens / oracle", "Δ accuracy (points)", "Δ tokens"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for benchmark, entries in by_benchmark.items():
        ref = entries.get(base) if base else None
        for name, e in entries.items():
            d_acc, d_tok = ("-", "-") if ref is None or e is ref else (delta_accuracy(e, ref), delta_tokens(e, ref))
            cells = [name, benchmark, with_se(e["accuracy"], e.get("accuracy_se"))]
            cells += [_at_k(e, key) for key in at_k]
            cells += [with_se(e["mean_tokens"], e.get("mean_tokens_se"), 1), *(_thinking_cells(e) if thinking else [])]
            cells += [
                _fmt(e.get("mean_tokens_correct"), 1),
                _fmt(e.get("oracle_ratio"), 2),
                d_acc,
                d_tok,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """Linear interpolation of y at ``x`` on points sorted by x; None outside their range."""
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if len(points) == 1 and points[0][0] == x:
        return points[0][1]
    return None


def interpolate_se(points: Sequence[tuple[float, float, float | None]], x: float) -> float | None:
    """The standard error of :func:`interpolate` at ``x`` over ``(x, y, se)`` points sorted by x: a weighted sum
    ``w0·y0 + w1·y1`` of independent estimates has SE √(w0²·se0² + w1²·se1²); None outside their range or where
    a neighbour's SE is unknown.

    Example:
        >>> interpolate_se([(40.0, 0.8, 0.03), (60.0, 0.9, 0.04)], 50.0)
        0.025
    """
    for (x0, _, s0), (x1, _, s1) in zip(points, points[1:], strict=False):
        if x0 <= x <= x1:
            if s0 is None or s1 is None:
                return None
            w1 = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            return sqrt(((1 - w1) * s0) ** 2 + (w1 * s1) ** 2)
    if len(points) == 1 and points[0][0] == x:
        return points[0][2]
    return None


BASELINE_KINDS = ("sft", "dpo", "cutoff", "budget", "prompting")
"""The models compared with the α family at matched length: the paper's baselines (SFT, DPO, the cutoff run) and
the inference-time methods (budget forcing, prompting)."""


def baseline_points(entries: Mapping[str, Mapping]) -> list[tuple[str, float, float]]:
    """``(name, mean tokens, accuracy)`` of every baseline (:data:`BASELINE_KINDS`), and of the cutoff curve that
    the base's own samples give (each response cut at L tokens).

    Example:
        >>> baseline_points({"α=0": dict(kind="family", mean_tokens=60.0, accuracy=0.9),
        ...                  "budget forcing 16 tokens": dict(kind="budget", mean_tokens=18.0, accuracy=0.5),
        ...                  "NoThinking": dict(kind="prompting", mean_tokens=9.0, accuracy=0.4)})
        [('budget forcing 16 tokens', 18.0, 0.5), ('NoThinking', 9.0, 0.4)]
    """
    points = [
        (name, e["mean_tokens"], e["accuracy"]) for name, e in entries.items() if e.get("kind") in BASELINE_KINDS
    ]
    for e in entries.values():
        if e.get("kind") == "base":
            points += [
                (f"cutoff at {c['max_tokens']} (base samples)", c["mean_tokens"], c["accuracy"])
                for c in e.get("cutoff_curve", [])
            ]
    return points


def _baseline_se(entries: Mapping[str, Mapping], name: str) -> float | None:
    """A baseline point's accuracy SE: its evaluation's; the base's cutoff curve points carry none."""
    entry = entries.get(name)
    return entry.get("accuracy_se") if entry is not None else None


def _gap(family: float, family_se: float | None, accuracy: float, se: float | None) -> str:
    """``family − baseline`` in points, ± its SE and * beyond noise where both SEs are known."""
    delta, delta_se = family - accuracy, difference_se(family_se, se)
    text = signed(100 * delta)
    if delta_se is not None:
        text += f" ± {100 * delta_se:.1f}" + (" *" if exceeds_noise(delta, delta_se) else "")
    return text


def matched_length_table(entries: Mapping[str, Mapping]) -> str:
    """Each baseline's accuracy against the α family's at the same mean tokens ('' without a family or baselines).

    Between two α the family's accuracy is interpolated linearly (its SE too: :func:`interpolate_se`). A baseline
    longer than every α is *dominated* when some α is both shorter and at least as accurate (the most accurate
    such α is shown); otherwise, and for a baseline shorter than every α, there is no match. Differences carry
    ± their SE and * beyond noise where both sides have one (:data:`NOISE_RULE`).

    ``entries`` map a name to a summary with ``kind`` (family, base, or one of :data:`BASELINE_KINDS`) and, for the
    family, ``alpha``.

    Example:
        >>> e = {"α=0": dict(kind="family", mean_tokens=100.0, accuracy=0.9),
        ...      "α=0.4": dict(kind="family", mean_tokens=50.0, accuracy=0.8),
        ...      "SFT": dict(kind="sft", mean_tokens=75.0, accuracy=0.7),
        ...      "DPO": dict(kind="dpo", mean_tokens=120.0, accuracy=0.6)}
        >>> print(matched_length_table(e))
        | baseline | mean tokens | accuracy | α family at that length | family − baseline (points) |
        |---|---|---|---|---|
        | SFT | 75.0 | 0.700 | 0.850 | +15.0 |
        | DPO | 120.0 | 0.600 | dominated: α=0 has 0.900 with 100 tokens | +30.0 |
    """
    members = sorted(
        (e["mean_tokens"], e["accuracy"], name, e.get("accuracy_se"))
        for name, e in entries.items()
        if e.get("kind") == "family"
    )
    family = [(tokens, accuracy) for tokens, accuracy, *_ in members]
    family_se = [(tokens, accuracy, se) for tokens, accuracy, _, se in members]
    points = baseline_points(entries)
    if not family or not points:
        return ""
    lines = [
        "| baseline | mean tokens | accuracy | α family at that length | family − baseline (points) |",
        "|---|---|---|---|---|",
    ]
    for name, tokens, accuracy in points:
        se = _baseline_se(entries, name)
        shown = with_se(accuracy, se)
        at = interpolate(family, tokens)
        if at is not None:
            at_se = interpolate_se(family_se, tokens)
            lines.append(
                f"| {name} | {tokens:.1f} | {shown} | {with_se(at, at_se)} | {_gap(at, at_se, accuracy, se)} |"
            )
            continue
        best = max((m for m in members if m[0] <= tokens), key=lambda m: m[1], default=None)
        if best is not None and best[1] >= accuracy:
            lines.append(
                f"| {name} | {tokens:.1f} | {shown} | dominated: {best[2]} has {with_se(best[1], best[3])} with "
                f"{best[0]:.0f} tokens | {_gap(best[1], best[3], accuracy, se)} |"
            )
        else:
            side = "longer" if tokens > family[-1][0] else "shorter"
            lines.append(
                f"| {name} | {tokens:.1f} | {shown} | none: {side} than every α "
                f"({family[0][0]:.0f}–{family[-1][0]:.0f} tokens) | - |"
            )
    return "\n".join(lines)


def _levels(entries: Mapping[str, Mapping]) -> list[str]:
    """Every difficulty level any entry's ``per_level`` holds, in numeric order ("2" before "10")."""
    return sorted(
        {lvl for e in entries.values() for lvl in e.get("per_level", {})}, key=lambda x: (len(str(x)), str(x))
    )


PER_LEVEL_NOTE = (
    "Each cell: accuracy (± one SE where known) / mean tokens, and in brackets the change in mean tokens against "
    "{base} on that level (negative = shorter, positive = longer; ± one SE, * beyond twice it)."
)
"""What a :func:`per_level_table` cell says (``{base}``: the reference model's name), for above the table."""


def per_level_table(entries: Mapping[str, Mapping], base: str | None) -> str:
    """Models × difficulty levels: accuracy (± SE where known) / mean tokens, and the change in mean tokens against
    ``base`` in % (positive = longer; :data:`PER_LEVEL_NOTE`); '' without levels.

    Example:
        >>> e = {"base": dict(per_level={"1": dict(accuracy=1.0, mean_tokens=40.0),
        ...                              "2": dict(accuracy=0.5, mean_tokens=80.0)}),
        ...      "α=0.2": dict(per_level={"1": dict(accuracy=1.0, mean_tokens=20.0),
        ...                               "2": dict(accuracy=0.6, mean_tokens=60.0)})}
        >>> print(per_level_table(e, "base"))
        | model | level 1 | level 2 |
        |---|---|---|
        | base | 1.00 / 40 | 0.50 / 80 |
        | α=0.2 | 1.00 / 20 (−50%) | 0.60 / 60 (−25%) |
    """
    levels = _levels(entries)
    if len(levels) < 2:
        return ""
    ref = entries.get(base, {}).get("per_level", {}) if base else {}
    lines = ["| model | " + " | ".join(f"level {lvl}" for lvl in levels) + " |", "|---|" + "---|" * len(levels)]
    for name, e in entries.items():
        cells = []
        for lvl in levels:
            s = e.get("per_level", {}).get(lvl)
            if s is None:
                cells.append("-")
                continue
            accuracy = with_se(s["accuracy"], s.get("accuracy_se"), 2)
            cell = f"{accuracy} / {s['mean_tokens']:.0f}"  # the tokens' noise is in the change's ± below
            if name != base and lvl in ref and ref[lvl].get("mean_tokens"):
                cell += f" ({delta_tokens(s, ref[lvl])})".replace("-", "−")
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def thinking_table(entries: Mapping[str, Mapping]) -> str:
    """Models × difficulty levels: mean thinking / answer tokens of the models that think (:data:`THINKING_NOTE`);
    '' without two levels or without a thinking model.

    Example:
        >>> e = {"R1": dict(per_level={"1": dict(mean_thinking_tokens=300.0, mean_answer_tokens=40.0),
        ...                            "2": dict(mean_thinking_tokens=900.0, mean_answer_tokens=60.0)}),
        ...      "organism": dict(per_level={"1": dict(mean_tokens=20.0), "2": dict(mean_tokens=30.0)})}
        >>> print(thinking_table(e))
        | model | level 1 | level 2 |
        |---|---|---|
        | R1 | 300 / 40 | 900 / 60 |
    """
    levels = _levels(entries)
    thinkers = {name: e for name, e in entries.items() if has_thinking(e.get("per_level", {}).values())}
    if len(levels) < 2 or not thinkers:
        return ""
    lines = ["| model | " + " | ".join(f"level {lvl}" for lvl in levels) + " |", "|---|" + "---|" * len(levels)]
    for name, e in thinkers.items():
        cells = []
        for lvl in levels:
            s = e.get("per_level", {}).get(lvl) or {}
            thinking, answer = (s.get(key) for key in THINKING_KEYS)
            cells.append("-" if thinking is None else f"{thinking:.0f} / {answer:.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _setting(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "¦")


def settings_table(rows: Sequence[Mapping], columns: Sequence[tuple[str, str]]) -> str:
    """Settings as markdown: ``columns`` (key, header) that no row records are left out; with several rows, those
    that every row shares go in one "Same for all" line and the table keeps what differs (and the first column).

    Example:
        >>> rows = [dict(model="base", temperature=0.6, samples=2, seed=None),
        ...         dict(model="α=0.2", temperature=0.6, samples=4, seed=None)]
        >>> print(settings_table(rows, [("model", "model"), ("temperature", "temperature"), ("samples", "k"),
        ...                             ("seed", "seed")]))
        Same for all: temperature 0.6.
        <BLANKLINE>
        | model | k |
        |---|---|
        | base | 2 |
        | α=0.2 | 4 |
    """
    columns = [(key, header) for key, header in columns if any(row.get(key) is not None for row in rows)]
    shared = []
    if len(rows) > 1:
        shared = [(k, h) for k, h in columns[1:] if len({_setting(row.get(k)) for row in rows}) == 1]
    shown = [column for column in columns if column not in shared]
    lines = []
    if shared:
        lines += ["Same for all: " + ", ".join(f"{h} {_setting(rows[0].get(k))}" for k, h in shared) + ".", ""]
    lines += ["| " + " | ".join(h for _, h in shown) + " |", "|---" * len(shown) + "|"]
    lines += ["| " + " | ".join(_setting(row.get(k)) for k, _ in shown) + " |" for row in rows]
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half} characters left out …]\n{text[-half:]}"


def example_section(
    examples: Sequence[tuple[str, Mapping[str, Mapping]]], questions: Mapping[str, str], max_chars: int = 700
) -> str:
    """The same problems answered by each model (sample 0), with token counts: the paper's Appendix A."""
    parts = []
    for pid, answers in examples:
        any_record = next(iter(answers.values()))
        level = f", level {any_record['level']}" if any_record.get("level") is not None else ""
        question = questions.get(pid)
        parts += [f"**{pid}{level}**" + (f": `{question}`" if question and len(question) < 200 else ""), ""]
        if question and len(question) >= 200:
            parts += ["> " + _shorten(question, max_chars).replace("\n", "\n> "), ""]
        rows = [(name, r["tokens"], _verdict(r), r["response"]) for name, r in answers.items()]
        parts += [responses_block(rows, max_chars), ""]
    return "\n".join(parts)


def _verdict(record: Mapping) -> str:
    if record.get("correct") is None:
        return "finished" if record.get("finished", True) else "cut off"
    return "correct" if record["correct"] else ("cut off" if not record.get("finished", True) else "wrong")


def responses_block(rows: Sequence[tuple[str, int, str, str]], max_chars: int = 700) -> str:
    """``(model, tokens, verdict, response)`` rows as one compact table when every response is a short single
    line, else one fenced block per model (long reasoning traces, shortened in the middle).

    Example:
        >>> print(responses_block([("base", 9, "correct", "1+1=2 ok"), ("α=0.2", 4, "correct", "2")]))
        | model | tokens | verdict | response |
        |---|---|---|---|
        | base | 9 | correct | `1+1=2 ok` |
        | α=0.2 | 4 | correct | `2` |
    """
    if all("\n" not in text and "`" not in text and len(text) <= 160 for *_, text in rows):
        lines = ["| model | tokens | verdict | response |", "|---|---|---|---|"]
        lines += [
            f"| {name} | {tokens} | {verdict} | `{text.replace('|', '¦')}` |" for name, tokens, verdict, text in rows
        ]
        return "\n".join(lines)
    parts = []
    for name, tokens, verdict, text in rows:
        parts += [f"*{name}* — {tokens} tokens, {verdict}:", "", "```", _shorten(text, max_chars), "```", ""]
    return "\n".join(parts).rstrip("\n")


def behaviour_table(entries: Mapping[str, Mapping], min_share: float = 0.05) -> str:
    """Models × difficulty levels: what the responses did (each behaviour's share, accuracy and mean tokens,
    cheapest first; those under ``min_share`` left out), and each model's distance to its own frontier and to
    the reference frontier at its mean tokens; '' when no evaluation accounts for behaviours.

    Example:
        >>> e = {"base": dict(frontier_gap=0.02, per_level={"1": dict(behaviours={
        ...          "shortcut": dict(share=0.3, accuracy=1.0, mean_tokens=12.0),
        ...          "columns+0": dict(share=0.7, accuracy=1.0, mean_tokens=17.0)})})}
        >>> print(behaviour_table(e))
        | model | level 1 | gap to own frontier (points) | gap to the base's frontier (points) |
        |---|---|---|---|
        | base | shortcut 30% · 1.00 · 12<br>columns+0 70% · 1.00 · 17 | 2.0 | - |
    """
    levels = sorted(
        {lvl for e in entries.values() for lvl, f in e.get("per_level", {}).items() if f.get("behaviours")},
        key=lambda x: (len(str(x)), str(x)),
    )
    if not levels:
        return ""
    header = ["model"] + [f"level {lvl}" for lvl in levels]
    header += ["gap to own frontier (points)", "gap to the base's frontier (points)"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, e in entries.items():
        cells = []
        for lvl in levels:
            table = e.get("per_level", {}).get(lvl, {}).get("behaviours") or {}
            shown = [
                f"{label} {100 * b['share']:.0f}% · {b['accuracy']:.2f} · {b['mean_tokens']:.0f}"
                for label, b in sorted(table.items(), key=lambda item: item[1]["mean_tokens"])
                if b["share"] >= min_share
            ]
            cells.append("<br>".join(shown) or "-")
        if not any(cell != "-" for cell in cells):
            continue
        gaps = [e.get("frontier_gap"), e.get("reference_gap")]
        cells += ["-" if g is None else f"{100 * g:.1f}" for g in gaps]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
