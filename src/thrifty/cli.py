"""The ``thrifty`` command. Thin: parse arguments (CLI flags and/or a YAML ``--config``), call the library.

thrifty eval --model PATH_OR_HUB_ID --benchmark math500 --data-dir ../shared/benchmarks --limit 20
thrifty eval --config my-eval.yaml --model my-checkpoint                  # YAML + CLI overrides
thrifty sweep --recipe recipes/organism/alpha_0.yaml --alphas 0,0.1,0.2,0.4 --out runs/sweep
thrifty baseline sft --config recipes/organism/sft.yaml --model M --output_dir runs/baselines/sft
thrifty baseline cutoff --model M --benchmark gsm8k --limits 1024,2048,4096 --out runs/baselines
thrifty report runs/sweep runs/baselines --out runs/report                # table, plots, examples
thrifty generate "What is 1+1?" --model M --compare M2                   # one question, side by side
thrifty tiny-model --out runs/tiny-model                                 # a random tiny Qwen2 for smoke tests
thrifty tiny-model --tokenizer ../shared/tokenizers/deepseek-r1-distill-qwen --out runs/tiny-r1  # the real tokenizer
thrifty organism --out runs/organism/base                                # build the CPU model organism
thrifty train --config recipes/organism/alpha_0.2.yaml                   # length-penalised RLOO (TRL)
accelerate launch --config_file recipes/accelerate_configs/zero2.yaml -m thrifty.cli train --config ...
thrifty --version                                                         # thrifty X.Y.Z
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from thrifty._warnings import filter_known_warnings


COMMANDS = {
    "eval": "Sample responses to benchmark problems, check the answers, and report accuracy and response length.",
    "demo": "The method end to end on the CPU model organism: build, train α = 0 and 0.2, evaluate, report (~14 min).",
    "train": "Train with the paper's length-penalised RLOO (PPO clip, KL to the reference) on TRL's GRPOTrainer.",
    "organism": "Build the base model organism: a tiny Qwen2 SFT'd to overthink column addition (CPU, minutes).",
    "sweep": "Train the α family from one recipe (one folder per α; other flags override the recipe), evaluate each.",
    "baseline": "The paper's baselines: sft or dpo on the model's own shortest correct responses, or the cutoff; "
    "budget forcing (s1) over thinking budgets.",
    "report": "One report over runs: table, accuracy-vs-tokens per benchmark, training dynamics, ablation, examples.",
    "generate": "Answer one question with one or more models and show each response with its token count.",
    "tiny-model": "Build a random tiny Qwen2 (a character tokenizer, or a real model's with --tokenizer) for smoke "
    "tests and demos.",
}


RENAMED = {
    "advantage_normalization": "--advantage_estimator (none -> rloo, group -> rloo-std; batch -> rloo with "
    "--whiten_advantages tokens)",
    "organism_prompts_per_level": "--prompts_per_level",
}
"""Flags of earlier versions, for the error an old recipe or command line gets."""


@dataclass
class TinyModelArguments:
    """Arguments of ``thrifty tiny-model``."""

    out: str = field(default="runs/tiny-model", metadata={"help": "Folder to save the model and tokenizer to."})
    hidden_size: int = field(default=64, metadata={"help": "Width of the model."})
    num_layers: int = field(default=2, metadata={"help": "Number of transformer layers."})
    seed: int = field(default=0, metadata={"help": "Seed of the random initialisation."})
    tokenizer: str | None = field(
        default=None,
        metadata={
            "help": "A real model's tokenizer (folder or hub id), saved with the model, whose BOS/EOS/pad ids and "
            "chat template the model takes (e.g. ../shared/tokenizers/deepseek-r1-distill-qwen: a stand-in for "
            "DeepSeek-R1-Distill-Qwen). Default: a character tokenizer."
        },
    )
    vocab_size: int | None = field(
        default=None,
        metadata={
            "help": "Embedding rows, at least the tokenizer's size. Default: the character tokenizer's size, or "
            "152,064 (DeepSeek-R1-Distill-Qwen-7B's) with --tokenizer."
        },
    )
    eos_probability: float = field(
        default=0.0,
        metadata={
            "help": "Make each token sampled at temperature 1 EOS with about this probability, so random responses "
            "end at varied lengths (0: a random model over a large vocabulary practically never ends one)."
        },
    )


def _usage() -> str:
    lines = [
        "usage: thrifty <command> [options]   (thrifty <command> --help for its options; thrifty --version)",
        "",
        "commands:",
    ]
    lines += [f"  {name:<12} {text}" for name, text in COMMANDS.items()]
    lines += [
        "",
        "examples:",
        "  thrifty tiny-model --out runs/tiny-model",
        "  thrifty eval --model runs/tiny-model --benchmark gsm8k --data-dir ../shared/benchmarks --limit 5",
        "  thrifty eval --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --benchmark gsm8k,math500,aime24",
    ]
    return "\n".join(lines)


def _parse(dataclass_types, command: str, argv: list[str], strict: bool = True):
    """Parse flags and an optional ``--config`` YAML; ``strict=False`` ignores YAML keys no dataclass knows."""
    from trl import TrlParser

    from thrifty.args import parse_config

    many = isinstance(dataclass_types, (list, tuple))
    parser = TrlParser(
        list(dataclass_types) if many else [dataclass_types],
        prog=f"thrifty {command}",
        description=COMMANDS[command] + " Options can also come from a YAML file: --config FILE (flags override it).",
    )
    _mark_required(parser)
    try:
        parsed = parse_config(parser, argv, strict)
    except ValueError as error:
        hints = [f"--{old} is now {new}" for old, new in RENAMED.items() if f"--{old}" in str(error)]
        raise ValueError("; ".join([str(error), *hints])) from error
    return parsed if many else parsed[0]


REQUIRED = ("model", "model_name_or_path", "recipe")
"""Options every run of their command needs, though the parser cannot demand them (they may come from --config)."""


def _mark_required(parser) -> None:
    """``--help`` says "(required)" for :data:`REQUIRED` options instead of ``(default: )`` or ``(default: None)``.

    ``%(default).0s`` formats to nothing, and its presence stops argparse from appending the default."""
    for action in parser._actions:
        if action.dest in REQUIRED and (action.required or action.default in (None, "")):
            action.help = f"{action.help or ''} (required)%(default).0s"


def _train(argv: list[str]) -> int:
    from trl import ModelConfig

    from thrifty.rl import ThriftyArguments, TrainConfig, train
    from thrifty.rl.config import apply_profile, check_recipe_alpha, explicit_keys, option_names

    check_recipe_alpha(argv)
    args, config, model_args = _parse((ThriftyArguments, TrainConfig, ModelConfig), "train", argv)
    apply_profile(args, config, explicit_keys(argv, option_names(ThriftyArguments, TrainConfig, ModelConfig)))
    if not model_args.model_name_or_path:
        raise ValueError("--model_name_or_path is required (a hub id or a local folder)")
    out = train(args, config, model_args)
    print(f"model and metrics.jsonl saved to {out}")
    return 0


def _demo(argv: list[str]) -> int:
    from thrifty.demo import DemoArguments, run_demo
    from thrifty.report.tables import model_table

    args = _parse(DemoArguments, "demo", argv)  # checks every setting before minutes are spent
    summary = run_demo(args)
    print()
    print(model_table(summary["models"]))
    print(
        f"\nwhole run {summary['wall_seconds'] / 60:.1f} min; "
        f"report: {args.out}/report.md, summary: {args.out}/summary.json"
    )
    return 0


def _sweep(argv: list[str]) -> int:
    from thrifty.report.tables import summary_table
    from thrifty.sweep import SweepArguments, check_overrides, run_sweep, split_overrides

    ours, overrides = split_overrides(argv)  # any flag that is not the sweep's overrides the recipe
    args = _parse(SweepArguments, "sweep", ours)
    args.alpha_values()  # validate before training anything
    if overrides and args.recipe:
        check_overrides(args.recipe, overrides)
    for name, summaries in run_sweep(args, overrides).items():
        print(f"\n{name}\n")
        print(summary_table(summaries))
    print(f"\nmodels and evaluations are in {args.out}/alpha=<α>/")
    return 0


def _baseline(argv: list[str]) -> int:
    from thrifty.args import parse_limits
    from thrifty.baselines.budget import BudgetArguments, run_budget
    from thrifty.baselines.cutoff import CutoffArguments, run_cutoff
    from thrifty.baselines.finetune import (
        BaselineArguments,
        DPOBaselineConfig,
        SFTBaselineConfig,
        sample_training_set,
        train_baseline,
    )
    from thrifty.report.tables import summary_table

    methods = ("sft", "dpo", "sample", "cutoff", "budget")
    if not argv or argv[0] not in methods:
        if argv and argv[0] in ("-h", "--help"):
            print(
                f"usage: thrifty baseline {{{','.join(methods)}}} [options]   (thrifty baseline sft --help: options)"
            )
            return 0
        raise ValueError(f"say which baseline: thrifty baseline {{{','.join(methods)}}} ... (got {argv[:1]})")
    method, rest = argv[0], argv[1:]
    if method in ("cutoff", "budget"):  # one evaluation per generation limit / thinking budget
        if method == "cutoff":
            args = _parse(CutoffArguments, "baseline", rest)
            results = run_cutoff(args, parse_limits(args.limits), args.out)
        else:
            args = _parse(BudgetArguments, "baseline", rest)
            results = run_budget(args, parse_limits(args.budgets, "budgets"), args.out)
        for name, summaries in results.items():
            print(f"\n{name}\n")
            print(summary_table(summaries))
        return 0
    config_class = DPOBaselineConfig if method == "dpo" else SFTBaselineConfig
    # `sample` only draws the sampled set, so either recipe (sft.yaml or dpo.yaml, with keys such as beta) will do
    args, config = _parse((BaselineArguments, config_class), "baseline", rest, strict=method != "sample")
    if method == "sample":  # only draw the sampled set (one process), e.g. before `accelerate launch ... baseline sft`
        _, records, summary = sample_training_set(args, config.output_dir)
        print(
            f"sampled set: {len(records)} responses, accuracy {summary['accuracy']:.3f}, "
            f"mean tokens {summary['mean_tokens']:.1f}"
        )
        return 0
    print(f"{method} baseline saved to {train_baseline(method, args, config)}")
    return 0


def _report(argv: list[str]) -> int:
    from thrifty.ask import answer_live
    from thrifty.report.collect import collect_runs, live_targets
    from thrifty.report.write import ReportArguments, write_report

    positional = []
    while argv and not argv[0].startswith("-"):  # thrifty report runs/a runs/b --out DIR
        positional.append(argv.pop(0))
    if positional:
        argv = ["--runs", *positional, *argv]
    args = _parse(ReportArguments, "report", argv)
    models = collect_runs(args.runs, args.base)
    live = answer_live(live_targets(models), args.questions) if args.questions else None
    print(f"report written to {write_report(args, live, models)}")
    return 0


def _generate(argv: list[str]) -> int:
    from thrifty.ask import GenerateArguments, format_results, generate

    if argv and not argv[0].startswith("-"):  # thrifty generate "What is 1+1?" --model ...
        argv = ["--question", argv[0], *argv[1:]]
    args = _parse(GenerateArguments, "generate", argv)
    print(format_results(args.question, generate(args)))
    return 0


def _organism(argv: list[str]) -> int:
    from thrifty.organism.base import OrganismConfig, build_base_model

    @dataclass
    class OrganismArguments(OrganismConfig):
        out: str = field(default="runs/organism/base", metadata={"help": "Folder to save the base organism to."})

    args = _parse(OrganismArguments, "organism", argv)
    config = OrganismConfig(**{k: v for k, v in vars(args).items() if k != "out"})
    print(f"base organism saved to {build_base_model(args.out, config)}")
    return 0


def _eval(argv: list[str]) -> int:
    from thrifty.eval import EvalArguments, evaluate
    from thrifty.report.tables import cutoff_table, summary_table

    args = _parse(EvalArguments, "eval", argv)
    if os.environ.get("RANK", "0") == "0":  # one start line under accelerate launch
        logging.getLogger(__name__).info(eval_start_line(args))
    summaries = evaluate(args)
    if not summaries:  # a process of `accelerate launch` but the first: it generated its share, the first reports
        return 0
    print()
    print(summary_table(summaries))
    for name, summary in summaries.items():
        print(f"\nGeneration cutoff baseline, {name} (accuracy had responses been cut at each length):\n")
        print(cutoff_table(summary))
    print(f"\nSamples and summaries are in {args.out}/<benchmark>/ (samples.jsonl, summary.json).")
    return 0


def eval_start_line(args) -> str:
    """One line saying what ``thrifty eval`` is about to do, from its arguments (before anything loads).

    Example:
        >>> from types import SimpleNamespace
        >>> print(eval_start_line(SimpleNamespace(model="M", benchmark="math500", limit=None, samples=None,
        ...       temperature=0.6, top_p=1.0, max_new_tokens=32768, backend="hf", out="runs/eval")))
        thrifty eval: model M, benchmark math500: all problems x the paper's k samples, T=0.6, max 32,768 tokens, ...
    """
    problems = f"first {args.limit:,} problems" if args.limit else "all problems"
    samples = f"{args.samples} samples" if args.samples else "the paper's k samples"
    top_p = f", top_p {args.top_p:g}" if args.top_p != 1.0 else ""
    return (
        f"thrifty eval: model {args.model}, benchmark {args.benchmark}: {problems} x {samples}, "
        f"T={args.temperature:g}{top_p}, max {args.max_new_tokens:,} tokens, backend {args.backend} -> {args.out}"
    )


def _tiny_model(argv: list[str]) -> int:
    from thrifty.organism.tiny import build_tiny_model

    args = _parse(TinyModelArguments, "tiny-model", argv)
    model, tokenizer = build_tiny_model(
        args.out,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        seed=args.seed,
        tokenizer=args.tokenizer,
        vocab_size=args.vocab_size,
        eos_probability=args.eos_probability,
    )
    source = f"the tokenizer of {args.tokenizer}" if args.tokenizer else "a character tokenizer"
    print(
        f"saved a {sum(p.numel() for p in model.parameters()):,}-parameter Qwen2 ({model.config.vocab_size:,} "
        f"embeddings, EOS {tokenizer.eos_token_id}) with {source} to {args.out}"
    )
    return 0


def _end_process_group() -> None:
    """Take down the process group of an ``accelerate launch`` run before the interpreter exits (else a no-op).

    Left to interpreter teardown, a live gloo group sometimes aborted a rank after all its work was done
    ("terminate called without an active exception", ~1 in 5 runs of 2 CPU processes), failing the launch.
    Not a collective, so a rank that stopped on an error does not wait for the others.
    """
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()


DEBUG_FLAG = "--debug"
"""Anywhere on a command line without a value (or ``THRIFTY_DEBUG=1``): errors show their whole traceback instead
of one line. ``--debug VALUE`` is transformers' own option of ``thrifty train``."""

TRACEBACK_FRAMES = 4
"""How many of an unexpected error's innermost frames are shown without ``--debug``."""

OUT_OF_MEMORY_HINT = (
    "lower --per_device_train_batch_size and raise --gradient_accumulation_steps to keep the batch (train, "
    "baselines), lower --batch_size (eval, generate), lower --max_completion_length or --max_new_tokens, or with "
    "vLLM lower --vllm_gpu_memory_utilization; then run the same command again (it resumes)"
)
"""The next step after a GPU ran out of memory."""

PACKAGE_DIR = Path(__file__).resolve().parent


def version_text() -> str:
    """``thrifty X.Y.Z``: ``thrifty.__version__`` (the installed distribution's)."""
    from thrifty import __version__

    return f"thrifty {__version__}"


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is a GPU running out of memory (``torch.OutOfMemoryError`` or its message)."""
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    text = str(error)
    return (
        (oom is not None and isinstance(error, oom))
        or "CUDA out of memory" in text
        or "CUDA error: out of memory" in text
    )


def raised_by_thrifty(error: BaseException) -> bool:
    """Whether thrifty's own code raised ``error`` (the innermost frame of its traceback is in the package), so its
    message was written for the user; an error from torch, transformers or TRL was not."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE_DIR)


def is_unexpected(error: BaseException) -> bool:
    """Whether ``error`` needs its traceback to be understood: a ``RuntimeError`` from outside thrifty, or an error
    of an unusual type (a ``TypeError``, ``KeyError``...), that :func:`explain` has no words for. thrifty's own
    errors, refused values (``ValueError``), files (``OSError``) and the understood failures (a full disk, a GPU
    out of memory) are one line."""
    if explain(error) is not None or isinstance(error, (ValueError, OSError)):
        return False
    return not (isinstance(error, RuntimeError) and raised_by_thrifty(error))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def explain(error: BaseException) -> str | None:
    """The cause and the next step of a failure thrifty understands whoever raised it (a full disk, a GPU out of
    memory, a file or folder that cannot be used), or None."""
    text = _first_line(error)
    errno = getattr(error, "errno", None)
    where = getattr(error, "filename", None)
    resume = "free some space and run the same command again; it resumes where it stopped"
    if errno == 28 or "No space left" in text:  # ENOSPC
        return f"the disk is full{f' (writing {where})' if where else ''}: {resume}"
    if "inline_container.cc" in text:  # torch's zip writer (checkpoints) failing mid-write: in practice, a full disk
        return f"writing a checkpoint failed, most likely on a full disk (torch: {text}): {resume}"
    if is_out_of_memory(error):
        return f"the GPU ran out of memory ({text}): {OUT_OF_MEMORY_HINT}"
    if isinstance(error, (PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)) or errno == 30:
        return (
            f"cannot use {where or 'a file or folder'}: {error.strerror or text}; check it, or choose another "
            "output folder"
        )
    return None


def error_line(error: BaseException) -> str:
    """One line saying what failed, naming the file where there is one, and what to do next."""
    explained = explain(error)
    if explained is not None:
        return explained
    if isinstance(error, (ValueError, OSError)) or (isinstance(error, RuntimeError) and raised_by_thrifty(error)):
        return _first_line(error)
    return f"{type(error).__name__}: {_first_line(error)}"


def report_error(command: str, error: BaseException) -> None:
    """Print ``error`` for the user: one line; for an unexpected error (:func:`is_unexpected`) first the innermost
    frames of its traceback. ``--debug`` (or ``THRIFTY_DEBUG=1``) shows every traceback whole."""
    if not is_unexpected(error):
        print(f"thrifty {command}: error: {error_line(error)} ({DEBUG_FLAG} shows the traceback)", file=sys.stderr)
        return
    tail = traceback.format_exception(type(error), error, error.__traceback__, limit=-TRACEBACK_FRAMES, chain=False)
    print("".join(tail).rstrip(), file=sys.stderr)
    print(
        f"thrifty {command}: error: {error_line(error)} (unexpected: raised outside thrifty's checks; above are the "
        f"last {TRACEBACK_FRAMES} frames of its traceback, {DEBUG_FLAG} or THRIFTY_DEBUG=1 shows all of it; if "
        "thrifty is at fault, please report it with that traceback)",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # a --debug that takes a value is transformers' (TrainingArguments.debug, e.g. underflow_overflow): left alone
    ours = [i for i, a in enumerate(argv) if a == DEBUG_FLAG and (i + 1 == len(argv) or argv[i + 1].startswith("-"))]
    debug = bool(ours) or os.environ.get("THRIFTY_DEBUG") == "1"
    argv = [a for i, a in enumerate(argv) if i not in ours]
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(version_text())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"thrifty: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    filter_known_warnings()
    try:
        return {
            "demo": _demo,
            "eval": _eval,
            "train": _train,
            "organism": _organism,
            "generate": _generate,
            "baseline": _baseline,
            "report": _report,
            "sweep": _sweep,
            "tiny-model": _tiny_model,
        }[command](rest)
    except KeyboardInterrupt:
        print(f"thrifty {command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        report_error(command, error)
        return 2
    finally:
        _end_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
