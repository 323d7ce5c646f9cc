"""`thrifty baseline sample|sft|dpo`: the paper's fine-tuned baselines, as engine glue around TRL and the harness.

    thrifty baseline sft --config recipes/organism/sft.yaml --model M --output_dir runs/baselines/sft
    thrifty baseline dpo --config recipes/organism/dpo.yaml --model M --output_dir runs/baselines/dpo

* **SFT (rejection sampling)** and **DPO** start from one sampled set: ``--samples`` (8) responses per training
  prompt from ``--model`` at temperature 1.0, drawn and verified by the evaluation harness (so it resumes and
  refuses to mix settings) into ``--samples_dir`` -- by default ``<output_dir>/../samples``, which SFT and DPO
  runs that sit side by side share: sampling is the expensive part and is done once. Which responses are kept
  is :mod:`thrifty.baselines.selection` (pure); the fine-tuning is TRL's ``SFTTrainer`` / ``DPOTrainer``.
* **Generation cutoff** needs no training: :mod:`thrifty.baselines.cutoff`.

Each trained baseline writes ``baseline.json`` (what it is, for ``thrifty report``) beside the model, and a
finished run with the same settings is reused; an interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trl import DPOConfig, SFTConfig

from thrifty import runs
from thrifty.args import PromptArguments, read_recipe
from thrifty.baselines.selection import dpo_rows, sft_rows
from thrifty.card import ThriftyModelCard, baseline_facts
from thrifty.data import render_prompt
from thrifty.eval import EvalArguments, evaluate_benchmark, read_samples, sample_settings


logger = logging.getLogger(__name__)


@dataclass
class BaselineArguments(PromptArguments):
    """The model to start from, the prompts (the same as RL's) and how the sampled set is drawn."""

    model: str = field(default="", metadata={"help": "Model to sample from and fine-tune: hub id or local folder."})
    samples: int = field(default=8, metadata={"help": "Responses sampled per training prompt (paper: 8)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of the sampled set (RL's: 1.0)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling of the sampled set."})
    max_new_tokens: int = field(
        default=32768, metadata={"help": "Longest sampled response (RL's max_completion_length)."}
    )
    samples_dir: str | None = field(
        default=None,
        metadata={"help": "Where the sampled set lives (default: <output_dir>/../samples, shared by sft and dpo)."},
    )
    sample_batch_size: int = field(default=64, metadata={"help": "Responses generated per batch while sampling."})
    sample_seed: int = field(default=0, metadata={"help": "Seed of the sampled set."})
    sample_backend: str = field(
        default="hf",
        metadata={"help": "Generation engine for the sampled set: hf, or vllm (see thrifty eval --backend)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if not self.model:
            raise ValueError("--model is required (a hub id or a local folder)")
        if self.samples < 2:
            raise ValueError(f"--samples must be >= 2 (a shortest and a longest response), got {self.samples}")


@dataclass
class FineTuning:
    """What the SFT and DPO baselines pin on top of TRL's configs: one epoch, no truncation (a cut reasoning trace
    would teach the model to stop mid-thought), fp32 unless a GPU recipe sets ``bf16: true``."""

    num_train_epochs: float = 1.0
    max_length: int | None = field(default=None, metadata={"help": "None: never truncate a response."})
    bf16: bool = field(default=False, metadata={"help": "bf16 mixed precision (GPU recipes set true)."})
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Trade compute for memory (GPU recipes: true)."}
    )
    logging_steps: float = 1
    report_to: str | list[str] = field(default="tensorboard", metadata={"help": "tensorboard, wandb, none, ..."})
    save_strategy: str = "epoch"


@dataclass
class SFTBaselineConfig(FineTuning, SFTConfig):
    """TRL's ``SFTConfig`` for fine-tuning on the model's own shortest correct responses: the loss on the response
    only (prompt-completion rows), and :class:`FineTuning`'s defaults."""

    learning_rate: float = field(default=5e-6, metadata={"help": "The paper tried 1e-5, 5e-6 and 2e-6."})
    completion_only_loss: bool | None = True


@dataclass
class DPOBaselineConfig(FineTuning, DPOConfig):
    """TRL's ``DPOConfig`` for (shortest correct, longest correct) pairs: sigmoid loss, β = 0.1, and
    :class:`FineTuning`'s defaults."""

    learning_rate: float = field(default=1e-6, metadata={"help": "DPO learning rate (a recipe value)."})
    beta: float = field(default=0.1, metadata={"help": "DPO's β (deviation from the reference model)."})


def load_baseline_recipe(method: str, path: str | Path, *overrides: str) -> tuple:
    """``(BaselineArguments, SFTBaselineConfig or DPOBaselineConfig)`` of an ``sft`` / ``dpo`` YAML recipe, with
    command-line style ``overrides`` on top, as ``thrifty baseline METHOD --config`` reads it."""
    return read_recipe(
        (BaselineArguments, DPOBaselineConfig if method == "dpo" else SFTBaselineConfig), path, *overrides
    )


# --------------------------------------------------------------------------------------------- the sampled set
def samples_dir(args: BaselineArguments, output_dir: str) -> Path:
    """Where the sampled set lives; never inside ``output_dir``, which a retrain with new settings wipes."""
    folder = Path(args.samples_dir) if args.samples_dir else Path(output_dir).resolve().parent / "samples"
    if folder.resolve().is_relative_to(Path(output_dir).resolve()):
        raise ValueError(
            f"--samples_dir {folder} must not be inside --output_dir {output_dir} (a retrain would delete it)"
        )
    return folder


def sample_training_set(args: BaselineArguments, output_dir: str) -> tuple[dict[str, str], list[dict], dict]:
    """Draw (or resume, or reuse) ``args.samples`` responses per training prompt and verify them.

    Returns ``(prompt text by id, scored records, summary)``; the prompt text is exactly what the model was given.
    Under ``accelerate launch`` (several processes) the set must already be complete -- sample it first with one
    process (``thrifty baseline sample``) -- and every process only reads it.
    """
    from transformers import AutoTokenizer

    unique = list({p.id: p for p in args.problems()}.values())  # the organism repeats level-1 prompts
    folder = samples_dir(args, output_dir)
    eval_args = EvalArguments(
        model=args.model,
        benchmark=runs.SAMPLED_SET,
        out=str(folder),
        samples=args.samples,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.sample_batch_size,
        seed=args.sample_seed,
        backend=args.sample_backend,
        verifier=args.verifier,
        verify_workers=args.verify_workers,
        verify_timeout=args.verify_timeout,
        prompt_template=args.template(),
    )
    set_dir = folder / runs.SAMPLED_SET
    expected = sample_settings(eval_args, runs.SAMPLED_SET, args.samples, unique)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        recorded = runs.read_json_object(set_dir / runs.EVAL_SETTINGS)
        if not (set_dir / runs.SUMMARY).is_file() or recorded != expected:
            raise RuntimeError(
                f"no finished sampled set with these settings in {set_dir}; draw it first with one process "
                "(`thrifty baseline sample` with the same options), then launch the fine-tuning"
            )
        summary = json.loads((set_dir / runs.SUMMARY).read_text())
        if summary.get("verifier") != args.verifier:
            raise RuntimeError(
                f"the sampled set in {set_dir} was scored with --verifier {summary.get('verifier')}, "
                f"not {args.verifier}; "
                "re-score it with one process (`thrifty baseline sample` with the same options) first"
            )
    else:
        logger.info("sampled set: %d prompts × %d samples into %s", len(unique), args.samples, folder)
        summary = evaluate_benchmark(eval_args, runs.SAMPLED_SET, problems=unique)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    prompts = {p.id: trl_prompt(render_prompt(p, tokenizer, args.template()), tokenizer) for p in unique}
    latest = {(r["id"], r["sample"]): r for r in read_samples(set_dir / runs.SAMPLES, runs.fingerprint(expected))}
    records = [r for (pid, j), r in latest.items() if pid in prompts and j < args.samples]
    return prompts, records, summary


def trl_prompt(prompt: str, tokenizer) -> str:
    """The sampled prompt text as TRL must be given it to see the sampled token ids.

    The harness tokenizes the chat-templated prompt without special tokens, but TRL tokenizes plain-text
    rows with them: a tokenizer that adds its BOS itself (DeepSeek-R1-Distill's) would put a second BOS in
    front of the one the chat template wrote. That leading BOS is dropped here, so TRL's ids equal the sampled ones.
    """
    bos = tokenizer.bos_token
    if bos and prompt.startswith(bos):
        ids = tokenizer("a")["input_ids"]
        if ids and ids[0] == tokenizer.bos_token_id:
            return prompt[len(bos) :]
    return prompt


# --------------------------------------------------------------------------------------------- SFT and DPO
class NoTrainingData(RuntimeError):
    """The sampled set holds nothing the baseline can train on (no correct response, or no length difference)."""


def _rows(method: str, prompts: dict[str, str], records: list[dict]) -> list[dict]:
    rows = (sft_rows if method == "sft" else dpo_rows)(prompts, records)
    if not rows:
        need = "a correct response" if method == "sft" else "two correct responses of different lengths"
        raise NoTrainingData(
            f"no training prompt has {need} among the sampled responses, so there is nothing to {method} on; "
            "sample more (--samples), raise --max_new_tokens, or start from a stronger model"
        )
    return rows


def train_baseline(method: str, args: BaselineArguments, config) -> Path:
    """Sample (or reuse the sampled set), select, fine-tune with TRL, save the model and ``baseline.json``."""
    if method not in ("sft", "dpo"):
        raise ValueError(f"unknown baseline {method!r}: sft, dpo or cutoff")
    prompts, records, summary = sample_training_set(args, config.output_dir)
    folder = samples_dir(args, config.output_dir)
    rows = _rows(method, prompts, records)
    logger.info(
        "%s: %d training rows from %d prompts (sampled-set accuracy %.3f, mean tokens %.1f)",
        method,
        len(rows),
        len(prompts),
        summary["accuracy"],
        summary["mean_tokens"],
    )
    record = {
        "method": method,
        "model": args.model,
        "sampled_set": json.loads((folder / runs.SAMPLED_SET / runs.EVAL_SETTINGS).read_text()),
        "rows": len(rows),
        "processes": int(os.environ.get("WORLD_SIZE", "1")),  # the effective batch depends on it
        "rows_sha256": hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest(),  # new samples: retrain
        "config": {k: v for k, v in config.to_dict().items() if k not in _NOT_RECORDED},
    }
    runs.run_once(Path(config.output_dir), record, lambda: _fine_tune(method, args, config, rows))
    if os.environ.get("RANK", "0") == "0":
        info = {**record, "samples_dir": str(folder), "arguments": asdict(args)}
        runs.write_json(Path(config.output_dir) / runs.BASELINE, info)
    return Path(config.output_dir)


_NOT_RECORDED = {  # settings that do not change the trained model (a change to any other retrains it)
    "output_dir",
    "logging_dir",
    "resume_from_checkpoint",
    "report_to",
    "run_name",
    "logging_steps",
    "logging_strategy",
    "save_strategy",
    "save_steps",
    "save_total_limit",
    "disable_tqdm",
    "hub_token",
    "push_to_hub",
    "hub_model_id",
    "dataloader_num_workers",
    "log_level",
    "overwrite_output_dir",
}


def with_thrifty_card(trainer_class):
    """``trainer_class`` (TRL's ``SFTTrainer`` or ``DPOTrainer``) writing thrifty's model card (its ``card``
    attribute) where TRL writes its own, and pushing without the run's private files
    (:class:`thrifty.card.ThriftyModelCard`)."""

    class WithThriftyCard(ThriftyModelCard, trainer_class):
        pass

    WithThriftyCard.__name__ = WithThriftyCard.__qualname__ = f"{trainer_class.__name__}WithThriftyCard"
    return WithThriftyCard


def _fine_tune(method: str, args: BaselineArguments, config, rows: list[dict]) -> None:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOTrainer, SFTTrainer

    config.resume_from_checkpoint = "latest"  # run_once keeps an interrupted run of these settings: resume it
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    trainer_class = with_thrifty_card(SFTTrainer if method == "sft" else DPOTrainer)
    trainer = trainer_class(
        model=args.model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
    )
    trainer.card = baseline_facts(method, args, config, len(rows))
    trainer.train(resume_from_checkpoint=runs.resume_path(config.resume_from_checkpoint, config.output_dir))
    trainer.save_model(config.output_dir)
    trainer.create_model_card()  # thrifty's card: base model, baseline, data, hyperparameters, citation
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(config.output_dir)
