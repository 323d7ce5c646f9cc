"""The report's statistics: standard errors in every table, differences marked only beyond noise, no "-0 %", zoom
panels that keep the base in view, and training curves averaged over whole windows. Pure functions, no plots."""

import pytest

from thrifty.report.plots import (
    moving_average,
    steps_per_rollout,
    temperature_note,
    training_panels,
    zoom_box,
    zoom_limits,
)
from thrifty.report.tables import (
    PER_LEVEL_NOTE,
    delta_accuracy,
    delta_tokens,
    exceeds_noise,
    interpolate_se,
    matched_length_table,
    model_table,
    per_level_table,
    results_table,
    settings_table,
    signed,
    summary_table,
    thinking_table,
)


def _summary(**extra):
    summary = dict(
        n_problems=350,
        samples_per_problem=2,
        accuracy=0.9,
        accuracy_se=0.0164,
        pass_at_k={"1": 0.9, "2": 0.977},
        maj_at_k={"2": 0.9},
        mean_tokens=68.94,
        mean_tokens_se=2.31,
        mean_tokens_correct=71.4,
        truncation_rate=0.0,
    )
    return {**summary, **extra}


def test_the_eval_console_table_shows_standard_errors_and_maj_at_k():
    row = summary_table({"organism": _summary()}).splitlines()[2]
    assert row == "| organism | 350 | 2 | 0.900 ± 0.016 | 0.977 | 0.900 | 68.9 ± 2.3 | 71.4 | 0.000 |"
    # an older summary: no SE, no maj@k -- the figures alone
    old = _summary()
    for key in ("accuracy_se", "mean_tokens_se", "maj_at_k"):
        del old[key]
    assert (
        summary_table({"organism": old}).splitlines()[2]
        == "| organism | 350 | 2 | 0.900 | 0.977 | - | 68.9 | 71.4 | 0.000 |"
    )


def test_a_difference_is_marked_only_when_it_exceeds_twice_its_standard_error():
    base = dict(accuracy=0.900, accuracy_se=0.026, mean_tokens=100.0, mean_tokens_se=5.0)
    # the case: -2.9 points on 350 single samples, SE 2.6 each: SE of the difference 3.7, within noise
    within = dict(accuracy=0.871, accuracy_se=0.026, mean_tokens=96.0, mean_tokens_se=5.0)
    assert delta_accuracy(within, base) == "-2.9 ± 3.7"
    assert delta_tokens(within, base) == "-4% ± 7"  # 4 tokens against an SE of √50 = 7.1
    beyond = dict(accuracy=0.986, accuracy_se=0.006, mean_tokens=60.0, mean_tokens_se=2.0)
    assert delta_accuracy(beyond, base) == "+8.6 ± 2.7 *"
    assert delta_tokens(beyond, base) == "-40% ± 4 *"
    # the rule itself: strictly more than 2 SE; an unknown SE never marks
    assert not exceeds_noise(0.02, 0.01) and exceeds_noise(0.0201, 0.01) and not exceeds_noise(1.0, None)
    table = model_table({"base": base, "α=0.2": beyond, "α=0": within})
    assert "| α=0.2 | 0.986 ± 0.006 | 60.0 ± 2.0 | - | +8.6 ± 2.7 * | -40% ± 4 * |" in table
    assert "| α=0 | 0.871 ± 0.026 | 96.0 ± 5.0 | - | -2.9 ± 3.7 | -4% ± 7 |" in table


def test_no_minus_zero_anywhere():
    assert signed(-0.04) == "0.0" and signed(-0.4, 0, "%") == "0%" and signed(0.6, 0, "%") == "+1%"
    ref = dict(accuracy=0.9, mean_tokens=68.9, per_level={"1": dict(accuracy=1.0, mean_tokens=40.0)})
    same = dict(accuracy=0.8996, mean_tokens=68.8, per_level={"1": dict(accuracy=1.0, mean_tokens=39.9)})
    ref["per_level"]["2"] = same["per_level"]["2"] = dict(accuracy=0.5, mean_tokens=80.0)
    tables = [model_table({"base": ref, "m": same}), results_table({"b": {"base": ref, "m": same}}, "base")]
    tables.append(per_level_table({"base": ref, "m": same}, "base"))
    for table in tables:
        assert "-0" not in table and "−0" not in table and "+0%" not in table
    assert "| m | 0.900 | 68.8 | - | 0.0 | 0% |" in tables[0]
    assert "| m | 1.00 / 40 (0%) | 0.50 / 80 (0%) |" in tables[2]


def test_the_per_level_change_is_explained_and_carries_its_noise():
    assert "change in mean tokens against {base}" in PER_LEVEL_NOTE and "positive = longer" in PER_LEVEL_NOTE
    base = {"1": dict(accuracy=1.0, accuracy_se=0.0, mean_tokens=40.0, mean_tokens_se=2.0)}
    longer = {"1": dict(accuracy=0.95, accuracy_se=0.02, mean_tokens=44.4, mean_tokens_se=2.0)}
    base["2"] = longer["2"] = dict(accuracy=0.5, mean_tokens=80.0)
    row = per_level_table({"base": dict(per_level=base), "α=0": dict(per_level=longer)}, "base").splitlines()[3]
    # +11 %: 4.4 more tokens, within their noise (SE of the difference 2.8), so unmarked;
    # its SE 1.11 · √((2/44.4)² + (2/40)²) = 7 %
    assert row == "| α=0 | 0.95 ± 0.02 / 44 (+11% ± 7) | 0.50 / 80 (0%) |"


def test_the_results_table_has_maj_at_k_beside_pass_at_k_and_uncertain_old_summaries_stay_plain():
    new = dict(accuracy=0.9, accuracy_se=0.02, mean_tokens=50.0, pass_at_k={"1": 0.9, "4": 0.99}, maj_at_k={"4": 0.93})
    old = dict(accuracy=0.8, mean_tokens=60.0, pass_at_k={"1": 0.8})
    lines = results_table({"math500": {"base": old, "α=0.2": new}}, "base").splitlines()
    assert lines[0].startswith("| model | benchmark | accuracy | pass@k | maj@k | mean tokens |")
    assert lines[2] == "| base | math500 | 0.800 | 0.800 (k=1) | - | 60.0 | - | - | - | - |"
    assert lines[3] == "| α=0.2 | math500 | 0.900 ± 0.020 | 0.990 (k=4) | 0.930 (k=4) | 50.0 | - | - | +10.0 | -17% |"
    # one sample per problem everywhere: no pass@k / maj@k columns (pass@1 is the accuracy)
    assert "pass@k" not in results_table({"gsm8k": {"base": old}}, "base")


def test_matched_length_differences_carry_the_interpolated_standard_error():
    assert interpolate_se([(40.0, 0.8, 0.03), (60.0, 0.9, 0.04)], 50.0) == pytest.approx(0.025)
    assert interpolate_se([(40.0, 0.8, None), (60.0, 0.9, 0.04)], 50.0) is None
    entries = {
        "α=0": dict(kind="family", mean_tokens=60.0, accuracy=0.9, accuracy_se=0.04),
        "α=0.4": dict(kind="family", mean_tokens=40.0, accuracy=0.8, accuracy_se=0.03),
        "SFT": dict(kind="sft", mean_tokens=50.0, accuracy=0.7, accuracy_se=0.05),
        "DPO": dict(kind="dpo", mean_tokens=50.0, accuracy=0.84, accuracy_se=0.01),
    }
    table = matched_length_table(entries)
    # family at 50 tokens: 0.85 ± 0.025; SFT 15 points below, SE √(0.025² + 0.05²) = 5.6 points: beyond noise
    assert "| SFT | 50.0 | 0.700 ± 0.050 | 0.850 ± 0.025 | +15.0 ± 5.6 * |" in table
    assert "| DPO | 50.0 | 0.840 ± 0.010 | 0.850 ± 0.025 | +1.0 ± 2.7 |" in table


def test_the_zoom_keeps_the_base_in_view_and_draws_a_gap_at_its_size_against_the_noise():
    family = [(40.0, 99.4, 1.0, 0.35), (47.0, 98.8, 1.0, 0.35)]
    base = (69.0, 90.0, 2.0, 1.6)
    x0, x1, y0, y1 = zoom_limits(family + [base])
    assert x0 < 69.0 - 2 * 2.0 and x1 > 69.0 + 2 * 2.0 and y0 < 90.0 - 2 * 1.6 and y1 >= 99.4
    # without the base: the 0.6-point gap is shown with two SEs either side, never stretched over half the axis
    x0, x1, y0, y1 = zoom_limits(family)
    assert y0 <= 98.8 - 2 * 0.35 and y1 >= 99.4 + 2 * 0.35 - 1e-9 and 0.6 / (y1 - y0) < 0.5
    # no SEs (an older summary): a minimum span, centred
    assert zoom_limits([(50.0, 80.0, None, None)]) == (49.0, 51.0, 79.25, 80.75)
    entries = {
        "base": dict(kind="base", mean_tokens=69.0, accuracy=0.90, accuracy_se=0.016, mean_tokens_se=2.0),
        "α=0": dict(kind="family", mean_tokens=47.0, accuracy=0.988, accuracy_se=0.0035, mean_tokens_se=1.0),
        "α=0.2": dict(kind="family", mean_tokens=40.0, accuracy=0.994, accuracy_se=0.0035, mean_tokens_se=1.0),
        "cutoff": dict(kind="cutoff", mean_tokens=20.0, accuracy=0.05),
    }
    x0, x1, y0, y1 = zoom_box(entries)
    assert x0 < 69.0 < x1 and y0 < 90.0 < y1 and x0 < 40.0 and y1 >= 99.4


def test_training_curves_average_whole_windows_of_rollouts_only():
    # the case: the rollout at step 3 had 3.1 %, and a partial window showed (40.7 + 3.1) / 2 = 21.9 there
    smooth = moving_average([40.7, 3.1, 22.6, 60.0, 80.0], 3)
    assert smooth[:2] == [None, None]  # no value until three rollouts are in
    assert smooth[2:] == pytest.approx([(40.7 + 3.1 + 22.6) / 3, (3.1 + 22.6 + 60.0) / 3, (22.6 + 60.0 + 80.0) / 3])
    assert moving_average([1.0, 2.0], 5) == [None, None]
    with pytest.raises(ValueError, match="window"):
        moving_average([1.0], 0)
    assert steps_per_rollout([1, 3, 5, 7]) == 2 and steps_per_rollout([2, 4, 6, 7]) == 2


def test_the_rollout_temperature_in_titles_comes_from_each_run_s_config():
    rows = {"α=0": [{"step": 1, "tokens/mean": 80.0, "accuracy": 0.5, "kl": 0.0, "reward": 0.4}]}
    titles = [panel[0] for panel in training_panels(rows, temperatures={"α=0": 0.7})]
    assert titles[:2] == ["Rollout length during RL (T = 0.7)", "Rollout accuracy during RL (T = 0.7)"]
    assert "Reward during RL" in titles and "KL to the reference during RL" in titles
    assert not any("Truncated" in title for title in titles)  # not logged: no panel
    assert all("T = " not in title for title in (p[0] for p in training_panels(rows)))  # unknown: not invented
    assert temperature_note({"a": 0.6, "b": 1.0}) == "T = 0.6 (a), 1.0 (b)"


def test_settings_shared_by_every_row_are_said_once():
    rows = [dict(model="a", temperature=0.6, seed=0), dict(model="b", temperature=0.6, seed=1)]
    text = settings_table(rows, [("model", "model"), ("temperature", "temperature"), ("seed", "seed"), ("x", "x")])
    assert text.splitlines() == [
        "Same for all: temperature 0.6.",
        "",
        "| model | seed |",
        "|---|---|",
        "| a | 0 |",
        "| b | 1 |",
    ]


def test_a_difference_on_the_same_problems_is_paired():
    """Two models on the same three problems, two samples each: per-problem accuracy 1, 0.5, 0 against 0.5, 0.5, 0.
    Paired, SE_Δ = sd(0.5, 0, 0) / √3 = 1/6; as independent it would be √(SE_a² + SE_b²), twice as large, and
    the same +16.7 points would not be marked."""
    from thrifty.eval.metrics import summarize
    from thrifty.report.tables import delta_accuracy

    def run(correct):
        samples = [
            dict(id=p, sample=j, tokens=10, finished=True, correct=c, extracted="1")
            for p, pair in zip("xyz", correct, strict=True)
            for j, c in enumerate(pair)
        ]
        return summarize(samples)

    a, b = run([(1, 1), (1, 0), (0, 0)]), run([(1, 0), (1, 0), (0, 0)])
    assert delta_accuracy(a, b) == "+16.7 ± 16.7"  # not beyond 2 SE
    independent = {k: v for k, v in a.items() if k != "per_problem"}
    assert (
        delta_accuracy(independent, b) == f"+16.7 ± {100 * (a['accuracy_se'] ** 2 + b['accuracy_se'] ** 2) ** 0.5:.1f}"
    )
    c = run([(1, 1), (1, 1), (1, 0)])  # +50 points on every problem alike: paired SE 1/6 -> marked
    assert delta_accuracy(c, b).endswith("*")


def test_thinking_and_answer_columns_only_where_a_summary_has_them():
    thinker = _summary(mean_thinking_tokens=60.5, mean_thinking_tokens_se=2.04, mean_answer_tokens=8.44)
    table = summary_table({"math500": thinker, "organism": _summary()}).splitlines()
    assert table[0].split(" | ")[6:10] == ["mean tokens ± SE", "thinking ± SE", "answer ± SE", "tokens (correct)"]
    assert table[2].split(" | ")[6:9] == ["68.9 ± 2.3", "60.5 ± 2.0", "8.4"]  # no SE recorded for the answer's
    assert table[3] == "| organism | 350 | 2 | 0.900 ± 0.016 | 0.977 | 0.900 | 68.9 ± 2.3 | - | - | 71.4 | 0.000 |"
    assert "thinking" not in summary_table({"organism": _summary()})
    results = results_table({"math500": {"base": _summary(), "R1": thinker}}, "base").splitlines()
    assert results[0].split(" | ")[5:8] == ["mean tokens", "thinking tokens", "answer tokens"]
    assert results[3].split(" | ")[5:8] == ["68.9 ± 2.3", "60.5 ± 2.0", "8.4"]
    assert "thinking" not in results_table({"math500": {"base": _summary()}}, "base")


def test_thinking_per_level_lists_only_the_models_that_think():
    levels = {"1": dict(mean_thinking_tokens=30.4, mean_answer_tokens=4.0), "2": dict(accuracy=1.0)}
    entries = {"R1": dict(per_level=levels), "organism": dict(per_level={"1": {}, "2": {}})}
    assert thinking_table(entries).splitlines()[2:] == ["| R1 | 30 / 4 | - |"]
    assert thinking_table({"organism": entries["organism"]}) == ""
    assert thinking_table({"R1": dict(per_level={"1": levels["1"]})}) == ""  # one level: nothing to compare
