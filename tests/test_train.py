"""The TRL adapter: pinned paper defaults, group-aware rewards (also across 2 ranks), exact RLOO advantages,
recipes that add up, and `thrifty train` end to end with metrics and resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thrifty.reward import length_penalized_rewards, rloo_advantages
from thrifty.train import LengthPenaltyReward, ThriftyArguments, TrainConfig
from thrifty.verify import Verdict

REPO = Path(__file__).resolve().parents[1]


class ListVerifier:
    def __init__(self, correct):
        self.correct = correct

    def verify(self, texts, golds, mode):
        return [Verdict(None, c, False) for c in self.correct]


def test_paper_defaults_are_pinned():
    c = TrainConfig(output_dir="unused", use_cpu=True)
    assert (c.loss_type, c.scale_rewards, c.importance_sampling_level) == ("grpo", "none", "token")
    assert (c.beta, c.epsilon, c.temperature, c.top_p, c.top_k, c.num_generations) == (1e-3, 0.2, 1.0, 1.0, 0, 8)
    assert (c.mask_truncated_completions, c.use_bias_correction_kl, c.bf16, c.num_iterations) == (False, False, False, 1)
    assert c.lr_scheduler_type == "constant_with_warmup" and c.learning_rate == 5e-6
    assert (c.epsilon_high, c.top_entropy_quantile, c.entropy_coef, c.vllm_importance_sampling_correction) == (None, 1.0, 0.0, False)


def test_alpha_is_validated():
    with pytest.raises(ValueError, match="got 1.0"):
        ThriftyArguments(alpha=1.0)
    with pytest.raises(ValueError, match="num_generations=1"):
        LengthPenaltyReward(0.2, 1, "none", None, "math-verify", [2])


def test_reward_single_process_matches_the_pure_functions_and_logs():
    eos = 7
    correct = [True, False, True, True, True, True, False, True]
    ids = [[1] * 9 + [eos], [1] * 4 + [eos], [1] * 20 + [eos], [1] * 30, [1] * 5 + [eos], [1] * 15 + [eos], [1, eos], [1] * 3 + [eos]]
    prompts = ["p"] * 4 + ["q"] * 4
    logged = {}
    reward = LengthPenaltyReward(0.4, 4, "none", ListVerifier(correct), "math-verify", [eos])
    got = reward(prompts, ["x"] * 8, ids, answer=["1"] * 8, log_metric=logged.__setitem__)
    lengths = [len(i) for i in ids]
    truncated = [False, False, False, True, False, False, False, False]
    want = length_penalized_rewards(correct, lengths, [0] * 4 + [1] * 4, 0.4, truncated)
    assert got == pytest.approx(want)
    assert got[3] == 0.0  # correct but cut off
    assert reward.advantages == pytest.approx(rloo_advantages(want, [0] * 4 + [1] * 4, "none"))
    assert logged["accuracy"] == pytest.approx(5 / 8) and logged["alpha"] == 0.4
    assert logged["tokens/mean"] == pytest.approx(sum(lengths) / 8)


def test_reward_refuses_a_rollout_whose_groups_are_not_contiguous():
    reward = LengthPenaltyReward(0.2, 2, "none", ListVerifier([True] * 4), "math-verify", [0])
    with pytest.raises(RuntimeError, match="not contiguous"):
        reward(["a", "b", "a", "b"], ["x"] * 4, [[0]] * 4, answer=["1"] * 4)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("normalization", ["none", "batch"])
def test_two_ranks_see_whole_groups(tiny_model_dir, tmp_path, normalization):
    """torchrun, 2 CPU ranks (gloo), 6 responses each per rollout, groups of 4: the middle group straddles the ranks."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
               str(REPO / "tests" / "scripts" / "two_rank_rewards.py"), str(tiny_model_dir), str(tmp_path), "0.3", normalization]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 2  # 4 steps, 2 per rollout
    split_seen = informative = False
    for call0, call1 in zip(*ranks):
        prompts = call0["prompts"] + call1["prompts"]
        assert len(call0["prompts"]) == len(call1["prompts"]) == 6
        split_seen |= call0["prompts"][-1] == call1["prompts"][0]
        groups = [i // 4 for i in range(12)]
        assert all(prompts[i] == prompts[4 * (i // 4)] for i in range(12))
        correct, lengths = call0["correct"] + call1["correct"], call0["lengths"] + call1["lengths"]
        truncated = call0["truncated"] + call1["truncated"]
        want = length_penalized_rewards(correct, lengths, groups, 0.3, truncated)
        assert call0["rewards"] + call1["rewards"] == pytest.approx(want)
        advantages = rloo_advantages(want, groups, normalization)
        assert call0["advantages"] + call1["advantages"] == pytest.approx(advantages)
        assert call0["trained_advantages"] + call1["trained_advantages"] == pytest.approx(advantages, abs=1e-6)
        # the split group (samples 4-7) has correct answers of different lengths, so its statistics matter
        informative |= len({round(r, 6) for r in want[4:8] if r > 0}) >= 2
    assert split_seen and informative


def test_run_once_is_decided_once_for_all_ranks(tmp_path):
    """torchrun, 2 CPU ranks: the main rank alone clears a stale folder; every rank trains, reuses or retrains alike."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
               str(REPO / "tests" / "scripts" / "two_rank_run_once.py"), str(tmp_path)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, "\n".join(line for line in run.stderr.splitlines() if "[rank" in line)[-6000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    for got in ranks:
        assert [r["trained"] for r in got["results"]] == [True, False, True], ranks  # trained, reused, retrained
        assert got["seen"] == [{"stale_gone": True, "started": True}] * 2
    assert (tmp_path / "model" / "run_done.json").read_text() == json.dumps({"a": 2}) + "\n"


def _recipe(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_recipes_use_known_keys_and_the_papers_batch_arithmetic():
    import dataclasses

    from trl import ModelConfig

    from thrifty.demo import ORGANISM_RECIPE

    known = {f.name for cls in (ThriftyArguments, TrainConfig, ModelConfig) for f in dataclasses.fields(cls)}
    recipes = sorted((REPO / "recipes").glob("*/alpha_*.yaml"))
    assert len(recipes) >= 12
    for path in recipes:
        recipe = _recipe(path)
        assert set(recipe) <= known, (path, set(recipe) - known)
        assert recipe["advantage_normalization"] == "none" and recipe["beta"] == 1e-3 and recipe["epsilon"] == 0.2
        assert recipe["loss_type"] == "grpo" and recipe["scale_rewards"] == "none" and recipe["num_generations"] == 8
        assert str(recipe["alpha"]) in path.stem
    for size, processes, lr in (("1.5b", 4, 5e-6), ("7b", 8, 2e-6)):
        for path in (REPO / "recipes" / f"deepseek-r1-distill-qwen-{size}").glob("alpha_*.yaml"):
            r = _recipe(path)
            assert r["per_device_train_batch_size"] * processes * r["steps_per_generation"] == 256  # 32 prompts x 8
            assert r["per_device_train_batch_size"] * processes * r["gradient_accumulation_steps"] == 128
            assert r["learning_rate"] == lr and r["max_completion_length"] == 32768 and r["bf16"] and r["use_vllm"]
    organism = _recipe(REPO / "recipes" / "organism" / "alpha_0.2.yaml")
    assert {k: organism[k] for k in ORGANISM_RECIPE} == ORGANISM_RECIPE


def _train(tmp_path, tiny_model_dir, *extra):
    from thrifty.cli import main

    return main(["train", "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path / "run"),
                 "--prompts", "organism", "--organism_prompts_per_level", "8", "--use_cpu", "true",
                 "--per_device_train_batch_size", "8", "--steps_per_generation", "2", "--num_generations", "4",
                 "--max_completion_length", "16", "--learning_rate", "1e-4", "--report_to", "none",
                 "--save_steps", "1", "--verify_workers", "1", *extra])


def test_train_cli_logs_metrics_saves_and_resumes(tiny_model_dir, tmp_path):
    assert _train(tmp_path, tiny_model_dir, "--max_steps", "2") == 0
    run = tmp_path / "run"
    assert (run / "model.safetensors").is_file() and (run / "checkpoint-2").is_dir()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rollout = [r for r in rows if "accuracy" in r]
    assert rollout and {"tokens/mean", "kl", "clip_ratio/region_mean", "alpha", "wall_seconds"} <= set(rollout[0])
    assert rollout[0]["tokens/mean"] == pytest.approx(rollout[0]["completions/mean_length"])

    assert _train(tmp_path, tiny_model_dir, "--max_steps", "3", "--resume_from_checkpoint", "true") == 0
    state = json.loads((run / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert 3 in steps and steps.count(1) == 1  # resumed: appended, not restarted

    # resuming from an earlier checkpoint drops the records logged after it, so no step appears twice
    assert _train(tmp_path, tiny_model_dir, "--max_steps", "3", "--resume_from_checkpoint", str(run / "checkpoint-2")) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["step"] for r in records if "loss" in r]
    assert losses == sorted(set(losses)) == [1, 2, 3]


def test_train_cli_rejects_bad_alpha(tiny_model_dir, tmp_path, capsys):
    assert _train(tmp_path, tiny_model_dir, "--max_steps", "1", "--alpha", "1.5") == 2
    assert "--alpha must be in [0, 1), got 1.5" in capsys.readouterr().err
