"""The paper's claims, as the organism measures them. Pure: the demo's model entries in, verdicts out.

Each check reads the entries of ``summary.json`` (``{label: {accuracy, mean_tokens, per_level, frontier_gap,
...}}``, labels as the demo writes them: ``alpha=0.2``, ``alpha=0.2,norm=group``, ``sft-lr=0.0001``,
``cutoff=56``) and returns a :class:`Claim`: whether it holds, the figures it was decided on, and why it could
not be decided when a model it needs was not run. Thresholds are the ones set before any run (the organism's
issue); they are not moved to fit a result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from thrifty.report.tables import interpolate


@dataclass
class Claim:
    """One claim's verdict: ``holds`` is None when a model it needs is missing (``missing`` names them)."""

    name: str
    statement: str
    holds: bool | None
    figures: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def family(models: Mapping[str, Mapping]) -> list[tuple[float, Mapping]]:
    """``[(α, entry)]`` of the α family (un-normalised RLOO), by α."""
    members = []
    for label, entry in models.items():
        if label.startswith("alpha=") and "," not in label:
            members.append((float(label.split("=", 1)[1]), entry))
    return sorted(members, key=lambda member: member[0])


def standard_error_points(a: Mapping, b: Mapping) -> float | None:
    """One standard error of the accuracy difference of two models, in points (independent samples; None without
    ``n_samples``): a verdict decided by less than about two of these could go the other way on another seed.

    Example:
        >>> round(standard_error_points(dict(accuracy=0.9, n_samples=700), dict(accuracy=0.8, n_samples=700)), 2)
        1.89
    """
    if not a.get("n_samples") or not b.get("n_samples"):
        return None
    variance = sum(m["accuracy"] * (1 - m["accuracy"]) / m["n_samples"] for m in (a, b))
    return 100 * variance**0.5


def _missing(models: Mapping, *labels: str) -> list[str]:
    return [label for label in labels if label not in models]


def trade_off(models: Mapping[str, Mapping], low: str = "alpha=0.05", high: str = "alpha=0.4") -> Claim:
    """Tokens fall monotonically along α, and the largest α is less accurate than a small one.

    Example:
        >>> m = {"alpha=0.05": dict(accuracy=0.95, mean_tokens=40.0), "alpha=0.4": dict(accuracy=0.9,
        ...      mean_tokens=20.0), "alpha=0.2": dict(accuracy=0.93, mean_tokens=30.0)}
        >>> trade_off(m).holds, trade_off(m).figures["tokens_along_alpha"]
        (True, [40.0, 30.0, 20.0])
    """
    statement = f"tokens fall monotonically along α, and accuracy at {high} is below {low}'s"
    missing = _missing(models, low, high)
    if missing:
        return Claim("trade-off", statement, None, missing=missing)
    tokens = [entry["mean_tokens"] for _, entry in family(models)]
    monotone = all(b < a for a, b in zip(tokens, tokens[1:], strict=False))
    drop = models[low]["accuracy"] - models[high]["accuracy"]
    figures = {
        "alphas": [alpha for alpha, _ in family(models)],
        "tokens_along_alpha": tokens,
        "accuracy_along_alpha": [entry["accuracy"] for _, entry in family(models)],
        "accuracy_drop_points": 100 * drop,
        "standard_error_points": standard_error_points(models[low], models[high]),
    }
    return Claim("trade-off", statement, monotone and drop > 0, figures)


def _saving(models: Mapping[str, Mapping], label: str, reference: str, level: str) -> float | None:
    mine, ref = models[label].get("per_level", {}).get(level), models[reference].get("per_level", {}).get(level)
    if not mine or not ref:
        return None
    return 1 - mine["mean_tokens"] / ref["mean_tokens"]


def adaptivity(
    models: Mapping[str, Mapping], label: str = "alpha=0.2", reference: str = "alpha=0", easy="1", hard="4"
) -> Claim:
    """The relative token saving of ``label`` against ``reference`` on the easiest level is at least twice that on
    the hardest (the paper: −77 % on GSM8K against −22 % on AIME24).

    Example:
        >>> level = lambda *t: {str(i + 1): dict(mean_tokens=x) for i, x in enumerate(t)}
        >>> m = {"alpha=0": dict(per_level=level(40, 0, 0, 100)), "alpha=0.2": dict(per_level=level(10, 0, 0, 70))}
        >>> claim = adaptivity(m)
        >>> claim.holds, round(claim.figures["saving_easy"], 2), round(claim.figures["saving_hard"], 2)
        (True, 0.75, 0.3)
    """
    statement = f"at {label}, the token saving against {reference} on level {easy} is at least twice level {hard}'s"
    missing = _missing(models, label, reference)
    if missing:
        return Claim("adaptivity", statement, None, missing=missing)
    easy_saving, hard_saving = (_saving(models, label, reference, lvl) for lvl in (easy, hard))
    if easy_saving is None or hard_saving is None:
        return Claim("adaptivity", statement, None, missing=[f"level {easy} and {hard} figures"])
    figures = {"saving_easy": easy_saving, "saving_hard": hard_saving}
    if hard_saving > 0:
        figures["ratio"] = easy_saving / hard_saving
    return Claim("adaptivity", statement, easy_saving >= 2 * hard_saving and easy_saving > 0, figures)


def collapse(
    models: Mapping[str, Mapping], label: str = "alpha=0.2", normalised: str = "alpha=0.2,norm=group", points=10.0
) -> Claim:
    """Group-normalised advantages end at least ``points`` accuracy points below the un-normalised run at the same α
    (the paper's Fig. 5); the token-whitened run is reported beside it."""
    statement = f"{normalised} ends at least {points:g} accuracy points below {label}"
    missing = _missing(models, label, normalised)
    if missing:
        return Claim("collapse", statement, None, missing=missing)
    drop = 100 * (models[label]["accuracy"] - models[normalised]["accuracy"])
    figures = {
        "accuracy_drop_points": drop,
        "tokens": models[normalised]["mean_tokens"],
        "tokens_unnormalised": models[label]["mean_tokens"],
        "standard_error_points": standard_error_points(models[label], models[normalised]),
    }
    batch = normalised.replace("norm=group", "norm=batch")
    if batch in models:
        figures["batch_accuracy_drop_points"] = 100 * (models[label]["accuracy"] - models[batch]["accuracy"])
    return Claim("collapse", statement, drop >= points, figures)


def baselines(models: Mapping[str, Mapping], kinds: Sequence[str] = ("sft", "dpo", "cutoff")) -> Claim:
    """At matched tokens the α family is more accurate than every SFT, DPO and cutoff run. A baseline longer than
    every α counts as beaten when a shorter α is more accurate; one shorter than every α cannot be matched and
    is listed as such (the claim is then decided on the others)."""
    statement = "at matched tokens the α family is more accurate than SFT, DPO and the generation cutoff"
    members = sorted((e["mean_tokens"], e["accuracy"]) for _, e in family(models))
    runs = {label: e for label, e in models.items() if _kind(label) in kinds}
    missing = (["the α family"] if not members else []) + [k for k in kinds if k not in {_kind(r) for r in runs}]
    if missing:
        return Claim("baselines", statement, None, missing=missing)
    margins, unmatched = {}, []
    for label, entry in runs.items():
        at = interpolate(members, entry["mean_tokens"])
        if at is None and entry["mean_tokens"] > members[-1][0]:
            at = max(accuracy for tokens, accuracy in members if tokens <= entry["mean_tokens"])
        if at is None:
            unmatched.append(label)
            continue
        margins[label] = 100 * (at - entry["accuracy"])
    figures = {"margin_points": margins, "unmatched": unmatched}
    if not margins:
        return Claim("baselines", statement, None, figures, missing=["a baseline within the family's length range"])
    return Claim("baselines", statement, all(margin > 0 for margin in margins.values()), figures)


def _kind(label: str) -> str:
    """``sft-lr=0.0001`` -> ``sft``, ``cutoff=56`` -> ``cutoff``: a demo label's method."""
    return label.split("-", 1)[0].split("=", 1)[0]


def near_frontier(models: Mapping[str, Mapping], labels=("alpha=0.1", "alpha=0.2"), points: float = 3.0) -> Claim:
    """Each of ``labels`` is within ``points`` accuracy points of its own frontier at its mean tokens."""
    statement = f"{' and '.join(labels)} are within {points:g} accuracy points of their own frontier"
    missing = [label for label in labels if models.get(label, {}).get("frontier_gap") is None]
    if missing:
        return Claim("near the frontier", statement, None, missing=missing)
    gaps = {label: 100 * models[label]["frontier_gap"] for label in labels}
    return Claim("near the frontier", statement, all(gap <= points for gap in gaps.values()), {"gap_points": gaps})


def check(models: Mapping[str, Mapping]) -> list[Claim]:
    """Every claim on one run's models."""
    return [trade_off(models), adaptivity(models), collapse(models), baselines(models), near_frontier(models)]


SEEDED = ("trade-off", "adaptivity", "collapse")
"""The claims checked on every seed of ``thrifty demo --seeds``."""


def across_seeds(per_seed: Mapping[int, Sequence[Claim]]) -> list[dict]:
    """Each seeded claim over seeds: holds on every seed (True), fails on at least one (False), else undecided on
    one (None); with each seed's verdict and figures."""
    rows = []
    for name in SEEDED:
        verdicts = {seed: next(c for c in claims if c.name == name) for seed, claims in per_seed.items()}
        values = [c.holds for c in verdicts.values()]
        holds = False if False in values else None if None in values else True
        rows.append(
            {
                "name": name,
                "holds_on_every_seed": holds,
                "seeds": {str(seed): {"holds": c.holds, **c.figures} for seed, c in verdicts.items()},
            }
        )
    return rows
