"""Run by tests/test_rl.py under torchrun with 2 CPU ranks (gloo): rollouts whose groups straddle ranks.

Each rank records what its scoring step saw and returned, and the advantages the trainer trains on, to
OUT/rank{R}.json (see recording.py); the test checks them against the pure functions on the concatenated rollout.
The tiny model ends a response at any of 40 ids, so lengths vary and few responses are truncated.
"""

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: helpers

from _leave import leave
from helpers import TOY_TRAINING, ParityVerifier, load_with_many_eos, toy_problems
from recording import RecordingTrainer
from thrifty.rewards import make_reward
from thrifty.rl import TrainConfig, build_dataset


def main(model_dir: str, out: str, alpha: float, mode: str) -> None:
    """``mode``: ``rloo`` (the paper's update) or ``official`` (RLOO, the KL summed to go, token whitening)."""
    from accelerate import PartialState

    model, tokenizer = load_with_many_eos(model_dir)
    problems = toy_problems(12)
    config = TrainConfig(
        output_dir=f"{out}/run",
        **TOY_TRAINING,
        per_device_train_batch_size=3,  # rollout: 3 x 2 ranks x 2 steps = 12 = 3 prompts x 4; the middle one is split
        steps_per_generation=2,
        max_steps=4,
        learning_rate=1e-4,
        beta=0.05 if mode == "official" else 1e-3,
    )
    official = mode == "official"
    trainer = RecordingTrainer(
        model=model,
        reward=make_reward("length_penalized", alpha=alpha),
        reward_name="length_penalized",
        advantage_estimator="rloo",
        kl_penalty="reward" if official else "loss",
        whiten_advantages="tokens" if official else "none",
        verifier=ParityVerifier(),
        args=config,
        train_dataset=build_dataset(problems, "{question}"),
        processing_class=tokenizer,
    )
    trainer.train()
    rank = PartialState().process_index
    Path(out, f"rank{rank}.json").write_text(json.dumps(trainer.calls))
    leave(out, rank, 2)  # both ranks' records are on disk; leave only once both are done (see _leave.py)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
