"""Runs started the way users start them: the real CLI under ``accelerate launch`` on 2 CPU processes, whose
rollout groups straddle the processes; and a run killed with SIGKILL after a checkpoint, then resumed.

Both use the tiny model with 40 end-of-sequence tokens (any of them ends a response, as in models with several
EOS ids), so responses have varied lengths instead of all running into the length limit.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers import ONE_THREAD, TINY_RL, flags, free_port, with_many_eos
from thrifty.advantages import rloo_advantages
from thrifty.rewards import length_penalized_rewards
from thrifty.runs import read_jsonl


REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, **ONE_THREAD}
TIMEOUT = 240  # seconds; a normal run takes 10-25 s on 2 busy cores, so only a hang gets near it


@pytest.fixture(scope="module")
def many_eos_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return with_many_eos(tiny_model_dir, tmp_path_factory.mktemp("tiny-many-eos") / "model")


def _start(command: list[str], env: dict = ENV) -> subprocess.Popen:
    """Start ``command`` in its own process group, so that it can be killed with all its children."""
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _finish(process: subprocess.Popen, timeout: float = TIMEOUT) -> tuple[int, str, str]:
    """Wait for a process started by :func:`_start`; on timeout kill its whole group (launcher and ranks)."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{process.args[:4]} hung for {timeout} s:\n{stderr[-3000:]}")
    return process.returncode, stdout, stderr


# --------------------------------------------------------------------------------------------- accelerate launch
@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes_score_whole_groups(many_eos_model_dir, tmp_path):
    """``accelerate launch`` with the shipped ddp.yaml, 2 CPU processes, 6 responses each per rollout, groups of 4:
    the middle group of every rollout straddles the processes, and the rewards both processes train on are the
    pure reward function of the whole rollout (its length statistics span both processes). Both processes then
    exit cleanly.

    Not with ``--cpu``: accelerate 1.15 then uses its single-process launcher (multi-process CPU needs mpirun)
    and the run silently has one process. ddp.yaml's launcher (torchrun) with the trainer's ``--use_cpu true``
    gives one gloo process per rank; ``--mixed_precision no`` because ddp.yaml's bf16 would override the
    trainer's ``bf16: false``. The launch goes through tests/scripts/recording_cli.py: ``thrifty.cli`` with
    deterministic verdicts and a per-rank record of every reward call.
    """
    run, records = tmp_path / "run", tmp_path / "records"
    records.mkdir()
    launch = [
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        REPO / "recipes" / "accelerate_configs" / "ddp.yaml",
    ]
    launch += flags(num_processes=2, main_process_port=free_port(), mixed_precision="no")
    # 12 responses per rollout = 3 prompts x 4; 3 per process and step
    options = dict(TINY_RL, per_device_train_batch_size=3, prompts_per_level=4, alpha=0.3, max_completion_length=24)
    options.update(max_steps=4, learning_rate=1e-4, save_strategy="no", log_completions=True)
    script = REPO / "tests" / "scripts" / "recording_cli.py"
    train = flags(model_name_or_path=many_eos_model_dir, output_dir=run, **options)
    command = [sys.executable, *map(str, launch), str(script), "train", *train]
    code, stdout, stderr = _finish(_start(command, {**ENV, "THRIFTY_RECORD_DIR": str(records)}))
    assert code == 0, stdout[-2000:] + stderr[-6000:]
    # both processes got to the end of `thrifty train`, and neither failed or aborted on the way out
    assert stdout.count(f"model and metrics.jsonl saved to {run}") == 2, stdout[-2000:]
    for sign in ("Traceback", "Connection closed by peer", "terminate called", "Fatal Python error", "exitcode"):
        assert sign not in stderr, stderr[-6000:]

    ranks = [read_jsonl(records / f"rank{r}.jsonl") for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 2  # 4 steps, 2 per rollout
    for rank, calls in enumerate(ranks):
        for call in calls:
            assert (call["process_index"], call["num_processes"], call["backend"], call["device"]) == (
                rank,
                2,
                *["gloo", "cpu"],
            )
            assert call["mixed_precision"] == "no" and len(call["prompts"]) == 6

    rollout_logs = [r for r in read_jsonl(run / "metrics.jsonl") if "rewards/length_penalized/mean" in r]
    assert [r["step"] for r in rollout_logs] == [1, 3]
    import pandas as pd

    discriminating = False
    groups = [i // 4 for i in range(12)]
    for call0, call1, logged in zip(*ranks, rollout_logs, strict=True):
        whole = {key: call0[key] + call1[key] for key in ("prompts", "correct", "lengths", "truncated", "advantages")}
        assert call0["prompts"][-1] == call1["prompts"][0]  # the middle group is split 2 + 2 across the processes
        assert all(whole["prompts"][i] == whole["prompts"][4 * g] for i, g in enumerate(groups))
        want = length_penalized_rewards(whole["correct"], whole["lengths"], groups, 0.3, whole["truncated"])
        assert call0["rewards"] == pytest.approx(want) and call1["rewards"] == pytest.approx(want)  # the whole rollout
        assert whole["advantages"] == pytest.approx(rloo_advantages(want, groups), abs=1e-6)
        # had each process scored only its own samples, the split group's rewards would differ
        local = [
            length_penalized_rewards(c["correct"], c["lengths"], groups[:6], 0.3, c["truncated"])
            for c in (call0, call1)
        ]
        discriminating |= local[0][4:] + local[1][:2] != pytest.approx(want[4:8])
        # the trainer's own record of the same rollout: the rewards TRL gathered, and the logged means
        table = pd.read_parquet(run / "completions" / f"completions_{logged['step']:05d}.parquet")
        assert table["length_penalized"].tolist() == pytest.approx(want)
        assert logged["rewards/length_penalized/mean"] == pytest.approx(sum(want) / 12, rel=1e-5)
        assert logged["completions/mean_length"] == pytest.approx(sum(whole["lengths"]) / 12, rel=1e-5)
    assert discriminating


# --------------------------------------------------------------------------------------------- kill and resume
MAX_STEPS, KILL_AFTER = 16, 4  # the run is killed once a step after checkpoint-4 is logged


def _train_command(model_dir: Path, out: Path, *extra: str) -> list[str]:
    """A checkpoint every 2 steps (one rollout). Weight decay moves the random model off the reference from step 2
    on, so the KL term gives non-zero gradients (every reward is 0: the random model never answers right)."""
    options = dict(TINY_RL, prompts_per_level=8, max_completion_length=32, max_steps=MAX_STEPS, save_steps=2)
    options.update(warmup_steps=4, learning_rate=1e-3, weight_decay=0.1)
    return [
        sys.executable,
        "-m",
        "thrifty.cli",
        "train",
        *flags(model_name_or_path=model_dir, output_dir=out, **options),
        *extra,
    ]


def _complete_checkpoints(out: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file())


def _kill_after_checkpoint(command: list[str], out: Path, step: int, timeout: float = TIMEOUT) -> None:
    """Start ``command``; SIGKILL its process group once a step after checkpoint-``step`` is logged (so that
    checkpoint, saved before the step, is complete)."""
    process = _start(command)
    deadline = time.time() + timeout
    try:
        while process.poll() is None and time.time() < deadline:
            if step in _complete_checkpoints(out) and any(r["step"] > step for r in read_jsonl(out / "metrics.jsonl")):
                break
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
    assert process.returncode == -signal.SIGKILL, (
        f"the run ended (code {process.returncode}) before the kill:\n{stderr[-3000:]}"
    )


def _per_step(
    out: Path, keys=("learning_rate", "loss", "grad_norm", "kl", "entropy", "completions/mean_length")
) -> dict:
    return {r["step"]: [r.get(k) for k in keys] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r}


@pytest.mark.slow
def test_killed_run_resumes_where_its_checkpoint_left_off(many_eos_model_dir, tmp_path):
    """SIGKILL ``thrifty train`` after a checkpoint, with steps after it already logged; resume it with
    ``--resume_from_checkpoint true``. The step counter, metrics, optimizer, LR schedule, data order and sampling
    RNG all continue: the result is, step for step, that of the same run left uninterrupted (run alongside)."""
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    uninterrupted = _start(_train_command(many_eos_model_dir, reference))
    _kill_after_checkpoint(_train_command(many_eos_model_dir, killed), killed, KILL_AFTER)
    code, _, stderr = _finish(uninterrupted)
    assert code == 0, stderr[-3000:]

    assert not (killed / "model.safetensors").exists() and MAX_STEPS not in _complete_checkpoints(killed)
    resumed_from = _complete_checkpoints(killed)[-1]
    assert max(r["step"] for r in read_jsonl(killed / "metrics.jsonl")) > resumed_from  # records the resume must drop

    code, _, stderr = _finish(_start(_train_command(many_eos_model_dir, killed, "--resume_from_checkpoint", "true")))
    assert code == 0, stderr[-3000:]

    last = f"checkpoint-{MAX_STEPS}"
    state = json.loads((killed / last / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS
    assert [r["step"] for r in state["log_history"] if "loss" in r] == list(range(1, MAX_STEPS + 1))
    steps = [r["step"] for r in read_jsonl(killed / "metrics.jsonl") if "loss" in r]
    assert steps == list(
        range(1, MAX_STEPS + 1)
    )  # each step once: the records logged after the checkpoint were dropped
    lrs = [record[0] for record in _per_step(killed).values()]
    assert lrs == pytest.approx([1e-3 * min(1, (step - 1) / 4) for step in steps])  # the warmup did not restart

    # Adam counted every step across the kill (a fresh optimizer would count only the resumed ones), and its
    # moments and the weights end where the uninterrupted run's do
    adam, adam_reference = (
        torch.load(out / last / "optimizer.pt", weights_only=True)["state"] for out in (killed, reference)
    )
    assert {float(moments["step"]) for moments in adam.values()} == {float(MAX_STEPS)}
    for key, moments in adam.items():
        for name in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(moments[name], adam_reference[key][name], rtol=1e-5, atol=1e-12)
    weights, weights_reference = (load_file(out / "model.safetensors") for out in (killed, reference))
    torch.testing.assert_close(weights, weights_reference, rtol=1e-5, atol=1e-8)

    # every logged quantity, rollout lengths included, matches: sampler position and sampling RNG were restored
    want = _per_step(reference)
    assert _per_step(killed) == {step: pytest.approx(values, rel=1e-5, abs=1e-12) for step, values in want.items()}
    assert all(want[step][2] > 0 for step in range(3, MAX_STEPS + 1))  # gradients flowed, so the moments matter
    assert len({values[-1] for values in want.values() if values[-1] is not None}) > 1  # rollouts differ
