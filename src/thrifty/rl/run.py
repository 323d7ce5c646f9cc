"""`thrifty train`: one model of the family, from a recipe -- prompts, reward, estimator, TRL, checkpoints, metrics.

Engine glue and nothing else: the equations are :mod:`thrifty.rewards` and :mod:`thrifty.advantages`, the RL
step is :class:`thrifty.rl.trainer.ThriftyTrainer`, the on-disk rules are :mod:`thrifty.runs`.

One rollout = ``generation_batch_size`` responses (prompts × ``num_generations``); it is split into
``steps_per_generation`` optimizer steps, so from the second step on the policy is off its sampling
distribution and the clip acts, as in the paper (256 responses per rollout, 128 per update).
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import asdict
from pathlib import Path

from thrifty import runs
from thrifty._warnings import filter_known_warnings
from thrifty.args import read_recipe
from thrifty.card import UPDATE_FIELDS, rl_facts
from thrifty.data import Problem
from thrifty.generation.loading import check_model_source
from thrifty.profiles import PROFILES
from thrifty.rewards import PromptedReward, make_reward
from thrifty.rl.config import (
    ThriftyArguments,
    TrainConfig,
    apply_profile,
    check_recipe_alpha,
    explicit_keys,
    option_names,
)
from thrifty.rl.trainer import ThriftyTrainer
from thrifty.verify import VerifierPool


logger = logging.getLogger(__name__)


def load_recipe(path: str | Path, *overrides: str) -> tuple:
    """``(ThriftyArguments, TrainConfig, ModelConfig)`` of a ``thrifty train`` YAML recipe, with command-line style
    ``overrides`` (``"--alpha", "0.2"``, ...) applied on top, exactly as ``thrifty train --config`` reads it."""
    from trl import ModelConfig

    check_recipe_alpha(["--config", str(path), *overrides])
    args, config, model_args = read_recipe((ThriftyArguments, TrainConfig, ModelConfig), path, *overrides)
    known = option_names(ThriftyArguments, TrainConfig, ModelConfig)
    apply_profile(args, config, explicit_keys(["--config", str(path), *overrides], known))
    return args, config, model_args


def metrics_callback(path: Path):
    """A ``TrainerCallback`` appending each log record, with the step and wall time, to ``metrics.jsonl``."""
    from transformers import TrainerCallback

    class MetricsJsonl(TrainerCallback):
        def __init__(self):
            self.start = time.time()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            record = {
                "step": state.global_step,
                "epoch": state.epoch,
                "wall_seconds": round(time.time() - self.start, 2),
            }
            record.update({k: v for k, v in logs.items() if isinstance(v, (int, float, str))})
            runs.append_jsonl(path, [record])  # flushed to disk: a crash leaves whole records

    return MetricsJsonl()


def build_dataset(
    problems: list[Problem], template: str, prompt_format: str = "chat", tokenizer=None, reward=None, seed: int = 0
):
    """A ``datasets.Dataset`` of prompts and gold answers.

    ``prompt_format="chat"``: conversational prompts (TRL applies the chat template): a problem's question in
    ``template`` as one user message, or a conversational problem's own messages (the template is then not
    applied, as in :func:`thrifty.data.render_prompt`). ``"raw"``: the filled-in ``template`` is the whole prompt
    text, no chat template (:func:`thrifty.data.prompts.raw_prompt`: a BOS written in it is not doubled by
    ``tokenizer``'s own).

    A ``reward`` that writes its target into the prompt (:class:`thrifty.rewards.PromptedReward`, e.g. L1's token
    budget) draws each row's targets once, from a generator seeded by ``seed`` and the row's index: they become
    columns of the row (the reward reads them back) and its instruction is appended to the question (to the last
    user message of a conversational row).
    """
    from datasets import Dataset

    from thrifty.data.prompts import note_template_ignored, raw_prompt, with_instruction

    conversational = [p.id for p in problems if p.messages is not None]
    if conversational and prompt_format == "raw":
        raise ValueError(
            f"--prompt_format raw fills a template with a question, but {len(conversational)} rows are chat "
            f"messages (e.g. id {conversational[0]!r}); use --prompt_format chat for them"
        )
    if conversational:
        note_template_ignored()

    if prompt_format == "raw" and tokenizer is not None:
        vocab = tokenizer.get_vocab()
        missing = [marker for marker in re.findall(r"<｜[^｜<>]+｜>", template) if marker not in vocab]
        if missing:
            raise ValueError(
                f"--prompt_format raw: the prompt template writes DeepSeek-R1's special tokens as text "
                f"({', '.join(missing)}), and this model's tokenizer has no such tokens; use --prompt_format chat, "
                "or give this model's own raw prompt with --prompt_template"
            )

    def prompt(p: Problem):
        if prompt_format == "raw":
            return raw_prompt(p.question, template, tokenizer)
        return p.chat() or [{"role": "user", "content": template.format(question=p.question)}]

    rows = []
    for index, p in enumerate(problems):
        columns = {}
        if isinstance(reward, PromptedReward):
            columns = reward.prompt_columns(random.Random(f"{seed}:{index}"))
            p = with_instruction(p, reward.instruction(columns))
        rows.append({"prompt": prompt(p), "answer": p.gold, "problem_id": p.id, **columns})
    return Dataset.from_list(rows)


def reward_params(args: ThriftyArguments) -> dict:
    """The parameters of the reward ``args.reward`` names: ``--alpha`` if it takes one, ``--grade_truncated`` when
    set, and ``--reward_kwargs``."""
    return ThriftyArguments.reward_params(args)


def build_reward(args: ThriftyArguments):
    """The group reward ``args.reward`` names, with ``--alpha`` if it takes one and ``--reward_kwargs``."""
    return make_reward(args.reward, **reward_params(args))


def profile_note(args) -> str:
    """How the update departs from the paper's, for the start line: the official profile and any of its pieces set
    otherwise, or the pieces of the official update switched on in the paper profile; nothing for the paper's.

    Example:
        >>> profile_note(ThriftyArguments(prompts="organism", profile="official", whiten_advantages="none"))
        ', official profile with whiten_advantages=none'
        >>> profile_note(ThriftyArguments(prompts="organism", kl_penalty="reward"))
        ', kl_penalty=reward'
    """
    profile = getattr(args, "profile", "paper")
    if profile not in PROFILES:
        return ""
    changed = [f"{k}={getattr(args, k)}" for k, v in PROFILES[profile].items() if getattr(args, k, v) != v]
    if profile == "paper":
        return "".join(f", {c}" for c in changed)
    return f", {profile} profile" + (f" with {', '.join(changed)}" if changed else "")


def start_line(args: ThriftyArguments, config: TrainConfig, n_prompts: int) -> str:
    """One line saying what ``thrifty train`` is about to do: the prompts, the method, the rollout and the schedule.

    Example:
        >>> from types import SimpleNamespace
        >>> args = SimpleNamespace(prompts="organism", reward="length_penalized", alpha=0.2, reward_kwargs=None,
        ...                        advantage_estimator="rloo")
        >>> config = SimpleNamespace(num_generations=8, generation_batch_size=128, steps_per_generation=4,
        ...     gradient_accumulation_steps=2, max_steps=200, num_train_epochs=1, learning_rate=1e-5,
        ...     output_dir="runs/x")
        >>> print(start_line(args, config, 3000))  # doctest: +NORMALIZE_WHITESPACE
        thrifty train: 3,000 prompts (organism), reward length_penalized α=0.2, estimator rloo, 8 samples x 16 prompts
        = 128 responses per rollout, 2 updates per rollout, 200 steps, lr 1e-05 -> runs/x
    """
    params = "".join(
        f" {'α' if name == 'alpha' else name}={value:g}" if isinstance(value, float) else f" {name}={value}"
        for name, value in reward_params(args).items()
    )
    dynamic = getattr(args, "dynamic_sampling", "none")
    sampling = f", dynamic sampling by {dynamic}" if dynamic != "none" else ""
    per_rollout = config.generation_batch_size
    updates = config.steps_per_generation / config.gradient_accumulation_steps if config.steps_per_generation else 1
    if config.max_steps and config.max_steps > 0:
        steps = f"{config.max_steps:,} step{'s' * (config.max_steps != 1)}"
    else:
        steps = f"{config.num_train_epochs:g} epoch{'s' * (config.num_train_epochs != 1)}"
    return (
        f"thrifty train: {n_prompts:,} prompts ({args.prompts}), reward {args.reward}{params}, estimator "
        f"{args.advantage_estimator}{profile_note(args)}{sampling}, {config.num_generations} samples x "
        f"{per_rollout // config.num_generations} prompts = {per_rollout} responses per rollout, "
        f"{updates:g} update{'s' * (updates != 1)} per rollout, "
        f"{steps}, lr {config.learning_rate:g} -> {config.output_dir}"
    )


def check_precision(trainer) -> None:
    """Refuse to train 16-bit weights with plain data parallelism: AdamW would update them in place, and most
    updates of a small learning rate (5e-6 on weights of size ~1e-2) round away in bf16's 8-bit mantissa. DeepSpeed
    ZeRO and FSDP keep fp32 master weights; LoRA adapters are fp32 (the frozen base may be 16-bit). Checked on the
    parameters being trained, whatever ``--dtype`` said (``auto`` loads a bf16 checkpoint as bf16)."""
    import torch

    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        return
    low = {p.dtype for p in trainer.model.parameters() if p.requires_grad} & {torch.bfloat16, torch.float16}
    if low:
        dtype = str(sorted(low, key=str)[0]).replace("torch.", "")
        raise ValueError(
            f"the weights being trained are {dtype}, and without DeepSpeed ZeRO or FSDP (which keep fp32 master "
            f"weights) the optimizer would update them in {dtype}, where most steps of lr "
            f"{trainer.args.learning_rate:g} round away. Launch with a ZeRO config (accelerate launch --config_file "
            "recipes/accelerate_configs/zero2.yaml -m thrifty.cli train ...), train LoRA adapters (--use_peft), or "
            "load fp32 weights (--dtype float32) and keep --bf16 true for mixed precision"
        )


def train(args: ThriftyArguments, config: TrainConfig, model_args) -> Path:
    """Train one model of the family; returns the output directory with the final model and ``metrics.jsonl``.
    The folder is held (:func:`thrifty.runs.folder_lock`) while the run writes it."""
    filter_known_warnings()
    if getattr(config, "thrifty_profile", None) != args.profile:  # built in Python, not by a recipe or the CLI
        apply_profile(args, config)
    model_args.model_name_or_path = check_model_source(model_args.model_name_or_path, "--model_name_or_path")
    out = Path(config.output_dir)
    with runs.folder_lock(out):
        return _train(args, config, model_args, out)


def _train(args: ThriftyArguments, config: TrainConfig, model_args, out: Path) -> Path:
    from accelerate import PartialState
    from transformers import AutoTokenizer
    from trl import get_peft_config

    resume = runs.resume_path(config.resume_from_checkpoint, config.output_dir)
    if PartialState().is_main_process:  # the one writer of metrics.jsonl
        runs.trim_metrics(out / runs.METRICS, resume)
    updates_per_rollout = (
        config.steps_per_generation / config.gradient_accumulation_steps if config.steps_per_generation else 1
    )
    if config.save_strategy == "steps" and config.save_steps >= 1 and config.save_steps % updates_per_rollout:
        logger.warning(
            "save_steps=%s is not a multiple of the %g updates per rollout: a resumed run would restart mid-rollout",
            config.save_steps,
            updates_per_rollout,
        )
    if PartialState().is_main_process:  # one writer: every rank's args are the same
        runs.write_json(out / runs.RUN_ARGS, asdict(args))
        start = {"model_name_or_path": model_args.model_name_or_path}
        runs.write_json(out / runs.TRAIN_CONFIG, {**start, **config.to_dict()})  # for reports

    tokenizer = AutoTokenizer.from_pretrained(
        model_args.model_name_or_path, revision=model_args.model_revision, trust_remote_code=config.trust_remote_code
    )
    reward = build_reward(args)
    dataset = build_dataset(args.problems(), args.template(), args.prompt_format, tokenizer, reward, config.seed)
    if PartialState().is_main_process:
        logger.info(start_line(args, config, len(dataset)))
    card = rl_facts(
        config,
        base_model=model_args.model_name_or_path,
        reward=args.reward,
        reward_params=reward_params(args),
        advantage_estimator=args.advantage_estimator,
        prompts=args.prompts,
        prompts_split=args.prompts_split,
        n_prompts=len(dataset),
        **{name: getattr(args, name) for name in UPDATE_FIELDS},
    )
    config.model_init_kwargs = {
        "dtype": model_args.dtype or "auto",
        "revision": model_args.model_revision,
        **({"attn_implementation": model_args.attn_implementation} if model_args.attn_implementation else {}),
        **(config.model_init_kwargs or {}),
    }

    with VerifierPool(workers=args.verify_workers, timeout=args.verify_timeout) as pool:
        trainer = ThriftyTrainer(
            model=model_args.model_name_or_path,
            reward=reward,
            reward_name=args.reward,
            advantage_estimator=args.advantage_estimator,
            verifier=pool,
            verifier_mode=args.verifier,
            kl_penalty=args.kl_penalty,
            whiten_advantages=args.whiten_advantages,
            grade_truncated=args.grade_truncated,
            length_measure=args.length_measure,
            length_unit=args.length_unit,
            max_prompt_length=args.max_prompt_length,
            dynamic_sampling=args.dynamic_sampling,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[metrics_callback(out / runs.METRICS)],
            peft_config=get_peft_config(model_args),
            model_card=card,
        )
        check_precision(trainer)
        if args.grade_truncated and config.mask_truncated_completions:
            logger.warning(
                "--grade_truncated with --mask_truncated_completions: truncated responses are graded, then left out "
                "of the loss (the official code trains on them)"
            )
        trainer.train(resume_from_checkpoint=resume)
        trainer.save_model(str(out))
        trainer.create_model_card()  # thrifty's card (push_to_hub publishes it too): base, method, α, data, citation
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(out)
    return out


def train_once(args: ThriftyArguments, config: TrainConfig, model_args, record: dict) -> bool:
    """:func:`train` through :func:`thrifty.runs.run_once`: skipped (False) when ``config.output_dir`` holds a
    finished run with the same ``record``, resumed from its last checkpoint when it holds an interrupted one."""

    def run():
        config.resume_from_checkpoint = "latest"  # the last checkpoint of this very record, or none (a fresh start)
        train(args, config, model_args)

    return runs.run_once(Path(config.output_dir), record, run)
