"""``thrifty.cli`` with two test-only stand-ins, run by tests/test_scale.py under ``accelerate launch``.

    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml ... tests/scripts/recording_cli.py train ...

It takes exactly the CLI's arguments and calls ``thrifty.cli.main``, so argument parsing, ``thrifty.rl.run``,
TRL, accelerate, and the processes' exit are the real ones. Before that it swaps two names that
``thrifty.rl.run.train`` looks up when it runs:

* ``VerifierPool``: the real pool, whose verdicts are then replaced by deterministic ones (helpers.py). The real
  verification still runs: without it (so without math-verify, sympy, scipy loaded), the teardown abort that
  ``thrifty.cli._end_process_group`` prevents did not show up.
* ``ThriftyTrainer``: recording.py's, which appends one JSON line per rollout to
  ``$THRIFTY_RECORD_DIR/rank{R}.jsonl``.
"""

import json
import os
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: helpers

import thrifty.rl.run
from helpers import ParityVerifierPool
from recording import RecordingTrainer
from thrifty.cli import main


class WritingTrainer(RecordingTrainer):
    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        path = Path(os.environ["THRIFTY_RECORD_DIR"]) / f"rank{self.calls[-1]['process_index']}.jsonl"
        with path.open("a") as f:
            f.write(json.dumps(self.calls[-1]) + "\n")
        return output


thrifty.rl.run.VerifierPool = ParityVerifierPool
thrifty.rl.run.ThriftyTrainer = WritingTrainer

if __name__ == "__main__":
    raise SystemExit(main())
