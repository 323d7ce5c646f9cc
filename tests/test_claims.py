"""The paper's claims as the organism checks them: each decided on the figures it names, and undecided (never
passed) when a model it needs was not run."""

import pytest

from thrifty.organism.claims import across_seeds, adaptivity, baselines, check, collapse, near_frontier, trade_off


def _levels(*tokens):
    return {str(i + 1): dict(mean_tokens=t) for i, t in enumerate(tokens)}


FAMILY = {
    "alpha=0": dict(accuracy=0.97, mean_tokens=80.0, per_level=_levels(40, 60, 90, 120), frontier_gap=0.05),
    "alpha=0.05": dict(accuracy=0.97, mean_tokens=60.0, per_level=_levels(20, 50, 70, 100)),
    "alpha=0.1": dict(accuracy=0.96, mean_tokens=50.0, per_level=_levels(15, 40, 60, 90), frontier_gap=0.02),
    "alpha=0.2": dict(accuracy=0.95, mean_tokens=45.0, per_level=_levels(10, 35, 55, 90), frontier_gap=0.01),
    "alpha=0.4": dict(accuracy=0.90, mean_tokens=40.0, per_level=_levels(10, 30, 50, 80), frontier_gap=0.0),
}


def test_every_claim_holds_on_a_family_that_shows_them():
    models = {
        **FAMILY,
        "alpha=0.2,norm=group": dict(accuracy=0.60, mean_tokens=20.0),
        "alpha=0.2,norm=batch": dict(accuracy=0.90, mean_tokens=40.0),
        "sft-lr=0.0001": dict(accuracy=0.90, mean_tokens=55.0),
        "dpo-lr=1e-05": dict(accuracy=0.80, mean_tokens=90.0),  # longer than every α and less accurate
        "cutoff=56": dict(accuracy=0.50, mean_tokens=30.0),  # shorter than every α: cannot be matched
    }
    claims = {c.name: c for c in check(models)}
    assert all(c.holds for c in claims.values()), {n: c.figures for n, c in claims.items()}
    assert claims["trade-off"].figures["accuracy_drop_points"] == pytest.approx(7.0)
    assert claims["adaptivity"].figures["saving_easy"] == pytest.approx(0.75)
    assert claims["adaptivity"].figures["saving_hard"] == pytest.approx(0.25)
    assert claims["collapse"].figures["accuracy_drop_points"] == pytest.approx(35.0)
    assert claims["collapse"].figures["batch_accuracy_drop_points"] == pytest.approx(5.0)
    margins = claims["baselines"].figures["margin_points"]
    assert margins["sft-lr=0.0001"] == pytest.approx(100 * (0.96 + 0.01 * 5 / 10 - 0.90))
    assert margins["dpo-lr=1e-05"] == pytest.approx(17.0)  # the most accurate shorter α (α=0) against it
    assert claims["baselines"].figures["unmatched"] == ["cutoff=56"]


def test_each_claim_can_fail():
    longer = {**FAMILY, "alpha=0.4": {**FAMILY["alpha=0.4"], "mean_tokens": 46.0}}  # tokens rise from 0.2 to 0.4
    assert trade_off(longer).holds is False
    flat = {**FAMILY, "alpha=0.4": {**FAMILY["alpha=0.4"], "accuracy": 0.97}}  # no accuracy given up
    assert trade_off(flat).holds is False
    uniform = {**FAMILY, "alpha=0.2": {**FAMILY["alpha=0.2"], "per_level": _levels(20, 30, 45, 60)}}
    assert adaptivity(uniform).holds is False  # 50 % saved on every level
    mild = {**FAMILY, "alpha=0.2,norm=group": dict(accuracy=0.90, mean_tokens=30.0)}
    assert collapse(mild).holds is False  # 5 points is not a collapse
    worse = dict(accuracy=0.5, mean_tokens=55.0)
    better = {**FAMILY, "sft-lr=0.0001": dict(accuracy=0.99, mean_tokens=55.0), "dpo-lr=1": worse, "cutoff=9": worse}
    assert baselines(better).holds is False
    far = {**FAMILY, "alpha=0.1": {**FAMILY["alpha=0.1"], "frontier_gap": 0.04}}
    assert near_frontier(far).holds is False and near_frontier(far).figures["gap_points"]["alpha=0.1"] == 4.0


def test_a_claim_without_its_models_is_undecided_and_names_them():
    claims = {c.name: c for c in check({"alpha=0": FAMILY["alpha=0"], "alpha=0.2": FAMILY["alpha=0.2"]})}
    assert claims["trade-off"].holds is None and claims["trade-off"].missing == ["alpha=0.05", "alpha=0.4"]
    assert claims["collapse"].missing == ["alpha=0.2,norm=group"]
    assert claims["baselines"].missing == ["sft", "dpo", "cutoff"] and claims["near the frontier"].missing == [
        "alpha=0.1"
    ]
    assert claims["adaptivity"].holds is True
    only_sft = baselines({**FAMILY, "sft-lr=0.0001": dict(accuracy=0.5, mean_tokens=55.0)})
    assert only_sft.holds is None and only_sft.missing == ["dpo", "cutoff"]  # the claim names all three
    shorter = {f"{k}=1": dict(accuracy=0.1, mean_tokens=5.0) for k in ("sft-lr", "dpo-lr", "cutoff")}
    unmatched = baselines({**FAMILY, **shorter})
    assert unmatched.holds is None and unmatched.figures["unmatched"] == list(shorter) and unmatched.missing


def test_across_seeds_a_claim_holds_only_where_it_holds_on_every_seed():
    collapsed = {**FAMILY, "alpha=0.2,norm=group": dict(accuracy=0.5, mean_tokens=15.0)}
    mild = {**FAMILY, "alpha=0.2,norm=group": dict(accuracy=0.9, mean_tokens=30.0)}
    missing = dict(FAMILY)  # no ablation run: undecided
    rows = {r["name"]: r for r in across_seeds({0: check(collapsed), 1: check(mild), 2: check(missing)})}
    assert rows["collapse"]["holds_on_every_seed"] is False  # a failure is not hidden by an undecided seed
    assert [rows["collapse"]["seeds"][s]["holds"] for s in "012"] == [True, False, None]
    rows = {r["name"]: r for r in across_seeds({0: check(collapsed), 2: check(missing)})}
    assert rows["collapse"]["holds_on_every_seed"] is None
    assert rows["trade-off"]["holds_on_every_seed"] is True
