"""How the torchrun test scripts end: a file barrier, then exit without interpreter teardown.

A gloo collective can finish on one rank before its peer has read the last message, so a rank that exits right
after the final barrier can make its peer fail ("Connection closed by peer"); interpreter teardown with a live
gloo group occasionally aborted a rank, and destroying the group first occasionally hung one. So every rank
writes a file once all its collectives are done, waits until every rank has, and only then leaves.
"""

import os
import sys
import time
from pathlib import Path


def leave(folder, rank: int, world_size: int, timeout: float = 120.0) -> None:
    folder = Path(folder)
    (folder / f"done-{rank}").write_text("done")
    deadline = time.time() + timeout
    while not all((folder / f"done-{r}").exists() for r in range(world_size)) and time.time() < deadline:
        time.sleep(0.05)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
