"""The peers' rewards across processes and across a kill: with a prompt's samples split over two torchrun ranks,
``hapo``, ``alp``, ``dler`` and the ``reinforce++-baseline`` / ``grpo`` estimators give each rank exactly the pure
functions of the concatenated rollout, and HAPO's history agrees on both ranks; a ``thrifty train`` killed with
SIGKILL and resumed restores HAPO's history and finishes with the uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import thrifty.rewards.alp
import thrifty.rewards.dler
import thrifty.rewards.hapo  # noqa: F401 -- register the rewards
from helpers import ONE_THREAD, TINY_RL, flags, torchrun
from thrifty import runs
from thrifty.advantages import get_advantage
from thrifty.rewards import Rollout, kept_groups, make_reward


REPO = Path(__file__).resolve().parents[1]

CASES = {
    "hapo": ({}, "reinforce++-baseline"),
    "alp": ({"beta": 0.01}, "grpo"),
    "dler": ({"target_length": 12, "adaptive": True, "easy_target_length": 8}, "reinforce++-baseline"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_two_ranks_get_the_pure_functions_of_the_whole_rollout(tiny_model_dir, tmp_path, name):
    """2 CPU ranks, 6 responses each per rollout, groups of 4: the middle group straddles them. Three prompts, so
    every rollout meets every problem again. The rewards are recomputed here, rollout after rollout, by a fresh
    reward on the concatenation of both ranks' responses (a stateful one carrying its state along)."""
    kwargs, estimator = CASES[name]
    run = torchrun(
        REPO / "tests" / "scripts" / "two_rank_zoo.py", tiny_model_dir, tmp_path, name, json.dumps(kwargs), estimator
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3  # 6 steps, 2 per rollout
    reference = make_reward(name, **kwargs)
    group_ids = [i // 4 for i in range(12)]
    split_seen = informative = False
    for call0, call1 in zip(*ranks, strict=True):
        prompts = call0["prompts"] + call1["prompts"]
        assert len(call0["prompts"]) == len(call1["prompts"]) == 6
        split_seen |= call0["prompts"][-1] == call1["prompts"][0]
        assert all(prompts[i] == prompts[4 * (i // 4)] for i in range(12))
        rollout = Rollout(
            group_ids=group_ids,
            correct=call0["correct"] + call1["correct"],
            lengths=call0["lengths"] + call1["lengths"],
            finished=[not t for t in call0["truncated"] + call1["truncated"]],
            problem_ids=call0["problem_ids"] + call1["problem_ids"],
        )
        want = reference(rollout)
        assert call0["rewards"] == pytest.approx(want) and call1["rewards"] == pytest.approx(want)  # the whole rollout
        advantages = get_advantage(estimator).sequence(want, group_ids)
        assert call0["advantages"] + call1["advantages"] == pytest.approx(advantages, abs=1e-5)
        # the split group (samples 4-7) has rewards that differ, so its statistics matter
        informative |= len({round(r, 6) for r in want[4:8]}) >= 2
    assert split_seen and informative
    if name == "hapo":
        states = [json.loads((tmp_path / f"state{r}.json").read_text()) for r in (0, 1)]
        assert states[0] == states[1] == json.loads(json.dumps(reference.state_dict()))
        assert states[0]["history"]  # the parity verdicts give right answers: the history is not empty


@pytest.mark.slow
def test_dynamic_sampling_across_two_ranks_leaves_the_same_groups_out_everywhere(tiny_model_dir, tmp_path):
    """dler's 0/1 reward with --dynamic_sampling reward: a group whose rewards are all equal (all 0 here, often) is
    left out on both ranks, the split group included; the kept groups' advantages are the estimator's on them alone;
    each rank's token count (what the dapo loss divides by) is the kept tokens of both ranks together."""
    kwargs = {"target_length": 12}
    run = torchrun(
        REPO / "tests" / "scripts" / "two_rank_zoo.py", tiny_model_dir, tmp_path, "dler", json.dumps(kwargs),
        "reinforce++-baseline", "reward",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    group_ids = [i // 4 for i in range(12)]
    dropped = kept_any = False
    for call0, call1 in zip(*ranks, strict=True):
        rewards = call0["rewards"]
        keep = kept_groups(rewards, group_ids)
        assert [bool(k) for k in call0["kept"] + call1["kept"]] == keep
        kept = [i for i, k in enumerate(keep) if k]
        want = [0.0] * 12
        for i, a in zip(
            kept,
            get_advantage("reinforce++-baseline").sequence([rewards[i] for i in kept], [group_ids[i] for i in kept]),
            strict=True,
        ):
            want[i] = a
        assert call0["advantages"] + call1["advantages"] == pytest.approx(want, abs=1e-5)
        tokens = call0["tokens"] + call1["tokens"]
        assert call0["loss_tokens"] == call1["loss_tokens"] == sum(tokens[i] for i in kept)
        dropped |= not all(keep)
        kept_any |= any(keep)
    assert dropped and kept_any  # both cases met


# --------------------------------------------------------------------------------------------- kill and resume
RECORDING_CLI = """
import json, os, sys
sys.path.insert(0, {tests!r})
import thrifty.rl.run
from helpers import ParityVerifierPool
from thrifty.cli import main
from thrifty.rl import ThriftyTrainer

class StateRecordingTrainer(ThriftyTrainer):
    # one JSON line per rollout: the reward's state as the rollout finds it, then what the rollout held
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        before = self.reward.state_dict()
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        rollout = self._scored[0]
        with open(os.path.join(os.environ["THRIFTY_RECORD_DIR"], "rollouts.jsonl"), "a") as f:
            f.write(json.dumps({{"step": rollout.step, "before": before, "rewards": rewards[:, 0].tolist()}}) + "\\n")
        return rewards

thrifty.rl.run.VerifierPool = ParityVerifierPool  # right answers from a random model: the history fills up
thrifty.rl.run.ThriftyTrainer = StateRecordingTrainer
raise SystemExit(main())
"""


def _train_command(tiny_model_dir, out: Path, *extra) -> tuple[list[str], dict]:
    """``thrifty.cli``'s ``train`` in a subprocess, with parity verdicts, the tiny model, a rollout and a checkpoint
    every step, HAPO imported by its ``module:name``."""
    options = dict(model_name_or_path=tiny_model_dir, output_dir=out, prompts_per_level=2, **TINY_RL)
    options.update(steps_per_generation=1, max_completion_length=16, learning_rate=1e-4, save_steps=1)
    options.update(reward="thrifty.rewards.hapo:hapo", max_steps=6, seed=0)
    script = RECORDING_CLI.format(tests=str(REPO / "tests"))
    command = [sys.executable, "-c", script, "train", *flags(**options), *extra]
    out.mkdir(parents=True, exist_ok=True)
    return command, {**os.environ, **ONE_THREAD, "THRIFTY_RECORD_DIR": str(out)}


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]


def _state(checkpoint: Path) -> dict:
    return json.loads((checkpoint / runs.REWARD_STATE).read_text())


@pytest.mark.slow
def test_hapo_history_survives_a_kill_and_resume(tiny_model_dir, tmp_path):
    whole = tmp_path / "whole"
    command, env = _train_command(tiny_model_dir, whole)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]

    killed = tmp_path / "killed"
    command, env = _train_command(tiny_model_dir, killed)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 600
        while not (killed / "checkpoint-2" / runs.TRAINER_STATE).is_file():  # checkpoint 2 is complete
            assert process.poll() is None and time.time() < deadline, "the run ended before its second checkpoint"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "checkpoint-6").exists()
    cut = len(_records(killed))

    resume_command, env = _train_command(tiny_model_dir, killed, "--resume_from_checkpoint", "true")
    resumed = subprocess.run(resume_command, env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    first = _records(killed)[cut]  # the resumed run's first rollout, at the step of the checkpoint it resumed from
    restored_from = killed / f"checkpoint-{first['step']}"
    assert first["step"] >= 2 and (restored_from / runs.TRAINER_STATE).is_file()
    assert first["before"] == _state(restored_from)  # the history it starts from is the one saved there
    assert first["before"]["history"]  # ... and it holds something to restore

    # the finished run is the uninterrupted one: same rollouts from the restored point on, same rewards, same history
    uninterrupted = {r["step"]: r for r in _records(whole)}
    for record in _records(killed)[cut:]:
        assert record["before"] == uninterrupted[record["step"]]["before"]
        assert record["rewards"] == pytest.approx(uninterrupted[record["step"]]["rewards"])
    assert _state(killed / "checkpoint-6") == _state(whole / "checkpoint-6")
    assert _state(whole / "checkpoint-6") != _state(whole / "checkpoint-2")  # the history moved after the kill
