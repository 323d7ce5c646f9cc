"""What several tests share: a deterministic verifier, a free port, and a tiny model whose responses end at many
lengths. Also imported by the scripts in tests/scripts/ (they put this folder on ``sys.path``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from thrifty.verify import Verdict, VerifierPool


MANY_EOS = [*range(20, 59)]
"""Extra end-of-sequence ids: with them, a random tiny model's responses end at varied lengths instead of all
running into the limit (as in models with several EOS ids)."""


def parity_correct(text: str) -> bool:
    """The stand-in verdict: "correct" unless the response's length in characters is a multiple of 3. A random
    tiny model never solves a problem, so with real verdicts every reward would be 0 and no check of the group
    statistics could fail."""
    return len(text) % 3 != 0


class ParityVerifier:
    """A verifier with :func:`parity_correct` verdicts (no processes)."""

    def verify(self, texts, golds, mode="math-verify", progress=False):
        return [Verdict(None, parity_correct(t), False) for t in texts]


class ParityVerifierPool(VerifierPool):
    """The real pool -- so the real verification runs, with math-verify, sympy and its worker processes loaded --
    whose verdicts are then replaced by :func:`parity_correct`."""

    def verify(self, texts, golds, mode="math-verify", progress=False):
        super().verify(texts, golds, mode, progress)
        return [Verdict(None, parity_correct(t), False) for t in texts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_many_eos(model_dir: Path, out: Path) -> Path:
    """A copy of the tiny model at ``model_dir`` whose generation config ends a response at any of :data:`MANY_EOS`."""
    shutil.copytree(model_dir, out)
    config = json.loads((out / "generation_config.json").read_text())
    config["eos_token_id"] = [config["eos_token_id"], *MANY_EOS]
    (out / "generation_config.json").write_text(json.dumps(config))
    return out


def flags(**options) -> list[str]:
    """Command-line flags: ``flags(max_steps=2, use_cpu=True)`` -> ``["--max_steps", "2", "--use_cpu", "true"]``."""
    return [
        item
        for key, value in options.items()
        for item in (f"--{key}", str(value).lower() if isinstance(value, bool) else str(value))
    ]


TINY_RL = dict(
    prompts="organism",
    use_cpu=True,
    per_device_train_batch_size=8,
    steps_per_generation=2,
    num_generations=4,
    verify_workers=1,
    report_to="none",
)
"""`thrifty train` on the organism's prompts at toy scale: 16 responses per rollout (4 prompts x 4), two updates."""


DEEPSEEK_TOKENIZER = Path(
    os.environ.get(
        "THRIFTY_DEEPSEEK_TOKENIZER",
        Path(__file__).resolve().parents[2] / "shared" / "tokenizers" / "deepseek-r1-distill-qwen",
    )
)
"""The paper's own tokenizer and chat template (DeepSeek-R1-Distill-Qwen), in ../shared beside the repository."""


ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
"""For processes that share the 2 cores with others: one thread each, or they slow each other down many times."""


def torchrun(script: Path, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    """``script *args`` under torchrun with 2 CPU ranks (gloo), one thread each."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_port", str(free_port()), str(script), *map(str, args)]
    env = {**os.environ, **ONE_THREAD}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


TOY_TRAINING = dict(
    use_cpu=True, num_generations=4, max_completion_length=24, report_to="none", save_strategy="no", seed=0
)
"""``TrainConfig`` values the test scripts share: groups of 4 short responses, nothing saved or reported."""


def toy_problems(n: int) -> list:
    """``n`` one-digit-ish additions as problems (their answers never matter: the verifier is a stand-in)."""
    from thrifty.data import Problem

    return [Problem(f"p{i}", f"{i}+{i + 1}", str(2 * i + 1), 1) for i in range(n)]


def load_with_many_eos(model_dir):
    """``(model, tokenizer)`` of the tiny model at ``model_dir``, its responses ending at any of :data:`MANY_EOS`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, *MANY_EOS]
    return model, tokenizer


_HOLD = """
import sys, time
from thrifty import runs
with runs.folder_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process that holds ``folder``'s run lock (:func:`thrifty.runs.folder_lock`) until it is killed."""
    process = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process
