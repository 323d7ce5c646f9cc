"""Run by tests/test_runs.py under torchrun with 2 CPU ranks (gloo): `run_once` on one output folder.

Each rank calls run_once three times -- over a stale folder from another record, again with the same record
(a finished run), and with a new record -- and writes what it saw to OUT/rank{R}.json.
"""

import json
import sys
from pathlib import Path

from accelerate import PartialState

from _leave import leave
from thrifty.runs import run_once


out, folder = Path(sys.argv[1]), Path(sys.argv[1]) / "model"
state = PartialState(cpu=True)
rank = state.process_index
seen = []


def attempt(record):
    def run():  # what a trainer would do: every rank finds the folder ready, with no stale file in it
        seen.append(
            {"stale_gone": not (folder / "stale.txt").exists(), "started": (folder / "run_started.json").is_file()}
        )

    return {"trained": run_once(folder, record, run)}


if rank == 0:
    folder.mkdir(parents=True)
    (folder / "stale.txt").write_text("left by a run with other settings")
    (folder / "run_started.json").write_text(json.dumps({"other": 1}) + "\n")
state.wait_for_everyone()
results = [attempt({"a": 1}), attempt({"a": 1}), attempt({"a": 2})]
state_info = {"num_processes": state.num_processes, "type": str(state.distributed_type), "main": state.is_main_process}
(out / f"rank{rank}.json").write_text(json.dumps({"results": results, "seen": seen, "state": state_info}))
leave(out, rank, 2)  # only once both ranks are done with every collective (see _leave.py)
