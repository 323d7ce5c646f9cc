"""Run by tests/test_vllm.py in the vLLM environment: RL steps with colocated vLLM rollouts on CPU.

A deterministic stand-in verifier (correct unless the response length is a multiple of 3) and 40 EOS ids (so
responses end at varied lengths) give groups mixed rewards, and a large learning rate moves the weights at
every step, so a weight sync that did not reach vLLM would show at once in TRL's
``sampling/sampling_logp_difference`` (vLLM's log-probs of the sampled tokens against the trainer's; logged
with ``vllm_importance_sampling_correction``). With ``nosync`` the sync is switched off (the control). Writes
OUT/result.json: the logged metrics and how far the
weights moved.
"""

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: helpers

from helpers import TOY_TRAINING, ParityVerifier, load_with_many_eos, toy_problems
from thrifty.rewards import make_reward
from thrifty.rl import ThriftyTrainer, TrainConfig, build_dataset, metrics_callback


def main(model_dir: str, out: str, sync: str = "sync") -> None:
    model, tokenizer = load_with_many_eos(model_dir)
    model_dir = f"{out}/model"  # vLLM loads the model from disk: save it with its EOS ids
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    del model
    problems = toy_problems(16)
    config = TrainConfig(
        output_dir=f"{out}/run",
        **TOY_TRAINING,
        per_device_train_batch_size=8,
        steps_per_generation=1,
        max_steps=3,
        learning_rate=1e-2,
        use_vllm=True,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=0.3,
        vllm_max_model_length=256,
        vllm_importance_sampling_correction=True,
        logging_steps=1,
    )
    trainer = ThriftyTrainer(
        model=model_dir,
        reward=make_reward("length_penalized", alpha=0.2),
        verifier=ParityVerifier(),
        args=config,
        train_dataset=build_dataset(problems, "{question}"),
        processing_class=tokenizer,
        callbacks=[metrics_callback(Path(out) / "metrics.jsonl")],
    )
    if sync == "nosync":  # the control: vLLM keeps sampling from the initial weights
        trainer.vllm_generation.sync_weights = lambda: None
    trainer.train()
    moved = max((p.detach() - before[n]).abs().max().item() for n, p in trainer.model.named_parameters())
    records = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    Path(out, "result.json").write_text(json.dumps({"records": records, "moved": moved}))


if __name__ == "__main__":
    main(*sys.argv[1:])
