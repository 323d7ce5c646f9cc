"""`thrifty train`: the paper's length-penalised RLOO, run by TRL's ``GRPOTrainer``.

This module is the engine glue and nothing else. The equations live in :mod:`thrifty.reward`; here we
(1) map the paper's hyperparameters onto TRL (:class:`TrainConfig` pins every behaviour-changing default),
(2) plug the reward in so that each prompt's group statistics are computed over the *whole* group even when
TRL splits its samples across processes (:class:`LengthPenaltyReward`), and (3) replace GRPO's advantages
with the exact RLOO ones from :func:`thrifty.reward.rloo_advantages` (:class:`ThriftyTrainer`).

Why ``GRPOTrainer`` and not ``RLOOTrainer`` (see docs/FIDELITY.md): the paper's update is PPO with a
*per-token* clipped ratio (OpenRLHF). TRL 1.16's ``RLOOTrainer`` clips one *sequence-level* ratio;
``GRPOTrainer`` clips per token, and since we hand it exact RLOO advantages its mean baseline never enters.

One rollout = ``generation_batch_size`` responses (prompts × ``num_generations``); it is split into
``steps_per_generation`` optimizer steps, so from the second step on the policy is off its sampling
distribution and the clip acts, as in the paper (256 responses per rollout, 128 per update).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .data import Problem, default_template, load_training_prompts
from .reward import length_penalized_rewards, rloo_advantages

logger = logging.getLogger(__name__)

try:  # TRL is a hard dependency, but keep `import thrifty.train` cheap to document and test without it
    from trl import GRPOConfig, GRPOTrainer
except ImportError:  # pragma: no cover
    GRPOConfig, GRPOTrainer = object, object


# --------------------------------------------------------------------------------------------- configuration
def parse_numbers(text: str, flag: str, cast=float, valid=lambda v: True, rule: str = "numbers", what: str = "numbers") -> list:
    """``"0,0.2"`` -> ``[0.0, 0.2]``: comma-separated values of ``cast``; a clear ``ValueError`` naming ``--flag``
    unless there is at least one and every value is ``valid`` (described by ``rule``)."""
    try:
        values = [cast(x) for x in text.split(",") if x.strip()]
    except ValueError as error:
        raise ValueError(f"--{flag} must be comma-separated {what}, got {text!r}") from error
    if not values or not all(valid(v) for v in values):
        raise ValueError(f"--{flag} must be {rule}, got {text!r}")
    return values


def parse_alphas(text: str) -> list[float]:
    """``"0,0.2"`` -> ``[0.0, 0.2]``; a clear ``ValueError`` unless every value is a number in [0, 1)."""
    return parse_numbers(text, "alphas", valid=lambda a: 0 <= a < 1, rule="values in [0, 1)")


@dataclass
class PromptArguments:
    """Where the training prompts come from and how answers are checked (shared by RL and the baselines)."""

    prompts: str = field(
        default="organism",
        metadata={"help": "Training prompts: 'organism', a hub dataset id, or a local .jsonl/.json/.parquet file."},
    )
    prompts_split: str = field(default="train", metadata={"help": "Split of a hub dataset."})
    max_prompts: int | None = field(default=None, metadata={"help": "Use only the first N usable prompts."})
    organism_prompts_per_level: int = field(default=1000, metadata={"help": "Organism training prompts per level."})
    prompt_template: str | None = field(
        default=None, metadata={"help": "Prompt with a {question} slot (default: the paper's; organism: the bare question)."}
    )
    verifier: str = field(default="math-verify", metadata={"help": "Answer checking: math-verify or paper-compat."})
    verify_workers: int | None = field(default=None, metadata={"help": "Verifier processes per rank (default min(4, CPUs))."})
    verify_timeout: float = field(default=5.0, metadata={"help": "Hard time bound in seconds on one answer check."})

    def template(self) -> str:
        return self.prompt_template if self.prompt_template is not None else default_template(self.prompts)


@dataclass
class ThriftyArguments(PromptArguments):
    """What thrifty adds to TRL's arguments: the method's knobs and where the prompts come from."""

    alpha: float = field(default=0.2, metadata={"help": "Length-penalty strength α in [0, 1); 0 = plain RLOO."})
    advantage_normalization: str = field(
        default="none",
        metadata={
            "help": "none (the paper), group (GRPO's per-prompt std) or batch (global whitening): the Fig. 5 ablation.",
            "choices": ["none", "group", "batch"],
        },
    )

    def __post_init__(self):
        if not 0 <= self.alpha < 1:
            raise ValueError(f"--alpha must be in [0, 1), got {self.alpha}")


@dataclass
class TrainConfig(GRPOConfig):
    """TRL's ``GRPOConfig`` with the paper's values as defaults, every behaviour-changing one pinned.

    TRL's own defaults differ and drift between releases (1.16: ``loss_type="dapo"``, ``scale_rewards="group"``,
    ``beta=0``, ``bf16=True``, ``use_bias_correction_kl=True``); a recipe that leaves a key out gets the
    paper's value, not TRL's.
    """

    learning_rate: float = field(default=5e-6, metadata={"help": "Paper: 5e-6 (1.5B), 2e-6 (7B)."})
    lr_scheduler_type: str = field(default="constant_with_warmup", metadata={"help": "Paper: warmup, then constant."})
    warmup_steps: float = field(default=0.05, metadata={"help": "Warmup steps (int) or fraction of steps (< 1)."})
    num_generations: int = field(default=8, metadata={"help": "Samples per prompt (paper: 8)."})
    temperature: float = field(default=1.0, metadata={"help": "Rollout temperature (paper: 1.0)."})
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    beta: float = field(default=1e-3, metadata={"help": "KL coefficient to the reference model (paper: 1e-3)."})
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range (paper: 0.2)."})
    importance_sampling_level: str = field(default="token", metadata={"help": "PPO ratio per token, as in the paper."})
    loss_type: str = field(default="grpo", metadata={"help": "Per-sequence token mean, then batch mean (OpenRLHF)."})
    scale_rewards: str = field(
        default="none", metadata={"help": "Unused by thrifty (advantages come from thrifty.reward); kept at 'none'."}
    )
    mask_truncated_completions: bool = field(
        default=False, metadata={"help": "Truncated responses stay in the loss with reward 0, as in the paper."}
    )
    use_bias_correction_kl: bool = field(default=False, metadata={"help": "Plain k3 KL estimator, no IS reweighting."})
    num_iterations: int = field(default=1, metadata={"help": "Passes over each rollout (paper: 1)."})
    epsilon_high: float | None = field(default=None, metadata={"help": "Upper clip; None = epsilon (symmetric, as the paper)."})
    top_entropy_quantile: float = field(default=1.0, metadata={"help": "Train on all tokens (1.0), as the paper."})
    entropy_coef: float = field(default=0.0, metadata={"help": "No entropy bonus, as the paper."})
    vllm_importance_sampling_correction: bool = field(
        default=False, metadata={"help": "TRL's vLLM/trainer mismatch correction; the paper has none."}
    )
    bf16: bool = field(default=False, metadata={"help": "bf16 mixed precision (GPU recipes set true)."})
    disable_dropout: bool = True
    logging_steps: float = 1
    report_to: str | list[str] = field(default="tensorboard", metadata={"help": "tensorboard, wandb, none, ..."})
    save_strategy: str = "steps"
    save_steps: float = field(default=50, metadata={"help": "Checkpoint every N steps; keep it a whole number of rollouts."})
    log_completions: bool = False


# --------------------------------------------------------------------------------------------- reward adapter
class LengthPenaltyReward:
    r"""TRL reward function for :func:`thrifty.reward.length_penalized_rewards`, group-aware across processes.

    TRL calls reward functions on each process's slice of the rollout, and one prompt's ``num_generations``
    samples can straddle two processes. So every call gathers (prompt, correct, length, truncated) from all
    processes in rank order -- TRL's own layout, where sample ``i`` of the rollout belongs to prompt
    ``i // num_generations`` -- computes rewards and RLOO advantages on the whole rollout, and returns this
    process's slice. The advantages are kept for :class:`ThriftyTrainer`, which uses them instead of GRPO's.

    Args:
        alpha (`float`): length-penalty strength in [0, 1).
        num_generations (`int`): samples per prompt.
        normalization (`str`): advantage normalisation, ``"none"`` (the paper), ``"group"`` or ``"batch"``.
        verifier (`VerifierPool`): checks the final answers; ``mode`` is its mode.
        eos_token_ids (`list[int]`): a response not ending in one of these was cut at the length limit.
    """

    __name__ = "length_penalized"

    def __init__(self, alpha: float, num_generations: int, normalization: str, verifier, mode: str, eos_token_ids):
        if not 0 <= alpha < 1:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        if num_generations < 2:
            raise ValueError(f"RLOO needs at least 2 samples per prompt, got num_generations={num_generations}")
        self.alpha, self.num_generations, self.normalization = alpha, num_generations, normalization
        self.verifier, self.mode, self.eos_token_ids = verifier, mode, set(eos_token_ids)
        self.advantages: list[float] | None = None

    def __call__(self, prompts, completions, completion_ids, answer, log_metric=None, **kwargs) -> list[float]:
        from accelerate import PartialState
        from accelerate.utils import gather_object

        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        verdicts = self.verifier.verify(texts, answer, self.mode)
        keys = [str(p) for p in prompts]
        local = [
            (key, v.correct, len(ids), not ids or ids[-1] not in self.eos_token_ids)
            for key, v, ids in zip(keys, verdicts, completion_ids)
        ]
        state = PartialState()
        everything = gather_object(local) if state.num_processes > 1 else local
        sizes = gather_object([len(local)]) if state.num_processes > 1 else [len(local)]
        start = sum(sizes[: state.process_index])

        if len(everything) % self.num_generations:
            raise RuntimeError(f"rollout of {len(everything)} responses is not a whole number of groups of {self.num_generations}")
        groups = [i // self.num_generations for i in range(len(everything))]
        for i, (key, *_rest) in enumerate(everything):
            if key != everything[groups[i] * self.num_generations][0]:
                raise RuntimeError("a prompt's samples are not contiguous in the rollout; TRL's sampler layout changed")
        correct = [c for _, c, _, _ in everything]
        lengths = [n for _, _, n, _ in everything]
        truncated = [t for _, _, _, t in everything]
        rewards = length_penalized_rewards(correct, lengths, groups, self.alpha, truncated)
        advantages = rloo_advantages(rewards, groups, self.normalization)
        self.advantages = advantages[start : start + len(local)]

        if log_metric is not None:
            solved = [n for n, c, t in zip(lengths, correct, truncated) if c and not t]
            log_metric("accuracy", sum(c and not t for c, t in zip(correct, truncated)) / len(everything))
            log_metric("tokens/mean", sum(lengths) / len(lengths))
            if solved:  # no entry (rather than NaN) for a rollout without a correct answer
                log_metric("tokens/mean_correct", sum(solved) / len(solved))
            log_metric("truncated", sum(truncated) / len(truncated))
            log_metric("alpha", self.alpha)
        return rewards[start : start + len(local)]


class ThriftyTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose advantages are the exact RLOO ones computed by :class:`LengthPenaltyReward`.

    GRPO's own advantage is ``r_i − mean_j r_j`` (a mean that includes ``r_i``), i.e. the RLOO advantage
    times ``(n − 1)/n``; we overwrite it so the update, the clip and the KL see exactly the paper's quantity.
    """

    def __init__(self, *args, length_reward: LengthPenaltyReward, **kwargs):
        super().__init__(*args, **kwargs)
        from .vllm_cpu import use_cpu_weight_sync

        use_cpu_weight_sync(self)  # colocated vLLM on a CPU: TRL's own weight sync fails there
        self.length_reward = length_reward
        length_reward.eos_token_ids = set(self.eos_token_ids)

    def _generate_and_score_completions(self, inputs):
        import torch

        self.length_reward.advantages = None
        self.length_reward.num_generations = self.num_generations if self.model.training else self.num_generations_eval
        output = super()._generate_and_score_completions(inputs)
        advantages = self.length_reward.advantages
        if advantages is None or len(advantages) != len(output["advantages"]):
            raise RuntimeError("the length-penalty reward did not run on this rollout; it must be the only reward function")
        output["advantages"] = torch.tensor(advantages, dtype=output["advantages"].dtype, device=output["advantages"].device)
        return output


# --------------------------------------------------------------------------------------------- logging
def metrics_callback(path: Path):
    """A ``TrainerCallback`` appending each log record, with the step and wall time, to ``metrics.jsonl``."""
    from transformers import TrainerCallback

    class MetricsJsonl(TrainerCallback):
        def __init__(self):
            self.start = time.time()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            record = {"step": state.global_step, "epoch": state.epoch, "wall_seconds": round(time.time() - self.start, 2)}
            record.update({k: v for k, v in logs.items() if isinstance(v, (int, float, str))})
            with path.open("a") as f:
                f.write(json.dumps(record) + "\n")

    return MetricsJsonl()


# --------------------------------------------------------------------------------------------- data
def training_problems(args: PromptArguments) -> list[Problem]:
    """The prompts to train on: the organism's training split, or a Numina-style set filtered for checkability."""
    if args.prompts == "organism":
        from .organism import train_problems

        problems = train_problems(args.organism_prompts_per_level)
    else:
        problems, report = load_training_prompts(args.prompts, split=args.prompts_split, limit=args.max_prompts)
        logger.info("training prompts: %s", report)
    if args.max_prompts is not None:
        problems = problems[: args.max_prompts]
    if not problems:
        raise ValueError(f"no usable training prompts in {args.prompts!r}")
    return problems


def build_dataset(problems: list[Problem], template: str):
    """A ``datasets.Dataset`` of conversational prompts (TRL applies the chat template) and gold answers."""
    from datasets import Dataset

    return Dataset.from_list(
        [
            {"prompt": [{"role": "user", "content": template.format(question=p.question)}], "answer": p.gold, "problem_id": p.id}
            for p in problems
        ]
    )


# --------------------------------------------------------------------------------------------- main
def _last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest ``checkpoint-N`` in ``output_dir`` that holds its ``trainer_state.json``, or None.

    The Trainer writes that file last, so a run killed while saving leaves a newer folder without it; resuming
    from that one (as transformers' ``get_last_checkpoint`` would) fails, so it is skipped.
    """
    steps = {path: path.name.removeprefix("checkpoint-") for path in Path(output_dir).glob("checkpoint-*") if path.is_dir()}
    found = {int(step): path for path, step in steps.items() if step.isdigit()}
    complete = [step for step, path in found.items() if (path / "trainer_state.json").is_file()]
    if not complete:
        return None
    last = max(complete)
    if skipped := sorted(step for step in found if step > last):
        logger.warning("skipping incomplete checkpoints (no trainer_state.json) at steps %s", skipped)
    return str(found[last])


def _resume_path(value, output_dir: str) -> str | None:
    if value in (None, False, "", "false", "False"):
        return None
    if value in (True, "true", "True", "latest"):
        last = _last_complete_checkpoint(output_dir)
        if last is None:  # "latest" is run_once's "resume if there is anything to resume": a fresh start is normal
            (logger.info if value == "latest" else logger.warning)("no checkpoint in %s; starting from scratch", output_dir)
        return last
    if not os.path.isdir(value):
        raise FileNotFoundError(f"--resume_from_checkpoint: no such checkpoint directory: {value}")
    return value


def _trim_metrics(path: Path, resume: str | None) -> None:
    """A fresh run starts a new ``metrics.jsonl``; a resumed one keeps only the records up to its checkpoint's step."""
    if not path.exists():
        return
    if resume is None:
        path.unlink()
        return
    step = json.loads((Path(resume) / "trainer_state.json").read_text())["global_step"]
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in kept))


def run_once(config, record: dict, run) -> bool:
    """Call ``run()`` to train into ``config.output_dir`` unless a finished run with the same ``record`` is there
    (then return False).

    A run interrupted with the same ``record`` resumes from its last checkpoint (``config.resume_from_checkpoint``
    is set to "latest"); a folder left by a run with another record is deleted first, so no stale checkpoint,
    metric or evaluation survives. ``record`` is any JSON describing what determines the model. Under
    ``accelerate launch`` only the main process touches the folder, and every process waits for it, so all of
    them take the same decision.
    """
    import shutil

    from accelerate import PartialState

    state = PartialState()
    out = Path(config.output_dir)
    started, done = out / "run_started.json", out / "run_done.json"
    text = json.dumps(record, sort_keys=True) + "\n"
    finished = lambda: done.is_file() and done.read_text() == text  # noqa: E731
    if state.is_main_process and not finished():
        if out.exists() and not (started.is_file() and started.read_text() == text):
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        started.write_text(text)
    state.wait_for_everyone()
    reuse = finished()
    state.wait_for_everyone()  # every rank has read the verdict before the main one can touch the folder again
    if reuse:
        logger.info("%s: already trained with these settings, reusing it", out)
        return False
    config.resume_from_checkpoint = "latest"  # the last checkpoint of this very record, or none (a fresh start)
    run()
    state.wait_for_everyone()
    if state.is_main_process:
        done.write_text(text)
    return True


def train_once(args: ThriftyArguments, config: TrainConfig, model_args, record: dict) -> bool:
    """:func:`train` through :func:`run_once` (used by ``thrifty demo`` and ``thrifty sweep``)."""
    return run_once(config, record, lambda: train(args, config, model_args))


def train(args: ThriftyArguments, config: TrainConfig, model_args) -> Path:
    """Train one model of the family; returns the output directory with the final model and ``metrics.jsonl``."""
    from transformers import AutoTokenizer
    from trl import get_peft_config

    from .verify import VerifierPool

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    resume = _resume_path(config.resume_from_checkpoint, config.output_dir)
    _trim_metrics(out / "metrics.jsonl", resume)
    updates_per_rollout = config.steps_per_generation / config.gradient_accumulation_steps if config.steps_per_generation else 1
    if config.save_strategy == "steps" and config.save_steps >= 1 and config.save_steps % updates_per_rollout:
        logger.warning(
            "save_steps=%s is not a multiple of the %g updates per rollout: a resumed run would restart mid-rollout",
            config.save_steps, updates_per_rollout,
        )
    (out / "thrifty_args.json").write_text(json.dumps(vars(args), indent=2) + "\n")

    problems = training_problems(args)
    dataset = build_dataset(problems, args.template())
    tokenizer = AutoTokenizer.from_pretrained(
        model_args.model_name_or_path, revision=model_args.model_revision, trust_remote_code=config.trust_remote_code
    )
    config.model_init_kwargs = {
        "dtype": model_args.dtype or "auto",
        "revision": model_args.model_revision,
        **({"attn_implementation": model_args.attn_implementation} if model_args.attn_implementation else {}),
        **(config.model_init_kwargs or {}),
    }

    with VerifierPool(workers=args.verify_workers, timeout=args.verify_timeout) as pool:
        reward = LengthPenaltyReward(args.alpha, config.num_generations, args.advantage_normalization, pool, args.verifier, [])
        trainer = ThriftyTrainer(
            model=model_args.model_name_or_path,
            reward_funcs=[reward],
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[metrics_callback(out / "metrics.jsonl")],
            length_reward=reward,
            peft_config=get_peft_config(model_args),
        )
        trainer.train(resume_from_checkpoint=resume)
        trainer.save_model(str(out))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(out)
    return out
