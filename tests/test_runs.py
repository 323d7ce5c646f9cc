"""The on-disk contract: torn records, atomic writes, the three reuse rules, locks, run_once across ranks, resume."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import hold_lock, torchrun
from thrifty import runs


REPO = Path(__file__).resolve().parents[1]


def test_read_jsonl_survives_a_torn_tail_and_bad_lines(tmp_path, caplog):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n\n{"a": 2}\n{"a": 3, "tor')
    assert runs.read_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert f"{path}: skipping 1 unreadable line(s): 2" in caplog.text and "partial record" in caplog.text
    assert path.read_bytes().endswith(b'"tor')  # read only: left as it was
    assert runs.read_jsonl(path, repair=True) == [{"a": 1}, {"a": 2}]
    assert path.read_bytes().endswith(b'{"a": 2}\n')  # repaired: appending can go on
    runs.append_jsonl(path, [{"a": 4}])
    assert [r["a"] for r in runs.read_jsonl(path)] == [1, 2, 4]
    assert runs.read_jsonl(tmp_path / "missing.jsonl") == []


def test_read_jsonl_skips_binary_junk_and_records_of_the_wrong_shape(tmp_path, caplog):
    """A crash can leave NULs or any bytes mid-file (json.loads of bytes raises UnicodeDecodeError there, not
    JSONDecodeError); JSON that is not an object, or lacks what the reader needs, is skipped too."""
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"id": "a"}\n\x80\x00\xff\n\x00\x00\x00\x00\n[1, 2]\n{"foo": 1}\n"text"\n{"id": "b"}\n')
    assert runs.read_jsonl(path, required=("id",)) == [{"id": "a"}, {"id": "b"}]
    assert "skipping 5 unreadable line(s): 2, 3, 4, 5, 6" in caplog.text
    assert len(runs.read_jsonl(path)) == 3  # without `required`, any object is a record


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", "\x80\x81", ""])
def test_a_damaged_json_file_is_named(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=f"{path}.*damaged"):
        runs.read_json_object(path)
    assert runs.read_json_object(tmp_path / "missing.json") is None


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    runs.write_json(tmp_path / "x.json", {"b": [1]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"b": [1]} and os.listdir(tmp_path) == ["x.json"]


def _sample(mark: str | None) -> dict:
    """A sample record, fingerprinted ``mark`` (None: as an older thrifty wrote them)."""
    record = {"id": "1", "sample": 0, "response": "2", "tokens": 1, "finished": True}
    return record if mark is None else {**record, runs.SETTINGS_KEY: mark}


def test_settings_guard_refuses_other_settings_and_never_wipes(tmp_path):
    folder = tmp_path / "gsm8k"
    mine = runs.settings_guard(folder, {"seed": 0, "model": "m"})
    runs.append_jsonl(folder / runs.SAMPLES, [_sample(mine)])
    assert runs.settings_guard(folder, {"seed": 0, "model": "m"}) == mine  # same settings: resume
    with pytest.raises(ValueError, match="different settings \\(seed: 0 -> 1\\)"):
        runs.settings_guard(folder, {"seed": 1, "model": "m"})
    assert (folder / runs.SAMPLES).is_file()
    (folder / runs.SAMPLES).write_text("")  # no samples yet: the folder takes the new settings
    runs.settings_guard(folder, {"seed": 1, "model": "m"})
    assert json.loads((folder / runs.EVAL_SETTINGS).read_text())["seed"] == 1


def test_samples_are_never_adopted_by_other_settings_even_without_config_json(tmp_path, caplog):
    """Every sample carries its settings' fingerprint: deleting or damaging config.json cannot make another model
    adopt them; the samples' own fingerprints rewrite a damaged config.json when they are this run's."""
    folder = tmp_path / "gsm8k"
    old, new = {"seed": 0, "model": "a"}, {"seed": 0, "model": "b"}
    mark = runs.settings_guard(folder, old)
    runs.append_jsonl(folder / runs.SAMPLES, [_sample(mark)])
    (folder / runs.EVAL_SETTINGS).unlink()
    with pytest.raises(ValueError, match="1 of 1 samples carry another settings fingerprint"):
        runs.settings_guard(folder, new)
    (folder / runs.EVAL_SETTINGS).write_bytes(b"\x80garbage")
    with pytest.raises(ValueError, match="another settings fingerprint"):
        runs.settings_guard(folder, new)
    assert runs.settings_guard(folder, old) == mark  # its own samples vouch for it: config.json rewritten
    assert json.loads((folder / runs.EVAL_SETTINGS).read_text()) == old
    assert f"{folder / runs.EVAL_SETTINGS} is not valid JSON" in caplog.text

    legacy = tmp_path / "legacy"  # samples of an older thrifty carry no fingerprint: config.json must vouch
    runs.settings_guard(legacy, old)
    runs.append_jsonl(legacy / runs.SAMPLES, [_sample(None)])
    runs.settings_guard(legacy, {**old, "batch_size": 16})  # a setting recorded since: not a difference
    (legacy / runs.EVAL_SETTINGS).unlink()
    with pytest.raises(ValueError, match="config.json is missing or damaged, so nothing says what made its 1 samples"):
        runs.settings_guard(legacy, old)


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
    (tmp_path / "checkpoint-8").mkdir()  # transformers writes trainer_state.json in place: a kill can tear it
    (tmp_path / "checkpoint-8" / runs.TRAINER_STATE).write_text('{"global_step": 8, "log_history": [{"lo')
    (tmp_path / "checkpoint-10.tmp").mkdir()  # not a checkpoint's name
    for value in ("true", True, "latest"):
        assert runs.resume_path(value, str(tmp_path)) == str(tmp_path / "checkpoint-4")
    assert "skipping incomplete checkpoint(s) (trainer_state.json missing or damaged)" in caplog.text
    assert "checkpoint-6" in caplog.text and "checkpoint-8" in caplog.text
    with pytest.raises(ValueError, match="checkpoint-8: its trainer_state.json is missing or damaged"):
        runs.resume_path(str(tmp_path / "checkpoint-8"), str(tmp_path))
    assert runs.resume_path("false", str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match="no such checkpoint directory"):
        runs.resume_path(str(tmp_path / "checkpoint-9"), str(tmp_path))

    metrics = tmp_path / runs.METRICS
    metrics.write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 6)))
    with metrics.open("ab") as handle:  # a crash between append and flush: junk, then a torn record
        handle.write(b"\x00\x00\x00\x00\n" + b'{"step": 6, "lo')
    runs.trim_metrics(metrics, runs.resume_path("true", str(tmp_path)))
    assert [r["step"] for r in runs.read_jsonl(metrics)] == [1, 2, 3, 4]
    runs.trim_metrics(metrics, None)  # a fresh start: a new file
    assert not metrics.exists()
    assert runs.resume_path("true", str(tmp_path / "nothing-here")) is None


# --------------------------------------------------------------------------------------------- locks
def test_a_second_process_is_refused_and_a_killed_holder_leaves_no_stale_lock(tmp_path, caplog):
    folder = tmp_path / "run"
    holder = hold_lock(folder)
    try:
        with (
            pytest.raises(RuntimeError, match=f"{folder} is in use by pid {holder.pid} on .* \\(thrifty "),
            runs.folder_lock(folder),
        ):
            pass
        with pytest.raises(RuntimeError, match="in use by"):  # nor can it wipe a folder that holds a held lock
            runs.reset_unless_same(tmp_path, {"other": 1})
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (folder / runs.LOCK).exists()  # left behind by the kill...
    with caplog.at_level("INFO"), runs.folder_lock(folder):  # ...and recovered at once
        with runs.folder_lock(folder):  # re-entrant within a process
            pass
        assert (folder / runs.LOCK).exists()
    assert f'recovered a lock left by a process that is gone ({{"pid": {holder.pid}' in caplog.text
    assert not (folder / runs.LOCK).exists()  # released: nothing left in the user's folder


def test_resetting_a_folder_keeps_the_lock_its_own_process_holds(tmp_path):
    folder = tmp_path / "owned"
    with runs.folder_lock(folder):
        runs.reset_unless_same(folder, {"model": "a"})
        (folder / "result").write_text("stale")
        runs.reset_unless_same(folder, {"model": "b"})
        assert sorted(p.name for p in folder.iterdir()) == [runs.LOCK, runs.RUN_STARTED]


def test_two_writers_of_one_file_never_share_a_temporary_file(tmp_path):
    path = tmp_path / "summary.json"
    code = "import sys; from thrifty import runs\nfor i in range(200): runs.write_json(sys.argv[1], {'i': i})"
    writers = [subprocess.Popen([sys.executable, "-c", code, str(path), str(w)]) for w in range(2)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert json.loads(path.read_text())["i"] == 199 and os.listdir(tmp_path) == ["summary.json"]


def test_atomic_writes_keep_the_permissions_any_file_would_have(tmp_path):
    """mkstemp makes 0600 files: results must stay readable by the colleagues who could read any other file."""
    umask = os.umask(0o022)
    try:
        runs.write_json(tmp_path / "new.json", {"a": 1})
        assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644
        (tmp_path / "new.json").chmod(0o640)
        runs.write_json(tmp_path / "new.json", {"a": 2})  # a rewrite keeps the file's own mode
        assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


def test_a_lock_holder_removes_temporary_files_a_killed_writer_left(tmp_path):
    (tmp_path / "run").mkdir()
    stale = tmp_path / "run" / ".samples.jsonl.abc123.tmp"
    stale.write_text("half")
    with runs.folder_lock(tmp_path / "run"):
        assert not stale.exists()


def test_a_file_system_without_flock_runs_unlocked_with_a_warning(tmp_path, monkeypatch, caplog):
    import errno
    import fcntl

    def refuse(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    with runs.folder_lock(tmp_path / "run"):
        pass
    assert "the file system cannot lock" in caplog.text


@pytest.mark.parametrize("variable", runs.RANK_VARIABLES)
def test_only_rank_zero_locks(tmp_path, monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    holder = hold_lock(tmp_path / "run")
    try:
        with runs.folder_lock(tmp_path / "run"):  # another rank of the holder's launch: not refused
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_waiting_for_a_shared_folder_instead_of_refusing(tmp_path, caplog):
    """A cache entry two runs need at once: the second waits for the first, then goes on."""
    import threading

    holder = hold_lock(tmp_path / "cache")
    threading.Timer(1.0, holder.send_signal, (signal.SIGKILL,)).start()
    with caplog.at_level("INFO"), runs.folder_lock(tmp_path / "cache", wait=True):
        assert holder.wait(timeout=30) is not None
    assert f"in use by pid {holder.pid}" in caplog.text and "waiting for it" in caplog.text


FORK_AND_DIE = """
import os, sys, time
from thrifty import runs
with runs.folder_lock(sys.argv[1]):
    if os.fork() == 0:  # a child (e.g. an engine's worker) outlives its parent
        print(os.getpid(), flush=True)
        time.sleep(60)
        os._exit(0)
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_forked_child_does_not_keep_its_dead_parents_lock(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", FORK_AND_DIE, str(tmp_path / "run")], stdout=subprocess.PIPE)
    lines = {parent.stdout.readline().strip() for _ in range(2)}  # both past the fork
    child = int(next(line for line in lines if line != b"held"))
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        with runs.folder_lock(tmp_path / "run"):  # the child still runs, but does not hold the folder
            pass
    finally:
        os.kill(child, signal.SIGKILL)
