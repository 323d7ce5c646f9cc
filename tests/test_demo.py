"""`thrifty demo` end to end at toy scale: every stage runs, files appear, a second run reuses everything."""

import json

import pytest

from helpers import flags
from thrifty import runs
from thrifty.cli import main
from thrifty.profiles import PROFILES


TOY = dict(sft_steps=2, rl_steps=2, eval_samples=1, eval_max_new_tokens=8)
"""The demo at toy scale (its last flag, the evaluation's token limit, is changed by a test)."""


def _base_build(cache) -> str:
    """The record of the one base organism built in the cache (its build time changes if it is rebuilt)."""
    (build,) = (cache / "cache").glob("organism-base-*/organism.json")
    return build.read_text()


@pytest.mark.slow
def test_demo_end_to_end_and_resume(tmp_path, capsys):
    argv = ["demo", *flags(out=tmp_path / "demo", cache_dir=tmp_path / "cache", alphas="0,0.2", **TOY)]
    assert main(argv) == 0
    out = tmp_path / "demo"
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["base", "alpha=0", "alpha=0.2", "base,forced=shortcut"]
    for entry in summary["models"].values():
        assert {"accuracy", "mean_tokens", "oracle_ratio", "per_level"} <= set(entry)
        assert set(entry["per_level"]) == {"1", "2", "3", "4"} and "oracle_ratio" in entry["per_level"]["4"]
        assert abs(sum(b["share"] for b in entry["per_level"]["4"]["behaviours"].values()) - 1) < 1e-9
    assert all(
        b == {"shortcut"}
        for b in (set(f["behaviours"]) for f in summary["models"]["base,forced=shortcut"]["per_level"].values())
    )
    assert "frontier_gap" in summary["models"]["alpha=0.2"] and "reference_gap" in summary["models"]["alpha=0.2"]
    claims = {c["name"]: c for c in summary["claims"]}
    assert claims["trade-off"]["holds"] is None and claims["trade-off"]["missing"] == ["alpha=0.05", "alpha=0.4"]
    assert claims["adaptivity"]["holds"] is not None  # alpha=0 and alpha=0.2 were run: decided either way
    assert summary["wall_seconds"] > 0
    for png in ("pareto_organism.png", "training.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert (
        "| α=0.2 | organism |" in report and "![training](training.png)" in report and "| train alpha=0.2 |" in report
    )
    assert (out / "alpha=0.2" / "eval" / "organism" / "samples.jsonl").is_file()
    assert "alpha=0.2" in capsys.readouterr().out

    weights, samples = (
        out / "alpha=0.2" / "model.safetensors",
        out / "alpha=0.2" / "eval" / "organism" / "samples.jsonl",
    )
    stamps = (weights.stat().st_mtime_ns, samples.stat().st_mtime_ns, _base_build(tmp_path))
    assert main(argv) == 0  # everything cached: no stage is redone
    again = json.loads((out / "summary.json").read_text())
    assert again["models"] == summary["models"]
    assert (weights.stat().st_mtime_ns, samples.stat().st_mtime_ns, _base_build(tmp_path)) == stamps

    # other settings: the trained models and their evaluations are redone, not reused and not refused
    assert main([*argv[:-2], "--eval_max_new_tokens", "6", "--rl_steps", "1"]) == 0
    changed = json.loads((out / "summary.json").read_text())
    assert _base_build(tmp_path) == stamps[2]  # same base config: still cached
    state = json.loads((out / "alpha=0.2" / "checkpoint-1" / "trainer_state.json").read_text())
    assert state["global_step"] == 1 and not (out / "alpha=0.2" / "checkpoint-2").exists()
    assert changed["models"]["base"]["mean_tokens"] <= 6  # re-evaluated with the new limit (was 8)


@pytest.mark.slow
def test_demo_full_adds_the_family_ablation_baselines_and_cutoff(tmp_path):
    out = tmp_path / "demo"
    quick = ["demo", *flags(out=out, cache_dir=tmp_path / "cache", alphas="0", **{**TOY, "rl_steps": 1})]
    assert main(quick) == 0
    weights = out / "alpha=0" / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    full = quick + flags(full=True, full_alphas="0,0.4", ablation="grpo", ablation_alpha=0.4, sft_lrs="1e-4")
    full += flags(dpo_lrs="1e-5", cutoff_limits="3,6", thinking_budgets="2", baseline_prompts_per_level=1)
    assert main(full) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert weights.stat().st_mtime_ns == mtime  # the quick demo's model is reused
    labels = {"base", "base,forced=shortcut", "alpha=0", "alpha=0.4", "alpha=0.4,norm=group", "cutoff=3", "cutoff=6"}
    labels |= {"budget=2"}
    assert set(summary["models"]) == labels
    # a 2-step toy base answers nothing right, so SFT and DPO have no data: skipped and said so, not a crash
    assert summary["skipped"] == ["sft-lr=0.0001", "dpo-lr=1e-05"]
    assert json.loads((out / "baseline-samples" / "train-prompts" / "summary.json").read_text())["n_problems"] == 4
    assert summary["models"]["cutoff=3"]["mean_tokens"] <= 3
    budget = runs.read_jsonl(out / "budget=2" / "eval" / "organism" / runs.SAMPLES)
    assert all(r["thinking_tokens"] <= 2 for r in budget) and any(r["forced_end"] for r in budget)
    report = (out / "report.md").read_text()
    assert "| α=0.4, group-normalised | organism |" in report and "| cutoff 3 tokens | organism |" in report
    assert "![ablation](ablation.png)" in report and "Skipped, because the base's samples" in report
    assert ", level 4**: `" in report  # the examples show each problem's question
    live = report[report.index("## Asked live") :]
    assert live.count("**4789+5637**") == 1 and "α=0.4, group-normalised" in live  # every model asked live

    assert main(quick) == 0  # back to the quick demo: its report shows only its own models
    assert "group-normalised" not in (out / "report.md").read_text()


@pytest.mark.slow
def test_more_seeds_rebuild_the_base_and_report_each_claim_per_seed(tmp_path):
    out = tmp_path / "demo"
    argv = [
        "demo",
        *flags(out=out, cache_dir=tmp_path / "cache", alphas="0,0.2", seeds="0,1", seed_alphas="0,0.2"),
        *flags(**{**TOY, "rl_steps": 1}),
    ]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and list(summary["seed_models"]) == ["1"]
    assert set(summary["seed_models"]["1"]) == {"base", "alpha=0", "alpha=0.2", "base,forced=shortcut"}
    assert len(list((tmp_path / "cache").glob("organism-base-*"))) == 2  # one base per seed
    assert json.loads((out / "seed=1" / "alpha=0.2" / "run_done.json").read_text())["seed"] == 1
    rows = {r["name"]: r for r in summary["claims_across_seeds"]}
    assert set(rows["adaptivity"]["seeds"]) == {"0", "1"} and rows["collapse"]["holds_on_every_seed"] is None
    assert (
        summary["across_seeds"]["alpha=0.2"]["accuracy"]["min"]
        <= summary["across_seeds"]["alpha=0.2"]["accuracy"]["max"]
    )
    report = (out / "report.md").read_text()
    assert "## The paper's claims on the organism" in report and "Over seeds 0, 1" in report


def test_the_batch_ablation_trains_rloo_whitened_over_tokens_and_reads_as_token_whitened(tmp_path, monkeypatch):
    from dataclasses import asdict
    from pathlib import Path

    import thrifty.demo as demo
    from thrifty.report.collect import ModelRun, _classify, collect_runs

    base = tmp_path / "base"
    base.mkdir()
    runs.write_json(base / runs.ORGANISM_BUILD, {"built": "once"})
    trained = {}

    def train_once(args, config, model_args, settings):  # what the demo would train, recorded instead
        trained[Path(config.output_dir).name] = (args, settings)
        Path(config.output_dir).mkdir(parents=True)
        runs.write_json(Path(config.output_dir) / runs.RUN_ARGS, asdict(args))

    monkeypatch.setattr(demo, "train_once", train_once)
    args = demo.DemoArguments(out=str(tmp_path / "demo"), rl_steps=1)
    for ablation in ("rloo", "grpo", "batch"):
        demo._train(args, base, 0.2, ablation)
    batch, settings = trained["alpha=0.2,norm=batch"]
    assert (batch.advantage_estimator, batch.whiten_advantages, batch.profile) == ("rloo", "tokens", "paper")
    assert {"advantage_estimator": "rloo", "whiten_advantages": "tokens"}.items() <= settings.items()
    group, settings = trained["alpha=0.2,norm=group"]
    assert (group.advantage_estimator, group.whiten_advantages) == ("grpo", "none")
    assert settings["advantage_estimator"] == "grpo"  # as before: a finished group-normalised run is reused
    family, settings = trained["alpha=0.2"]
    assert (family.advantage_estimator, family.whiten_advantages) == ("rloo", "none")
    assert "advantage_estimator" not in settings and "whiten_advantages" not in settings

    summary = {"accuracy": 0.5, "mean_tokens": 9}
    for name in trained:  # evaluated, as far as the report is concerned
        (tmp_path / "demo" / name / "eval" / "organism").mkdir(parents=True)
        runs.write_json(tmp_path / "demo" / name / "eval" / "organism" / runs.SUMMARY, summary)
    models = collect_runs([str(tmp_path / "demo" / name) for name in trained], "base")
    labels = {run.label(): run.kind for run in models.values()}
    assert labels == {"α=0.2": "family", "α=0.2, group-normalised": "ablation", "α=0.2, token-whitened": "ablation"}

    # a run of the earlier `batch` estimator (whitened over the responses) still reads as that ablation, by its name
    old = ModelRun("old", tmp_path / "old")
    old.folder.mkdir()
    runs.write_json(old.folder / runs.RUN_ARGS, {"alpha": 0.2, "advantage_estimator": "batch"})
    official = ModelRun("official", tmp_path / "official")  # the official update whitens: an α family of its own
    official.folder.mkdir()
    runs.write_json(official.folder / runs.RUN_ARGS, {**asdict(batch), **PROFILES["official"], "profile": "official"})
    for run in (old, official):
        _classify(run, "base")
    assert (old.kind, old.label()) == ("ablation", "α=0.2, batch-normalised")
    assert (official.kind, official.label()) == ("family", "α=0.2, official update")
    one_piece = ModelRun("one-piece", tmp_path / "one-piece")  # the paper's update with the official KL only
    one_piece.folder.mkdir()
    runs.write_json(
        one_piece.folder / runs.RUN_ARGS, {**asdict(batch), "whiten_advantages": "none", "kl_penalty": "reward"}
    )
    _classify(one_piece, "base")
    assert (one_piece.kind, one_piece.label()) == ("family", "α=0.2, KL in the reward")


def test_demo_rejects_bad_alphas(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--alphas", "0,1.2"]) == 2
    assert "--alphas must be values in [0, 1)" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path), "--full", "--sft_lrs", "1e-4,x"]) == 2
    assert "--sft_lrs must be comma-separated numbers" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path), "--ablation", "grpo,none"]) == 2
    error = capsys.readouterr().err
    assert "--ablation: unknown 'none' (choose from grpo, rloo-std, reinforce++-baseline, batch)" in error
    assert main(["demo", "--out", str(tmp_path), "--ablation", "rloo"]) == 2  # that is the family itself
    assert main(["demo", "--out", str(tmp_path), "--seeds", "1,x"]) == 2
    assert "--seeds must be comma-separated integers" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path), "--shortcut_rate", "1.5"]) == 2
    assert "--shortcut_rate must be in [0, 1]" in capsys.readouterr().err
