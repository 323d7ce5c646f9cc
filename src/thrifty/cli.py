"""The ``thrifty`` command. Thin: parse arguments (CLI flags and/or a YAML ``--config``), call the library.

    thrifty eval --model PATH_OR_HUB_ID --benchmark math500 --data-dir ../shared/benchmarks --limit 20
    thrifty eval --config recipes/eval/paper.yaml --model my-checkpoint      # YAML + CLI overrides
    thrifty tiny-model --out runs/tiny-model                                 # a random tiny Qwen2 for smoke tests
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

COMMANDS = {
    "eval": "Sample responses to benchmark problems, check the answers, and report accuracy and response length.",
    "tiny-model": "Build a randomly initialised tiny Qwen2 with a character tokenizer (for smoke tests and demos).",
}


@dataclass
class TinyModelArguments:
    """Arguments of ``thrifty tiny-model``."""

    out: str = field(default="runs/tiny-model", metadata={"help": "Folder to save the model and tokenizer to."})
    hidden_size: int = field(default=64, metadata={"help": "Width of the model."})
    num_layers: int = field(default=2, metadata={"help": "Number of transformer layers."})
    seed: int = field(default=0, metadata={"help": "Seed of the random initialisation."})


def _usage() -> str:
    lines = ["usage: thrifty <command> [options]   (thrifty <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, text in COMMANDS.items()]
    lines += ["", "examples:", "  thrifty tiny-model --out runs/tiny-model",
              "  thrifty eval --model runs/tiny-model --benchmark gsm8k --data-dir ../shared/benchmarks --limit 5",
              "  thrifty eval --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --benchmark gsm8k,math500,aime24"]
    return "\n".join(lines)


def _parse(dataclass_type, command: str, argv: list[str]):
    from trl import TrlParser

    parser = TrlParser(
        [dataclass_type],
        prog=f"thrifty {command}",
        description=COMMANDS[command] + " Options can also come from a YAML file: --config FILE (flags override it).",
    )
    (args,) = parser.parse_args_and_config(argv)
    return args


def _eval(argv: list[str]) -> int:
    from thrifty.evaluate import EvalArguments, evaluate
    from thrifty.report import cutoff_table, summary_table

    args = _parse(EvalArguments, "eval", argv)
    summaries = evaluate(args)
    print()
    print(summary_table(summaries))
    for name, summary in summaries.items():
        print(f"\nGeneration cutoff baseline, {name} (accuracy had responses been cut at each length):\n")
        print(cutoff_table(summary))
    print(f"\nSamples and summaries are in {args.out}/<benchmark>/ (samples.jsonl, summary.json).")
    return 0


def _tiny_model(argv: list[str]) -> int:
    from thrifty.tiny import build_tiny_model

    args = _parse(TinyModelArguments, "tiny-model", argv)
    model, _ = build_tiny_model(args.out, hidden_size=args.hidden_size, num_layers=args.num_layers, seed=args.seed)
    print(f"saved a {sum(p.numel() for p in model.parameters()):,}-parameter Qwen2 and its tokenizer to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"thrifty: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        return {"eval": _eval, "tiny-model": _tiny_model}[command](rest)
    except (ValueError, FileNotFoundError) as error:
        print(f"thrifty {command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
