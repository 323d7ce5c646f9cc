"""Seconds per RL step: ``thrifty train`` vs a bare TRL ``GRPOTrainer`` with a plain correctness reward.

    python benchmarks/step_overhead.py                   # 3 interleaved pairs of runs, ~4 minutes on 2 cores

Both sides train the same model (a random Qwen2 of the organism's shape: the cost of a step does not depend on
the weights) on the same organism prompts with the same batch (the organism recipe: 8 prompts x 8 samples per
rollout, two updates of 32), generation length, KL and seed. Both check answers with the same verifier pool.
The only difference is what thrifty adds: the length-penalised reward gathered over processes, the exact
RLOO advantages, and its metrics. The thrifty side runs the real entry point (``thrifty.rl.run``).

Runs alternate (thrifty, bare, bare, thrifty, thrifty, bare, ...), each in a fresh process using both cores.
A run's figure is its seconds per step over whole rollouts after the first (warm-up), from the wall times of
the per-step records in ``metrics.jsonl``; ``--steps`` must be even (2 optimizer steps per rollout). The ratio
of each pair is thrifty / bare; the headline, last, is their median: ``step_overhead_ratio=<ratio>`` (target:
<= 1.05). Where a thrifty step goes is printed too: generation, reward (verification + length penalty), the
rest of the rollout (old/reference log-probs), and the loss's forward and backward, as shares of TRL's
``training_step`` over the whole run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from thrifty.runs import read_jsonl


TIMINGS: dict[str, float] = defaultdict(float)


def _timed(cls, name: str, label: str) -> None:
    """Accumulate the seconds spent in ``cls.name`` under ``label``."""
    original = getattr(cls, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMINGS[label] += time.perf_counter() - started

    setattr(cls, name, wrapper)


def _settings(out: Path, model: str, steps: int, max_tokens: int) -> list[str]:
    """The flags of both sides' runs: the organism recipe's batch, lengths, KL and clip."""
    settings = dict(model_name_or_path=model, output_dir=out, prompts="organism", prompts_per_level=200)
    settings.update(per_device_train_batch_size=32, steps_per_generation=2, num_generations=8)
    settings.update(max_completion_length=max_tokens, temperature=1.0, learning_rate=4e-5, max_steps=steps)
    settings.update(beta=1e-3, epsilon=0.2, loss_type="grpo", scale_rewards="none", use_cpu="true", bf16="false")
    settings.update(logging_steps=1, save_strategy="no", report_to="none", seed=0, alpha=0.2, verify_workers=1)
    return [item for key, value in settings.items() for item in (f"--{key}", str(value))]


def worker(side: str, out: Path, model: str, steps: int, max_tokens: int) -> None:
    """One training run of ``side`` (thrifty | bare); writes OUT/timing.json."""
    from trl import GRPOTrainer, ModelConfig, TrlParser

    from thrifty.rl import ThriftyArguments, ThriftyTrainer, TrainConfig, build_dataset, metrics_callback, train

    parser = TrlParser([ThriftyArguments, TrainConfig, ModelConfig])
    args, config, model_args = parser.parse_args_and_config(_settings(out, model, steps, max_tokens))
    _timed(GRPOTrainer, "training_step", "step")
    _timed(GRPOTrainer, "_generate", "generation")
    _timed(GRPOTrainer, "_generate_and_score_completions", "rollout")
    _timed(ThriftyTrainer, "_calculate_rewards", "reward")  # verify, gather, group reward
    started = time.perf_counter()
    if side == "thrifty":
        train(args, config, model_args)
    else:
        from thrifty.verify import VerifierPool

        out.mkdir(parents=True, exist_ok=True)
        dataset = build_dataset(args.problems(), args.template())
        config.model_init_kwargs = {"dtype": "auto"}
        with VerifierPool(workers=args.verify_workers, timeout=args.verify_timeout) as pool:

            def correctness(prompts, completions, answer, **kwargs):
                started = time.perf_counter()
                texts = [c[-1]["content"] for c in completions]  # conversational prompts: message lists
                rewards = [float(v.correct) for v in pool.verify(texts, answer, args.verifier)]
                TIMINGS["reward"] += time.perf_counter() - started
                return rewards

            trainer = GRPOTrainer(
                model=model,
                reward_funcs=[correctness],
                args=config,
                train_dataset=dataset,
                callbacks=[metrics_callback(out / "metrics.jsonl")],
            )
            trainer.train()
    records = read_jsonl(out / "metrics.jsonl")
    walls = [r["wall_seconds"] for r in records if "loss" in r]  # one per optimizer step (not the final summary)
    (out / "timing.json").write_text(json.dumps({"walls": walls, "total": time.perf_counter() - started, **TIMINGS}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per run (2 per rollout)")
    parser.add_argument("--max-completion-length", type=int, default=128)
    parser.add_argument("--worker", nargs=4, metavar=("SIDE", "OUT", "MODEL", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        side, out, model, steps = args.worker
        return worker(side, Path(out), model, int(steps), args.max_completion_length)

    from thrifty.organism.base import OrganismConfig
    from thrifty.organism.tiny import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="step-overhead-"))
    shape = OrganismConfig()
    build_tiny_model(
        work / "model",
        hidden_size=shape.hidden_size,
        num_layers=shape.num_layers,
        num_heads=shape.num_heads,
        max_positions=1024,
    )
    print(
        f"model: random Qwen2, hidden {shape.hidden_size}, {shape.num_layers} layers; organism recipe batch; "
        f"{args.steps} steps per run; max {args.max_completion_length} new tokens",
        flush=True,
    )

    per_step: dict[str, list[float]] = {"thrifty": [], "bare": []}
    timings: list[dict] = []
    if args.steps < 4 or args.steps % 2:
        sys.exit("--steps must be even and at least 4 (whole rollouts after the warm-up one)")
    for pair in range(args.pairs):
        for side in ("thrifty", "bare") if pair % 2 == 0 else ("bare", "thrifty"):
            out = work / f"{side}-{pair}"
            command = [
                sys.executable,
                __file__,
                "--max-completion-length",
                str(args.max_completion_length),
                "--worker",
                side,
                str(out),
                str(work / "model"),
                str(args.steps),
            ]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                sys.exit(f"{side} run failed:\n{result.stderr[-3000:]}")
            timing = json.loads((out / "timing.json").read_text())
            walls = timing["walls"]
            # whole rollouts after the first: from the end of step 2 to the end of step N (walls[k]: end of step k + 1)
            seconds = (walls[-1] - walls[1]) / (len(walls) - 2)
            per_step[side].append(seconds)
            if side == "thrifty":
                timings.append(timing)
            print(f"pair {pair} {side:>7}: {seconds:.3f} s/step", flush=True)

    ratios = [t / b for t, b in zip(per_step["thrifty"], per_step["bare"], strict=True)]
    medians = {side: statistics.median(seconds) for side, seconds in per_step.items()}
    print(
        f"thrifty s/step (median) {medians['thrifty']:.3f}, bare {medians['bare']:.3f}; "
        f"pair ratios {', '.join(f'{r:.3f}' for r in ratios)}"
    )
    share = {k: statistics.median(t[k] / t["step"] for t in timings) for k in ("generation", "reward", "rollout")}
    print(
        f"a thrifty step: generation {share['generation']:.0%}, "
        f"reward (verify + length penalty) {share['reward']:.0%}, "
        f"rest of the rollout (old/ref log-probs) {share['rollout'] - share['generation'] - share['reward']:.0%}, "
        f"loss forward + backward {1 - share['rollout']:.0%} (of training_step; the optimizer step is outside it)"
    )
    print(f"step_overhead_ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
