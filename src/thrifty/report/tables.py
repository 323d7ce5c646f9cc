"""Human-readable views of evaluation summaries: markdown tables. Pure: dicts in, text out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


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
    lines = [
        "| model | accuracy | mean tokens | tokens / oracle | Δ accuracy (points) | Δ tokens |",
        "|---|---|---|---|---|---|",
    ]
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


def _delta(entry: Mapping, ref: Mapping | None) -> tuple[str, str]:
    if ref is None or entry is ref:
        return "-", "-"
    return (
        f"{100 * (entry['accuracy'] - ref['accuracy']):+.1f}",
        f"{100 * (entry['mean_tokens'] / ref['mean_tokens'] - 1):+.0f}%",
    )


def results_table(by_benchmark: Mapping[str, Mapping[str, Mapping]], base: str | None) -> str:
    """One row per (model, benchmark): accuracy, mean tokens (all / correct), tokens / oracle, Δ against ``base``.

    Example:
        >>> gsm8k = {"base": dict(accuracy=0.8, mean_tokens=200.0, mean_tokens_correct=180.0),
        ...          "α=0.2": dict(accuracy=0.78, mean_tokens=100.0, mean_tokens_correct=90.0)}
        >>> table = results_table({"gsm8k": gsm8k}, "base").splitlines()
        >>> table[0].split(" | ")[-3:]
        ['tokens / oracle', 'Δ accuracy (points)', 'Δ tokens |']
        >>> print("\\n".join(table[2:]))
        | base | gsm8k | 0.800 | 200.0 | 180.0 | - | - | - |
        | α=0.2 | gsm8k | 0.780 | 100.0 | 90.0 | - | -2.0 | -50% |
    """
    columns = ["model", "benchmark", "accuracy", "mean tokens", "tokens (correct)", "tokens / oracle"]
    columns += ["Δ accuracy (points)", "Δ tokens"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for benchmark, entries in by_benchmark.items():
        ref = entries.get(base) if base else None
        for name, e in entries.items():
            d_acc, d_tok = _delta(e, ref)
            lines.append(
                f"| {name} | {benchmark} | {_fmt(e['accuracy'])} | {_fmt(e['mean_tokens'], 1)} | "
                f"{_fmt(e.get('mean_tokens_correct'), 1)} | {_fmt(e.get('oracle_ratio'), 2)} | {d_acc} | {d_tok} |"
            )
    return "\n".join(lines)


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """Linear interpolation of y at ``x`` on points sorted by x; None outside their range."""
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if len(points) == 1 and points[0][0] == x:
        return points[0][1]
    return None


def baseline_points(entries: Mapping[str, Mapping]) -> list[tuple[str, float, float]]:
    """``(name, mean tokens, accuracy)`` of every baseline: SFT, DPO and cutoff runs, and the cutoff curve that
    the base's own samples give (each response cut at L tokens)."""
    points = [
        (name, e["mean_tokens"], e["accuracy"])
        for name, e in entries.items()
        if e.get("kind") in ("sft", "dpo", "cutoff")
    ]
    for e in entries.values():
        if e.get("kind") == "base":
            points += [
                (f"cutoff at {c['max_tokens']} (base samples)", c["mean_tokens"], c["accuracy"])
                for c in e.get("cutoff_curve", [])
            ]
    return points


def matched_length_table(entries: Mapping[str, Mapping]) -> str:
    """Each baseline's accuracy against the α family's at the same mean tokens ('' without a family or baselines).

    Between two α the family's accuracy is interpolated linearly. A baseline longer than every α is
    *dominated* when some α is both shorter and at least as accurate (the most accurate such α is shown);
    otherwise, and for a baseline shorter than every α, there is no match.

    ``entries`` map a name to a summary with ``kind`` (family, base, sft, dpo, cutoff) and, for the family, ``alpha``.

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
        (e["mean_tokens"], e["accuracy"], name) for name, e in entries.items() if e.get("kind") == "family"
    )
    family = [(tokens, accuracy) for tokens, accuracy, _ in members]
    points = baseline_points(entries)
    if not family or not points:
        return ""
    lines = [
        "| baseline | mean tokens | accuracy | α family at that length | family − baseline (points) |",
        "|---|---|---|---|---|",
    ]
    for name, tokens, accuracy in points:
        at = interpolate(family, tokens)
        if at is not None:
            lines.append(f"| {name} | {tokens:.1f} | {accuracy:.3f} | {at:.3f} | {100 * (at - accuracy):+.1f} |")
            continue
        best = max((m for m in members if m[0] <= tokens), key=lambda m: m[1], default=None)
        if best is not None and best[1] >= accuracy:
            lines.append(
                f"| {name} | {tokens:.1f} | {accuracy:.3f} | dominated: {best[2]} has {best[1]:.3f} with "
                f"{best[0]:.0f} tokens | {100 * (best[1] - accuracy):+.1f} |"
            )
        else:
            side = "longer" if tokens > family[-1][0] else "shorter"
            lines.append(
                f"| {name} | {tokens:.1f} | {accuracy:.3f} | none: {side} than every α "
                f"({family[0][0]:.0f}–{family[-1][0]:.0f} tokens) | - |"
            )
    return "\n".join(lines)


def per_level_table(entries: Mapping[str, Mapping], base: str | None) -> str:
    """Models × difficulty levels: accuracy / mean tokens (token saving against ``base``); '' without levels.

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
    levels = sorted(
        {lvl for e in entries.values() for lvl in e.get("per_level", {})}, key=lambda x: (len(str(x)), str(x))
    )
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
            cell = f"{s['accuracy']:.2f} / {s['mean_tokens']:.0f}"
            if name != base and lvl in ref and ref[lvl]["mean_tokens"]:
                cell += f" ({100 * (s['mean_tokens'] / ref[lvl]['mean_tokens'] - 1):+.0f}%)".replace("-", "−")
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
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
