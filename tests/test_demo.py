"""`thrifty demo` end to end at toy scale: every stage runs, files appear, a second run reuses everything."""

import json

from thrifty.cli import main


def test_demo_end_to_end_and_resume(tmp_path, capsys):
    argv = ["demo", "--out", str(tmp_path / "demo"), "--cache_dir", str(tmp_path / "cache"), "--alphas", "0,0.2",
            "--sft_steps", "2", "--rl_steps", "2", "--eval_samples", "1", "--eval_max_new_tokens", "8"]
    assert main(argv) == 0
    out = tmp_path / "demo"
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["base", "alpha=0", "alpha=0.2"]
    for entry in summary["models"].values():
        assert {"accuracy", "mean_tokens", "oracle_ratio", "per_level"} <= set(entry)
        assert set(entry["per_level"]) == {"1", "2", "3", "4"} and "oracle_ratio" in entry["per_level"]["4"]
    assert summary["wall_seconds"] > 0
    for png in ("accuracy_vs_tokens.png", "training.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "| alpha=0.2 |" in report and "![Training dynamics](training.png)" in report
    assert "alpha=0.2" in capsys.readouterr().out

    assert main(argv) == 0  # everything cached: no stage is redone
    again = json.loads((out / "summary.json").read_text())
    assert again["models"] == summary["models"]
    assert again["stage_seconds"]["train alpha=0.2"] < 1

    # other settings: the trained models and their evaluations are redone, not reused and not refused
    assert main([*argv[:-2], "--eval_max_new_tokens", "6", "--rl_steps", "1"]) == 0
    changed = json.loads((out / "summary.json").read_text())
    assert changed["stage_seconds"]["build base organism"] < 1  # same base config: still cached
    state = json.loads((out / "alpha=0.2" / "checkpoint-1" / "trainer_state.json").read_text())
    assert state["global_step"] == 1 and not (out / "alpha=0.2" / "checkpoint-2").exists()
    assert changed["models"]["base"]["mean_tokens"] <= 6  # re-evaluated with the new limit (was 8)


def test_demo_rejects_bad_alphas(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--alphas", "0,1.2"]) == 2
    assert "--alphas must be values in [0, 1)" in capsys.readouterr().err
