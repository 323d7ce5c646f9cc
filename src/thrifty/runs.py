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

One process at a time: every run folder is held with :func:`folder_lock` while it is written; a second process
is refused with the holder named, and a lock left by a killed process is recovered automatically. Every sample
record carries the :func:`fingerprint` of the settings that made it (:data:`SETTINGS_KEY`), so samples of other
settings are never adopted, even with :data:`EVAL_SETTINGS` gone.

Imports nothing of thrifty; writes are atomic or append-only, and readers survive a record torn by a kill or a
line of junk (skipped with a warning naming the file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path


logger = logging.getLogger(__name__)

SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
EVAL_SETTINGS = "config.json"
METRICS = "metrics.jsonl"
RUN_ARGS = "thrifty_args.json"
TRAIN_CONFIG = "train_config.json"
"""A training run's TRL config (every ``TrainConfig`` field, and the model it started from), read by reports."""
RUN_STARTED = "run_started.json"
RUN_DONE = "run_done.json"
TRAINER_STATE = "trainer_state.json"
REWARD_STATE = "reward_state.json"
BASELINE = "baseline.json"
SAMPLED_SET = "train-prompts"
ORGANISM_BUILD = "organism.json"
LOCK = ".thrifty.lock"
TMP_SUFFIX = ".tmp"
"""Suffix of :func:`write_atomic`'s temporary files (``.<name>.<random>.tmp``); a lock holder removes stale ones."""
SETTINGS_KEY = "settings"
"""Key of a sample record that holds the fingerprint of the settings that made it."""


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
    """Write ``text`` through a flushed temporary file of its own and a rename: a kill leaves the old file or the
    new one, and two writers never share a temporary file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        os.fchmod(fd, _mode_for(path))  # mkstemp makes 0600 files: keep results as readable as any other file
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def _mode_for(path: Path) -> int:
    """The permissions a rewrite of ``path`` keeps: the file's own, else what ``open`` would give a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, data) -> None:
    """``data`` as indented JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2) + "\n")


def jsonl_text(records: Iterable[dict]) -> str:
    """Records as JSON lines, the way every JSONL file of thrifty's is written."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def append_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Append records in one write, flushed to disk, so a kill leaves whole chunks or a torn last line."""
    data = jsonl_text(records).encode("utf-8")
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path, repair: bool = False, required: Iterable[str] = ()) -> list[dict]:
    """Records of a JSONL file (none if it does not exist).

    A torn last line (a kill mid-write) is left out. Any other line that is not a JSON object holding the
    ``required`` keys -- invalid JSON, undecodable bytes (a crash can leave a run of NULs), ``[1, 2]``,
    ``{"foo": 1}`` -- is skipped with one warning naming the file and the lines. With ``repair`` (for the file's
    one writer) the file is then rewritten without them, so that appending can go on; otherwise it is left as it
    is.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or a torn record
    required = tuple(required)
    records, bad = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            record = None
        if isinstance(record, dict) and all(key in record for key in required):
            records.append(record)
        else:
            bad.append(number)
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        logger.warning("%s: skipping %d unreadable line(s): %s", path, len(bad), shown)
    if tail:
        logger.warning("discarding a partial record at the end of %s (interrupted run)", path)
    if repair and bad:
        write_atomic(path, jsonl_text(records))
    elif repair and tail:
        with open(path, "r+b") as handle:
            handle.truncate(len(data) - len(tail))
    return records


def read_json_object(path: Path) -> dict | None:
    """The JSON object in ``path``: None if the file is missing; a ``ValueError`` naming the file if it is not a
    JSON object (torn, junk, or ``[1, 2]``)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it is damaged") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds {type(data).__name__}, not a JSON object; it is damaged")
    return data


# --------------------------------------------------------------------------------------------- locks
_held: dict[Path, tuple[int, int]] = {}  # lock file -> (file descriptor, depth): re-entrant within a process


RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")
"""Where launchers put a process's global rank: torchrun/accelerate, then the MPI flavours accelerate reads."""


def _is_main_rank() -> bool:
    """Under ``accelerate launch``/``torchrun``/``mpirun`` only global rank 0 writes run folders, so only it locks."""
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


def _describe_holder(lock: Path) -> str:
    try:
        holder = json.loads(lock.read_text())
        return f"pid {holder['pid']} on {holder['host']} since {holder['since']} ({holder['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def folder_lock(folder: Path, wait: bool = False) -> Iterator[None]:
    """Hold ``folder`` for this process while the block runs: a second process is refused at once with a
    ``RuntimeError`` naming the holder, or with ``wait`` (folders several runs share, such as a cache entry)
    waits for it.

    The lock is an ``flock`` on ``folder/.thrifty.lock``, which the kernel releases when its holder dies, so a
    killed run leaves no stale lock behind. Re-entrant within a process (a training run inside a sweep, an
    evaluation inside a demo); a forked child does not keep it. Only rank 0 of a distributed launch locks. Where
    ``flock`` does not exist (Windows) or the file system refuses it (some network and FUSE file systems; it may
    also not be shared between machines there), folders are not locked, with a warning.
    """
    folder = Path(folder)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    if fcntl is None or not _is_main_rank():
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = (folder / LOCK).resolve()
    if lock in _held:
        fd, depth = _held[lock]
        _held[lock] = (fd, depth + 1)
        try:
            yield
        finally:
            fd, depth = _held[lock]
            _held[lock] = (fd, depth - 1)
        return
    fd = _acquire(lock, fcntl, wait)
    if fd is None:  # the file system cannot lock
        yield
        return
    _held[lock] = (fd, 1)
    _remove_stale_temporaries(folder)
    try:
        yield
    finally:
        del _held[lock]
        with contextlib.suppress(OSError):
            os.unlink(lock)  # before unlocking: a newcomer then makes a fresh file (see _acquire)
        os.close(fd)


def _forget_locks_in_child() -> None:
    """A forked child shares its parent's lock; it must not hold the folder after the parent is gone."""
    for fd, _ in _held.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)


def _acquire(lock: Path, fcntl, wait: bool) -> int | None:
    """Open and ``flock`` ``lock`` (None if the file system cannot lock); retried if the file was replaced
    meanwhile (a holder unlinks it on release, so a lock on an unlinked file means nothing)."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                os.close(fd)
                raise RuntimeError(
                    f"{lock.parent} is in use by {_describe_holder(lock)}; wait for it to finish, or use another "
                    "output folder"
                ) from None
            logger.info("%s is in use by %s; waiting for it", lock.parent, _describe_holder(lock))
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as error:  # ENOLCK, EOPNOTSUPP, ENOSYS: a file system without flock
            os.close(fd)
            logger.warning("%s: the file system cannot lock (%s); running without a lock", lock.parent, error)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        _sign(fd, lock)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_stale_temporaries(folder: Path) -> None:
    """:func:`write_atomic`'s temporary files left in ``folder`` by a killed writer (only a lock holder writes
    there, so any that exist are stale)."""
    for stale in folder.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()


_SECRET_FLAG = re.compile(r"token|secret|password|api_?key", re.IGNORECASE)


def redact_secrets(argv: list[str]) -> list[str]:
    """``argv`` with ``***`` for the value of every flag whose name contains ``token`` (or ``secret``,
    ``password``, ``api_key``), as ``--flag value`` or ``--flag=value``: what a lock file or a message may show.

    Example:
        >>> redact_secrets(["train", "--hub_token", "hf_x", "--HUB-TOKEN=hf_y", "--report_to=none", "--seed", "1"])
        ['train', '--hub_token', '***', '--HUB-TOKEN=***', '--report_to=none', '--seed', '1']
    """
    shown, hide_next = [], False
    for arg in argv:
        if hide_next and not arg.startswith("--"):
            shown.append("***")
            hide_next = False
            continue
        name, equals, _ = arg.partition("=")
        secret = arg.startswith("-") and _SECRET_FLAG.search(name) is not None
        shown.append(f"{name}=***" if secret and equals else arg)
        hide_next = secret and not equals
    return shown


def _sign(fd: int, lock: Path) -> None:
    """Write who holds the lock into it, for the message another process gets (best effort: a full disk must not
    stop a run that could otherwise resume); say so if a gone process had held it."""
    stale = os.read(fd, 4096)
    if stale.strip():
        gone = stale[:200].decode("utf-8", "replace").strip()
        logger.info("%s: recovered a lock left by a process that is gone (%s)", lock.parent, gone)
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(["thrifty", *redact_secrets(sys.argv[1:])])[:300],
    }
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
    except OSError as error:
        logger.debug("could not write the holder into %s: %s", lock, error)


def _refuse_if_held_inside(folder: Path) -> None:
    """Refuse to delete ``folder`` while another process holds a lock in it (or below it)."""
    for lock in Path(folder).rglob(LOCK):
        if lock.resolve() in _held:
            continue
        with folder_lock(lock.parent):
            pass


def clear_folder(folder: Path) -> None:
    """Delete everything in ``folder`` but its lock (a held lock file must outlive the reset: see :func:`_acquire`),
    refusing while another process works anywhere inside it."""
    folder = Path(folder)
    if not folder.exists():
        return
    _refuse_if_held_inside(folder)
    for child in folder.iterdir():
        if child.name == LOCK:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


# --------------------------------------------------------------------------------------------- reuse
SAMPLE_FIELDS = {"id": str, "sample": int, "response": str, "tokens": int, "finished": bool}
"""What every record of :data:`SAMPLES` holds, and of which type (scoring adds ``correct``, ``extracted``...)."""


def is_sample_record(record) -> bool:
    """A well-formed sample record: junk that happens to be a JSON object is not one."""
    return (
        isinstance(record, dict)
        and all(type(record.get(key)) is kind for key, kind in SAMPLE_FIELDS.items())
        and record["sample"] >= 0
    )


def changed_settings(recorded: dict, settings: dict) -> dict:
    """``{key: (recorded, given)}`` for each of ``settings`` that differs from ``recorded``. A key ``recorded``
    lacks is not a difference: folders written before thrifty recorded it stay resumable."""
    return {k: (recorded.get(k), v) for k, v in settings.items() if k in recorded and recorded[k] != v}


CHANGE_NAMES = {"problems_sha256": "the problems changed: an edited file, or another revision of the dataset"}
"""How a change of a setting that is a digest reads in a refusal."""


def settings_guard(folder: Path, settings: dict, extra: Iterable[Path] = ()) -> str:
    """Let an evaluation resume in ``folder`` only with the settings its samples were made with; returns their
    :func:`fingerprint`, which every new sample record carries under :data:`SETTINGS_KEY`.

    A folder without samples takes ``settings`` (written to :data:`EVAL_SETTINGS`). One whose samples came from
    other settings is refused with the differences named -- never wiped: the folder is the user's. The samples'
    own fingerprints decide even when :data:`EVAL_SETTINGS` is missing or damaged (then it is rewritten);
    samples that carry none (written by an older thrifty) are trusted only beside a readable, matching file.
    ``extra`` names other files of sample records in the folder that count too (a killed sharded evaluation's
    part files, whose samples are not merged into :data:`SAMPLES` yet).
    """
    folder = Path(folder)
    path, samples = folder / EVAL_SETTINGS, folder / SAMPLES
    mine = fingerprint(settings)
    try:
        recorded = read_json_object(path)
    except ValueError as error:
        logger.warning("%s; the samples' own fingerprints decide", error)
        recorded = None
    records = [record for file in (samples, *extra) for record in read_jsonl(file)]
    prints = [record.get(SETTINGS_KEY) for record in records if is_sample_record(record)]
    if prints:
        foreign = sum(1 for p in prints if p is not None and p != mine)
        unmarked = sum(1 for p in prints if p is None)
        changed = changed_settings(recorded, settings) if recorded is not None else {}
        if foreign or changed or (unmarked and recorded is None):
            details = "; ".join(CHANGE_NAMES.get(k) or f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            why = (
                details
                or (f"{foreign} of {len(prints)} samples carry another settings fingerprint" if foreign else "")
                or f"{path.name} is missing or damaged, so nothing says what made its {unmarked} samples"
            )
            raise ValueError(
                f"{folder} holds samples from different settings ({why}). "
                "Use another --out, or delete that folder to start over."
            )
        if recorded == settings:
            return mine
        if recorded is None:
            logger.warning("%s: rewriting %s from the samples' settings fingerprint", folder, path.name)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(path, settings)
    return mine


def reset_unless_same(folder: Path, record) -> None:
    """Keep ``folder`` if it was started with ``record`` (:data:`RUN_STARTED`), else empty it; then start it with
    ``record``. For folders thrifty owns outright: whatever another record left there is stale."""
    folder, text = Path(folder), record_text(record)
    started = folder / RUN_STARTED
    if folder.exists() and not (started.is_file() and started.read_text(errors="replace") == text):
        clear_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(started, text)


def is_finished(folder: Path, record) -> bool:
    """Whether ``folder`` holds a run that finished with exactly ``record`` (:data:`RUN_DONE`)."""
    done = Path(folder) / RUN_DONE
    return done.is_file() and done.read_text(errors="replace") == record_text(record)


def run_once(folder: Path, record, run: Callable[[], object], wait: bool = False) -> bool:
    """Call ``run()`` to make ``folder`` unless a finished run with the same ``record`` is there (then return False).

    A folder left by a run with another record is deleted first, so no stale checkpoint, metric or evaluation
    survives; one interrupted with the same record is kept, for ``run`` to resume (a trainer: from its last
    checkpoint). ``record`` is any JSON describing what determines the result. Under ``accelerate launch`` only the
    main process touches the folder, and every process waits for it, so all of them take the same decision. The
    folder is locked while it is decided and made; ``wait`` waits for another process holding it (a shared cache
    entry: the second run then reuses what the first made) instead of refusing.
    """
    from accelerate import PartialState

    state = PartialState()
    with folder_lock(folder, wait) if state.is_main_process else contextlib.nullcontext():
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
            write_atomic(Path(folder) / RUN_DONE, record_text(record))
    return True


# --------------------------------------------------------------------------------------------- resume
def checkpoint_step(checkpoint: str | os.PathLike) -> int | None:
    """The ``global_step`` in a checkpoint's :data:`TRAINER_STATE`, or None if that file is missing or damaged."""
    try:
        state = read_json_object(Path(checkpoint) / TRAINER_STATE)
    except ValueError:
        return None
    step = state.get("global_step") if state else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest ``checkpoint-N`` in ``output_dir`` whose :data:`TRAINER_STATE` reads, or None.

    The Trainer writes that file last, and not atomically, so a run killed while saving leaves a newer folder
    without it or with a torn one; resuming from that one (as transformers' ``get_last_checkpoint`` would) fails,
    so it is skipped, and named.
    """
    paths = Path(output_dir).glob("checkpoint-*")
    steps = {path: path.name.removeprefix("checkpoint-") for path in paths if path.is_dir()}
    found = {int(step): path for path, step in steps.items() if step.isdigit()}
    complete = [step for step, path in found.items() if checkpoint_step(path) is not None]
    last = max(complete, default=None)
    if skipped := sorted(str(found[step]) for step in found if last is None or step > last):
        logger.warning("skipping incomplete checkpoint(s) (%s missing or damaged): %s", TRAINER_STATE, skipped)
    return None if last is None else str(found[last])


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
    if checkpoint_step(value) is None:
        raise ValueError(
            f"--resume_from_checkpoint {value}: its {TRAINER_STATE} is missing or damaged (a save cut short); "
            "name an earlier checkpoint, or pass true to take the newest complete one"
        )
    return value


def trim_metrics(path: Path, resume: str | None) -> None:
    """A fresh run starts a new :data:`METRICS`; a resumed one keeps only the records up to its checkpoint's step."""
    path = Path(path)
    if not path.exists():
        return
    if resume is None:
        path.unlink(missing_ok=True)
        return
    step = checkpoint_step(resume)
    kept = [record for record in read_jsonl(path) if isinstance(record.get("step", 0), int)]
    kept = [record for record in kept if record.get("step", 0) <= step]
    write_atomic(path, jsonl_text(kept))
