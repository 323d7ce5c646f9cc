"""Run by tests/test_train.py under torchrun with 2 CPU ranks (gloo): rollouts whose groups straddle ranks.

Each rank records what its reward function saw and returned, and the advantages the trainer will train on
(taken from the trainer's own output), to OUT/rank{R}.json; the test checks them against the pure functions on
the concatenated rollout. So that lengths vary and few responses are truncated, the random tiny model gets
40 end-of-sequence tokens (any of them ends a response, as in models with several EOS ids).
"""

import json
import sys
from pathlib import Path

from _leave import leave
from thrifty.train import (
    LengthPenaltyReward,
    ThriftyTrainer,
    TrainConfig,
    build_dataset,
)
from thrifty.verify import Verdict


class ParityVerifier:
    """Deterministic stand-in for the verifier: a response is "correct" unless its length is a multiple of 3."""

    def verify(self, texts, golds, mode):
        return [Verdict(None, len(t) % 3 != 0, False) for t in texts]


class RecordingReward(LengthPenaltyReward):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def __call__(self, prompts, completions, completion_ids, **kwargs):
        rewards = super().__call__(prompts, completions, completion_ids, **kwargs)
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        self.calls.append(
            {
                "prompts": [str(p) for p in prompts],
                "correct": [len(t) % 3 != 0 for t in texts],
                "lengths": [len(ids) for ids in completion_ids],
                "truncated": [not ids or ids[-1] not in self.eos_token_ids for ids in completion_ids],
                "rewards": rewards,
                "advantages": self.advantages,
            }
        )
        return rewards


class RecordingTrainer(ThriftyTrainer):
    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        self.length_reward.calls[-1]["trained_advantages"] = output["advantages"].tolist()
        return output


def main(model_dir: str, out: str, alpha: float, normalization: str) -> None:
    from accelerate import PartialState
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from thrifty.data import Problem

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, *range(20, 59)]

    problems = [Problem(f"p{i}", f"{i}+{i + 1}", str(2 * i + 1), 1) for i in range(12)]
    config = TrainConfig(
        output_dir=f"{out}/run",
        use_cpu=True,
        per_device_train_batch_size=3,  # rollout: 3 x 2 ranks x 2 steps = 12 = 3 prompts x 4; the middle one is split
        steps_per_generation=2,
        num_generations=4,
        max_completion_length=24,
        max_steps=4,
        learning_rate=1e-4,
        report_to="none",
        save_strategy="no",
        seed=0,
    )
    reward = RecordingReward(alpha, config.num_generations, normalization, ParityVerifier(), "math-verify", [])
    trainer = RecordingTrainer(
        model=model,
        reward_funcs=[reward],
        args=config,
        train_dataset=build_dataset(problems, "{question}"),
        processing_class=tokenizer,
        length_reward=reward,
    )
    trainer.train()
    rank = PartialState().process_index
    Path(out, f"rank{rank}.json").write_text(json.dumps(reward.calls))
    leave(out, rank, 2)  # both ranks' records are on disk; leave only once both are done (see _leave.py)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
