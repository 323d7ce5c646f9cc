"""``thrifty.cli`` with two test-only stand-ins, run by tests/test_scale.py under ``accelerate launch``.

    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml ... tests/scripts/recording_cli.py train ...

It takes exactly the CLI's arguments and calls ``thrifty.cli.main``, so argument parsing, ``thrifty.train.train``,
TRL, accelerate, and the processes' exit are the real ones. Before that it swaps two names in ``thrifty``:

* ``thrifty.verify.VerifierPool``: the real pool, but its verdicts are then replaced by deterministic ones (a
  response is "correct" unless its length in characters is a multiple of 3). The random tiny model never solves
  an organism problem, so with the real verdicts every reward would be 0 and a check of the group statistics
  could not fail. The real verification still runs: without it (so without math-verify, sympy, scipy loaded),
  the teardown abort that ``thrifty.cli._end_process_group`` prevents did not show up.
* ``thrifty.train.LengthPenaltyReward``: a subclass that appends, for every call, what this rank saw (prompts,
  verdicts, token lengths, truncation), what it returned (rewards, RLOO advantages) and how the process was
  launched, as one JSON line to ``$THRIFTY_RECORD_DIR/rank{R}.jsonl``.
"""

import json
import os
from pathlib import Path

import thrifty.train
import thrifty.verify
from thrifty.cli import main
from thrifty.verify import Verdict


class ParityVerifierPool(thrifty.verify.VerifierPool):
    """The real pool; its verdicts are replaced by: correct unless the length in characters is a multiple of 3."""

    def verify(self, texts, golds, mode="math-verify", progress=False):
        super().verify(texts, golds, mode, progress)
        return [Verdict(None, len(text) % 3 != 0, False) for text in texts]


class RecordingReward(thrifty.train.LengthPenaltyReward):
    def __call__(self, prompts, completions, completion_ids, answer, **kwargs):
        from accelerate.state import AcceleratorState, PartialState

        rewards = super().__call__(prompts, completions, completion_ids, answer, **kwargs)
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        state = PartialState()
        record = {
            "process_index": state.process_index,
            "num_processes": state.num_processes,
            "backend": state.backend,
            "device": state.device.type,
            "mixed_precision": AcceleratorState().mixed_precision,
            "prompts": [str(p) for p in prompts],
            "correct": [v.correct for v in self.verifier.verify(texts, answer, self.mode)],
            "lengths": [len(ids) for ids in completion_ids],
            "truncated": [not ids or ids[-1] not in self.eos_token_ids for ids in completion_ids],
            "rewards": rewards,
            "advantages": self.advantages,
        }
        with (Path(os.environ["THRIFTY_RECORD_DIR"]) / f"rank{state.process_index}.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")
        return rewards


thrifty.verify.VerifierPool = ParityVerifierPool  # train() imports it from thrifty.verify when it runs
thrifty.train.LengthPenaltyReward = RecordingReward  # train() looks the class up in its module when it runs

if __name__ == "__main__":
    raise SystemExit(main())
