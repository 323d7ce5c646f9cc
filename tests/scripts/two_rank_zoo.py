"""Run by tests/test_zoo_two_ranks.py under torchrun with 2 CPU ranks (gloo): a peer's reward and an estimator on
rollouts whose groups straddle ranks.

Each rank records, per rollout, what its scoring step saw and returned and the advantages it trains on (see
recording.py), plus its responses' problem ids, to OUT/rank{R}.json, and a stateful reward's final state to
OUT/state{R}.json; the test recomputes the pure functions on the concatenated rollouts. Three prompts, so every
rollout sees every problem again (a history-keeping reward has something to remember).
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


class ZooRecordingTrainer(RecordingTrainer):
    """Also records each response's problem id (what a per-problem history is keyed by)."""

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self.calls[-1]["problem_ids"] = [x["problem_id"] for x in inputs]
        return rewards

    def _generate_and_score_completions(self, inputs):
        """Also what the loss trains on: each response's tokens, whether it is kept, and the token count."""
        output = super()._generate_and_score_completions(inputs)
        mask = output["completion_mask"]
        kept = output["tool_mask"][:, 0] if "tool_mask" in output else mask.new_ones(len(mask))
        self.calls[-1].update(
            tokens=mask.sum(1).tolist(), kept=kept.tolist(), loss_tokens=int(output["num_items_in_batch"])
        )
        return output


def main(model_dir: str, out: str, reward: str, reward_kwargs: str, estimator: str, dynamic: str = "none") -> None:
    from accelerate import PartialState

    import thrifty.rewards.alp
    import thrifty.rewards.dler
    import thrifty.rewards.hapo  # noqa: F401 -- register the rewards

    model, tokenizer = load_with_many_eos(model_dir)
    config = TrainConfig(
        output_dir=f"{out}/run",
        **TOY_TRAINING,
        per_device_train_batch_size=3,  # rollout: 3 x 2 ranks x 2 steps = 12 = 3 prompts x 4; the middle one is split
        steps_per_generation=2,
        max_steps=6,  # 3 rollouts
        learning_rate=1e-4,
        loss_type="grpo" if dynamic == "none" else "dapo",  # dynamic sampling needs a token-level loss
    )
    made = make_reward(reward, **json.loads(reward_kwargs))
    trainer = ZooRecordingTrainer(
        model=model,
        reward=made,
        reward_name=reward,
        advantage_estimator=estimator,
        dynamic_sampling=dynamic,
        verifier=ParityVerifier(),
        args=config,
        train_dataset=build_dataset(toy_problems(3), "{question}"),
        processing_class=tokenizer,
    )
    trainer.train()
    rank = PartialState().process_index
    Path(out, f"rank{rank}.json").write_text(json.dumps(trainer.calls))
    if hasattr(made, "state_dict"):
        Path(out, f"state{rank}.json").write_text(json.dumps(made.state_dict()))
    leave(out, rank, 2)  # both ranks' records are on disk; leave only once both are done (see _leave.py)


if __name__ == "__main__":
    main(*sys.argv[1:7])
