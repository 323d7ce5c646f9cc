"""The on-disk contract: what thrifty writes where, and when a folder may be reused, resumed or reset.

Every file name thrifty reads or writes is a constant here:

* an evaluation, ``OUT/<benchmark>/``: :data:`SAMPLES` (one record per response, appended chunk by chunk),
  :data:`SUMMARY` (the metrics), :data:`EVAL_SETTINGS` (what determines the samples);
* a training run, ``OUTPUT_DIR/``: :data:`RUN_ARGS` (thrifty's arguments), :data:`METRICS` (one record per log
  step), ``checkpoint-N/`` (transformers' :data:`TRAINER_STATE` written last, and :data:`REWARD_STATE`),
  :data:`RUN_STARTED` / :data:`RUN_DONE` (the record a run was started / finished with, see :func:`run_once`);
* a baseline: :data:`BASELINE` beside its model, its sampled set in ``<samples_dir>/``:data:`SAMPLED_SET`;
  the organism's base model: :data:`ORGANISM_BUILD`;
* the cache (built organisms, dequantised GGUF models): :func:`cache_root`.

Three ways a folder is reused, one per kind of owner:

* :func:`run_once` -- a model thrifty trains: reused when finished with the same record, resumed when interrupted
  with it, wiped and redone otherwise;
* :func:`settings_guard` -- an evaluation folder the user named: resumed with the same settings, *refused* (never
  wiped) with others;
* :func:`reset_unless_same` -- a folder thrifty owns outright (the demo's): kept with the same record, else wiped.

Imports nothing of thrifty; writes are atomic or append-only, and readers survive a record torn by a kill.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path


logger = logging.getLogger(__name__)

SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
EVAL_SETTINGS = "config.json"
METRICS = "metrics.jsonl"
RUN_ARGS = "thrifty_args.json"
RUN_STARTED = "run_started.json"
RUN_DONE = "run_done.json"
TRAINER_STATE = "trainer_state.json"
REWARD_STATE = "reward_state.json"
BASELINE = "baseline.json"
SAMPLED_SET = "train-prompts"
ORGANISM_BUILD = "organism.json"


# --------------------------------------------------------------------------------------------- records
def record_text(record) -> str:
    """The canonical text of a JSON record (sorted keys, one line): equal records give equal text."""
    return json.dumps(record, sort_keys=True) + "\n"


def fingerprint(record, length: int = 12) -> str:
    """A short hex digest of a JSON record, for folder names.

    Example:
        >>> fingerprint({"b": 1, "a": [2]}) == fingerprint({"a": [2], "b": 1})
        True
    """
    return hashlib.sha256(record_text(record).encode()).hexdigest()[:length]


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where thrifty caches what it builds: ``cache_dir``, else ``$THRIFTY_CACHE``, else ``~/.cache/thrifty``."""
    return Path(cache_dir or os.environ.get("THRIFTY_CACHE") or Path.home() / ".cache" / "thrifty").expanduser()


# --------------------------------------------------------------------------------------------- files
def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` through a flushed temporary file and a rename: a kill leaves the old file or the new one."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    """``data`` as indented JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def append_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Append records in one write, flushed to disk, so a kill leaves whole chunks or a torn last line."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path, repair: bool = False) -> list[dict]:
    """Records of a JSONL file (none if it does not exist).

    A torn last line (a kill mid-write) is left out, and with ``repair`` cut off the file so that appending can
    go on; an unreadable line elsewhere is skipped with a warning and left in place.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or a torn record
    records, bad = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            bad.append(number)
    if bad:
        logger.warning("skipping unreadable line(s) %s of %s", bad[:10], path)
    if tail:
        logger.warning("discarding a partial record at the end of %s (interrupted run)", path)
        if repair:
            with open(path, "r+b") as handle:
                handle.truncate(len(data) - len(tail))
    return records


# --------------------------------------------------------------------------------------------- reuse
def changed_settings(folder: Path, settings: dict) -> dict:
    """``{key: (recorded, given)}`` for each of ``settings`` that differs from what ``folder`` recorded in
    :data:`EVAL_SETTINGS` (every key, when nothing is recorded)."""
    path = Path(folder) / EVAL_SETTINGS
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    return {k: (recorded.get(k), v) for k, v in settings.items() if recorded.get(k) != v}


def settings_guard(folder: Path, settings: dict) -> None:
    """Let an evaluation resume in ``folder`` only with the settings its samples were made with.

    A folder without samples takes ``settings`` (written to :data:`EVAL_SETTINGS`); one whose samples came from
    other settings is refused with the differences named -- never wiped: the folder is the user's.
    """
    folder = Path(folder)
    path, samples = folder / EVAL_SETTINGS, folder / SAMPLES
    if path.exists() and samples.exists() and samples.stat().st_size > 0:
        changed = changed_settings(folder, settings)
        if changed:
            details = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            raise ValueError(
                f"{folder} holds samples from different settings ({details}). "
                "Use another --out, or delete that folder to start over."
            )
    else:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(settings, indent=2))


def reset_unless_same(folder: Path, record) -> None:
    """Keep ``folder`` if it was started with ``record`` (:data:`RUN_STARTED`), else delete it; then start it with
    ``record``. For folders thrifty owns outright: whatever another record left there is stale."""
    folder, text = Path(folder), record_text(record)
    started = folder / RUN_STARTED
    if folder.exists() and not (started.is_file() and started.read_text() == text):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started.write_text(text)


def is_finished(folder: Path, record) -> bool:
    """Whether ``folder`` holds a run that finished with exactly ``record`` (:data:`RUN_DONE`)."""
    done = Path(folder) / RUN_DONE
    return done.is_file() and done.read_text() == record_text(record)


def run_once(folder: Path, record, run: Callable[[], object]) -> bool:
    """Call ``run()`` to make ``folder`` unless a finished run with the same ``record`` is there (then return False).

    A folder left by a run with another record is deleted first, so no stale checkpoint, metric or evaluation
    survives; one interrupted with the same record is kept, for ``run`` to resume (a trainer: from its last
    checkpoint). ``record`` is any JSON describing what determines the result. Under ``accelerate launch`` only the
    main process touches the folder, and every process waits for it, so all of them take the same decision.
    """
    from accelerate import PartialState

    state = PartialState()
    if state.is_main_process and not is_finished(folder, record):
        reset_unless_same(folder, record)
    state.wait_for_everyone()
    reuse = is_finished(folder, record)
    state.wait_for_everyone()  # every rank has read the verdict before the main one can touch the folder again
    if reuse:
        logger.info("%s: already made with these settings, reusing it", folder)
        return False
    run()
    state.wait_for_everyone()
    if state.is_main_process:
        (Path(folder) / RUN_DONE).write_text(record_text(record))
    return True


# --------------------------------------------------------------------------------------------- resume
def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest ``checkpoint-N`` in ``output_dir`` that holds its :data:`TRAINER_STATE`, or None.

    The Trainer writes that file last, so a run killed while saving leaves a newer folder without it; resuming
    from that one (as transformers' ``get_last_checkpoint`` would) fails, so it is skipped.
    """
    paths = Path(output_dir).glob("checkpoint-*")
    steps = {path: path.name.removeprefix("checkpoint-") for path in paths if path.is_dir()}
    found = {int(step): path for path, step in steps.items() if step.isdigit()}
    complete = [step for step, path in found.items() if (path / TRAINER_STATE).is_file()]
    if not complete:
        return None
    last = max(complete)
    if skipped := sorted(step for step in found if step > last):
        logger.warning("skipping incomplete checkpoints (no %s) at steps %s", TRAINER_STATE, skipped)
    return str(found[last])


def resume_path(value, output_dir: str | os.PathLike) -> str | None:
    """The checkpoint that ``--resume_from_checkpoint value`` names: none (false), the newest complete one (true,
    or ``"latest"``: resume if there is anything to resume), or the given folder."""
    if value in (None, False, "", "false", "False"):
        return None
    if value in (True, "true", "True", "latest"):
        last = last_complete_checkpoint(output_dir)
        if last is None:  # "latest" is run_once's "resume if there is anything to resume": a fresh start is normal
            (logger.info if value == "latest" else logger.warning)(
                "no checkpoint in %s; starting from scratch", output_dir
            )
        return last
    if not os.path.isdir(value):
        raise FileNotFoundError(f"--resume_from_checkpoint: no such checkpoint directory: {value}")
    return value


def trim_metrics(path: Path, resume: str | None) -> None:
    """A fresh run starts a new :data:`METRICS`; a resumed one keeps only the records up to its checkpoint's step."""
    path = Path(path)
    if not path.exists():
        return
    if resume is None:
        path.unlink()
        return
    step = json.loads((Path(resume) / TRAINER_STATE).read_text())["global_step"]
    kept = [record for record in read_jsonl(path) if record.get("step", 0) <= step]
    path.write_text("".join(json.dumps(record) + "\n" for record in kept))
