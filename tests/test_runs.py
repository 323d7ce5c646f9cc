"""The on-disk contract: torn records, atomic writes, the three reuse rules, run_once across ranks, and resume."""

import json
import os
from pathlib import Path

import pytest

from helpers import torchrun
from thrifty import runs


REPO = Path(__file__).resolve().parents[1]


def test_read_jsonl_survives_a_torn_tail_and_bad_lines(tmp_path, caplog):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n\n{"a": 2}\n{"a": 3, "tor')
    assert runs.read_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert "unreadable line(s) [2]" in caplog.text and "partial record" in caplog.text
    assert path.read_bytes().endswith(b'"tor')  # read only: left as it was
    assert runs.read_jsonl(path, repair=True) == [{"a": 1}, {"a": 2}]
    assert path.read_bytes().endswith(b'{"a": 2}\n')  # repaired: appending can go on
    runs.append_jsonl(path, [{"a": 4}])
    assert [r["a"] for r in runs.read_jsonl(path)] == [1, 2, 4]
    assert runs.read_jsonl(tmp_path / "missing.jsonl") == []


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    runs.write_json(tmp_path / "x.json", {"b": [1]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"b": [1]} and os.listdir(tmp_path) == ["x.json"]


def test_settings_guard_refuses_other_settings_and_never_wipes(tmp_path):
    folder = tmp_path / "gsm8k"
    runs.settings_guard(folder, {"seed": 0, "model": "m"})
    runs.append_jsonl(folder / runs.SAMPLES, [{"id": "1"}])
    runs.settings_guard(folder, {"seed": 0, "model": "m"})  # same settings: resume
    with pytest.raises(ValueError, match="different settings \\(seed: 0 -> 1\\)"):
        runs.settings_guard(folder, {"seed": 1, "model": "m"})
    assert (folder / runs.SAMPLES).is_file()
    (folder / runs.SAMPLES).write_text("")  # no samples yet: the folder takes the new settings
    runs.settings_guard(folder, {"seed": 1, "model": "m"})
    assert json.loads((folder / runs.EVAL_SETTINGS).read_text())["seed"] == 1


def test_reset_unless_same_keeps_its_own_and_wipes_anything_else(tmp_path):
    folder = tmp_path / "owned"
    runs.reset_unless_same(folder, {"model": "a"})
    (folder / "result").write_text("kept")
    runs.reset_unless_same(folder, {"model": "a"})
    assert (folder / "result").read_text() == "kept"
    runs.reset_unless_same(folder, {"model": "b"})
    assert not (folder / "result").exists() and folder.is_dir()


def test_fingerprints_and_the_cache_root(monkeypatch, tmp_path):
    assert runs.fingerprint({"a": 1, "b": 2}) == runs.fingerprint({"b": 2, "a": 1}) != runs.fingerprint({"a": 2})
    monkeypatch.setenv("THRIFTY_CACHE", str(tmp_path))
    assert runs.cache_root() == tmp_path and runs.cache_root("elsewhere") == Path("elsewhere")


def test_run_once_reuses_a_finished_run_and_redoes_another(tmp_path):
    folder, calls = tmp_path / "model", []
    assert runs.run_once(folder, {"lr": 1}, lambda: calls.append(1)) is True
    assert runs.run_once(folder, {"lr": 1}, lambda: calls.append(2)) is False
    assert runs.is_finished(folder, {"lr": 1}) and not runs.is_finished(folder, {"lr": 2})
    (folder / "checkpoint-1").mkdir()
    assert runs.run_once(folder, {"lr": 2}, lambda: calls.append(3)) is True
    assert calls == [1, 3] and not (folder / "checkpoint-1").exists()


def test_run_once_keeps_an_interrupted_run_of_the_same_record_for_its_resume(tmp_path):
    folder = tmp_path / "model"

    def interrupted():
        (folder / "checkpoint-4").mkdir()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.run_once(folder, {"lr": 1}, interrupted)
    seen = []
    assert runs.run_once(folder, {"lr": 1}, lambda: seen.append(runs.last_complete_checkpoint(folder))) is True
    assert (folder / "checkpoint-4").is_dir() and seen == [None]  # kept (no trainer_state: not complete yet)


@pytest.mark.slow
def test_run_once_is_decided_once_for_all_ranks(tmp_path):
    """torchrun, 2 CPU ranks: the main rank alone clears a stale folder; all ranks train, reuse or retrain alike."""
    run = torchrun(REPO / "tests" / "scripts" / "two_rank_run_once.py", tmp_path, timeout=300)
    assert run.returncode == 0, "\n".join(line for line in run.stderr.splitlines() if "[rank" in line)[-6000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    for got in ranks:
        assert [r["trained"] for r in got["results"]] == [True, False, True], ranks  # trained, reused, retrained
        assert got["seen"] == [{"stale_gone": True, "started": True}] * 2
    assert (tmp_path / "model" / runs.RUN_DONE).read_text() == json.dumps({"a": 2}) + "\n"


def test_resume_skips_a_checkpoint_whose_save_was_cut_short(tmp_path, caplog):
    """A run killed while saving leaves a newest checkpoint folder without trainer_state.json (written last):
    ``--resume_from_checkpoint true`` / ``latest`` take the newest complete one instead of failing on it."""
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / runs.TRAINER_STATE).write_text(json.dumps({"global_step": step}))
    (tmp_path / "checkpoint-6").mkdir()
    (tmp_path / "checkpoint-6" / "model.safetensors").write_text("cut short")
    (tmp_path / "checkpoint-10.tmp").mkdir()  # not a checkpoint's name
    for value in ("true", True, "latest"):
        assert runs.resume_path(value, str(tmp_path)) == str(tmp_path / "checkpoint-4")
    assert "skipping incomplete checkpoints (no trainer_state.json) at steps [6]" in caplog.text
    assert runs.resume_path("false", str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match="no such checkpoint directory"):
        runs.resume_path(str(tmp_path / "checkpoint-8"), str(tmp_path))

    metrics = tmp_path / runs.METRICS
    metrics.write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 6)))
    runs.trim_metrics(metrics, runs.resume_path("true", str(tmp_path)))
    assert [r["step"] for r in runs.read_jsonl(metrics)] == [1, 2, 3, 4]
    runs.trim_metrics(metrics, None)  # a fresh start: a new file
    assert not metrics.exists()
    assert runs.resume_path("true", str(tmp_path / "nothing-here")) is None
