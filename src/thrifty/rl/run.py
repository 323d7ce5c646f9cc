"""`thrifty train`: one model of the family, from a recipe -- prompts, reward, estimator, TRL, checkpoints, metrics.

Engine glue and nothing else: the equations are :mod:`thrifty.rewards` and :mod:`thrifty.advantages`, the RL
step is :class:`thrifty.rl.trainer.ThriftyTrainer`, the on-disk rules are :mod:`thrifty.runs`.

One rollout = ``generation_batch_size`` responses (prompts × ``num_generations``); it is split into
``steps_per_generation`` optimizer steps, so from the second step on the policy is off its sampling
distribution and the clip acts, as in the paper (256 responses per rollout, 128 per update).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

from thrifty import runs
from thrifty._warnings import filter_known_warnings
from thrifty.args import read_recipe
from thrifty.card import rl_facts
from thrifty.data import Problem
from thrifty.generation.loading import check_model_source
from thrifty.rewards import make_reward, reward_parameters
from thrifty.rl.config import ThriftyArguments, TrainConfig
from thrifty.rl.trainer import ThriftyTrainer
from thrifty.verify import VerifierPool


logger = logging.getLogger(__name__)


def load_recipe(path: str | Path, *overrides: str) -> tuple:
    """``(ThriftyArguments, TrainConfig, ModelConfig)`` of a ``thrifty train`` YAML recipe, with command-line style
    ``overrides`` (``"--alpha", "0.2"``, ...) applied on top, exactly as ``thrifty train --config`` reads it."""
    from trl import ModelConfig

    return read_recipe((ThriftyArguments, TrainConfig, ModelConfig), path, *overrides)


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


def build_dataset(problems: list[Problem], template: str):
    """A ``datasets.Dataset`` of conversational prompts (TRL applies the chat template) and gold answers: a
    problem's question in ``template`` as one user message, or a conversational problem's own messages (the
    template is then not applied, as in :func:`thrifty.data.render_prompt`)."""
    from datasets import Dataset

    from thrifty.data.prompts import note_template_ignored

    if any(p.messages is not None for p in problems):
        note_template_ignored()
    rows = [
        {
            "prompt": p.chat() or [{"role": "user", "content": template.format(question=p.question)}],
            "answer": p.gold,
            "problem_id": p.id,
        }
        for p in problems
    ]
    return Dataset.from_list(rows)


def reward_params(args: ThriftyArguments) -> dict:
    """The parameters of the reward ``args.reward`` names: ``--alpha`` if it takes one, and ``--reward_kwargs``."""
    params = {"alpha": args.alpha} if "alpha" in reward_parameters(args.reward) else {}
    return {**params, **(args.reward_kwargs or {})}


def build_reward(args: ThriftyArguments):
    """The group reward ``args.reward`` names, with ``--alpha`` if it takes one and ``--reward_kwargs``."""
    return make_reward(args.reward, **reward_params(args))


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
    per_rollout = config.generation_batch_size
    updates = config.steps_per_generation / config.gradient_accumulation_steps if config.steps_per_generation else 1
    if config.max_steps and config.max_steps > 0:
        steps = f"{config.max_steps:,} step{'s' * (config.max_steps != 1)}"
    else:
        steps = f"{config.num_train_epochs:g} epoch{'s' * (config.num_train_epochs != 1)}"
    return (
        f"thrifty train: {n_prompts:,} prompts ({args.prompts}), reward {args.reward}{params}, estimator "
        f"{args.advantage_estimator}, {config.num_generations} samples x {per_rollout // config.num_generations} "
        f"prompts = {per_rollout} responses per rollout, {updates:g} update{'s' * (updates != 1)} per rollout, "
        f"{steps}, lr {config.learning_rate:g} -> {config.output_dir}"
    )


def train(args: ThriftyArguments, config: TrainConfig, model_args) -> Path:
    """Train one model of the family; returns the output directory with the final model and ``metrics.jsonl``.
    The folder is held (:func:`thrifty.runs.folder_lock`) while the run writes it."""
    filter_known_warnings()
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

    dataset = build_dataset(args.problems(), args.template())
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
    )
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
        trainer = ThriftyTrainer(
            model=model_args.model_name_or_path,
            reward=build_reward(args),
            reward_name=args.reward,
            advantage_estimator=args.advantage_estimator,
            verifier=pool,
            verifier_mode=args.verifier,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[metrics_callback(out / runs.METRICS)],
            peft_config=get_peft_config(model_args),
            model_card=card,
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
