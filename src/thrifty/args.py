"""Argument pieces shared by several commands: comma-separated lists, and where training prompts come from.

Each command's own arguments live beside the command (``thrifty eval``'s in :mod:`thrifty.eval.harness`, ...);
what two or more share lives here, so that one flag means one thing everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from thrifty.data import Columns, Problem, template_for, training_problems
from thrifty.data.training import check_max_rows


# --------------------------------------------------------------------------------------------- comma-separated lists
def parse_numbers(
    text: str, flag: str, cast=float, valid: Callable = lambda v: True, rule: str = "numbers", what: str = "numbers"
) -> list:
    """``"0,0.2"`` -> ``[0.0, 0.2]``: comma-separated values of ``cast``; a clear ``ValueError`` naming ``--flag``
    unless there is at least one and every value is ``valid`` (described by ``rule``).

    Example:
        >>> parse_numbers("3e-5, 1e-4", "sft_lrs", valid=lambda v: v > 0, rule="positive numbers")
        [3e-05, 0.0001]
    """
    try:
        values = [cast(x) for x in text.split(",") if x.strip()]
    except ValueError as error:
        raise ValueError(f"--{flag} must be comma-separated {what}, got {text!r}") from error
    if not values or not all(valid(v) for v in values):
        raise ValueError(f"--{flag} must be {rule}, got {text!r}")
    return values


def parse_alphas(text: str, flag: str = "alphas") -> list[float]:
    """``"0,0.2"`` -> ``[0.0, 0.2]``; a clear ``ValueError`` unless every value is a number in [0, 1)."""
    return parse_numbers(text, flag, valid=lambda a: 0 <= a < 1, rule="values in [0, 1)")


def parse_limits(text: str, flag: str = "limits") -> list[int]:
    """``"128,64"`` -> ``[64, 128]``; a clear ``ValueError`` unless every value is a positive integer.

    Example:
        >>> parse_limits("128,64,64")
        [64, 128]
    """
    values = parse_numbers(text, flag, int, lambda v: v >= 1, "positive token counts", "token counts")
    return sorted(set(values))


def parse_names(text: str, flag: str, known: Callable[[str], bool] | tuple[str, ...]) -> list[str]:
    """``"grpo, batch"`` -> ``["grpo", "batch"]``; a clear ``ValueError`` naming any value that is not ``known``.

    Example:
        >>> parse_names("grpo,batch", "ablation", ("rloo", "grpo", "batch"))
        ['grpo', 'batch']
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    is_known = known if callable(known) else known.__contains__
    bad = [name for name in names if not is_known(name)]
    if bad:
        choices = "" if callable(known) else f" (choose from {', '.join(known)})"
        raise ValueError(f"--{flag}: unknown {', '.join(map(repr, bad))}{choices}")
    return names


# --------------------------------------------------------------------------------------------- checks
OUTPUT_FIELDS = ("out", "output_dir")
"""Fields that name a folder a command writes into."""

_SCALARS = (bool, int, float, str)


def _scalar_kinds(hint) -> tuple[type, ...] | None:
    """The scalar types a field's annotation allows (``float | None`` -> ``(float,)``), or None when it allows
    anything else too (lists, dicts, enums...), which is then not checked here."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    kinds = tuple(a for a in args if a is not type(None))
    return kinds if kinds and all(k in _SCALARS for k in kinds) else None


def _coerce(value, kinds: tuple[type, ...]):
    """``value`` as the field's one kind where YAML's reading differs harmlessly from the flag's (``temperature: 1``
    is an int, ``--temperature 1`` a float: both must fingerprint alike; ``run_name: 2024`` is an int; ``bf16: 1``),
    else ``value`` unchanged."""
    if isinstance(value, bool) or kinds not in ((float,), (str,), (bool,)):
        return value
    if kinds == (float,) and isinstance(value, int):
        return float(value)
    if kinds == (str,) and isinstance(value, int | float):
        return str(value)
    if kinds == (bool,) and isinstance(value, int) and value in (0, 1):
        return bool(value)
    return value


def _fits(value, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int):
        return int in kinds or float in kinds
    return isinstance(value, kinds)


def check_values(arguments) -> None:
    """Refuse, before any work, what the parser lets through: a value of the wrong kind (a YAML list or mapping
    where a number belongs; an int where a float or string belongs is converted), a NaN or infinite number
    (``--temperature nan`` would silently decode greedily), an empty output folder (``--out ""`` is the working
    directory) or one that is a file. The message names the flag.
    """
    try:
        hints = typing.get_type_hints(type(arguments))
    except Exception:  # annotations that cannot be resolved: check values only
        hints = {}
    for spec in dataclasses.fields(arguments):
        value, flag = getattr(arguments, spec.name), f"--{spec.name}"
        kinds = _scalar_kinds(hints.get(spec.name))
        if value is not None and kinds is not None and (coerced := _coerce(value, kinds)) is not value:
            setattr(arguments, spec.name, coerced)
            value = coerced
        if value is not None and kinds is not None and not _fits(value, kinds):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise ValueError(f"{flag} must be {wanted}, got {value!r} ({type(value).__name__})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{flag} must be a finite number, got {value}")
        if spec.name in OUTPUT_FIELDS and value is not None:
            if not str(value).strip():
                raise ValueError(f"{flag} is empty; name a folder")
            if Path(value).exists() and not Path(value).is_dir():
                raise ValueError(f"{flag} {value} is a file, not a folder; name a folder")


def check_verifier_options(timeout: float, workers: int | None) -> None:
    """``--verify_timeout`` a finite number of seconds > 0, ``--verify_workers`` (None: the default) at least 1."""
    if not (isinstance(timeout, int | float) and 0 < timeout < math.inf):
        raise ValueError(f"--verify_timeout must be a finite number > 0, got {timeout!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"--verify_workers must be >= 1, got {workers}")


def check_device(device: str, flag: str = "--device") -> None:
    """Refuse a CUDA device on a machine (or a torch build) without one, before a model is loaded."""
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"{flag} {device}: this machine's torch sees no CUDA device; use --device cpu or auto")


# --------------------------------------------------------------------------------------------- recipes
def parse_config(parser, argv: list[str], strict: bool = True) -> tuple:
    """``parser.parse_args_and_config(argv)`` (a ``TrlParser``), with a YAML ``--config`` that is missing, not
    YAML or not a mapping refused in one line naming the file, and every parsed dataclass :func:`check_values`'d."""
    import yaml

    config = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else None
    if config is not None:
        if not Path(config).is_file():
            raise FileNotFoundError(f"--config {config}: no such file")
        try:
            loaded = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            where = getattr(error, "problem_mark", None)
            line = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
            reason = getattr(error, "problem", None) or error
            raise ValueError(f"--config {config}: not valid YAML{line} ({reason})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"--config {config}: must be a mapping of option: value, got a {type(loaded).__name__}")
    parsed = parser.parse_args_and_config(argv, fail_with_unknown_args=strict)
    for arguments in parsed:
        if dataclasses.is_dataclass(arguments):
            check_values(arguments)
    return tuple(parsed)


def read_recipe(dataclass_types, path: str | Path, *overrides: str) -> tuple:
    """The dataclasses of a YAML recipe, with command-line style ``overrides`` (``"--alpha", "0.2"``, ...) on top:
    exactly what ``thrifty <command> --config PATH ...`` reads. Unknown keys are an error."""
    from trl import TrlParser

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such recipe: {str(path)!r}")
    return parse_config(TrlParser(list(dataclass_types)), ["--config", str(path), *overrides])


# --------------------------------------------------------------------------------------------- prompts
@dataclass(kw_only=True)
class ColumnArguments:
    """Which columns of a user's rows hold the question and the gold answer: the same flags for training
    (``--prompts``) and evaluation (``--benchmark``). Keyword-only, so commands with a required field of their own
    can take them in."""

    question_column: str | None = field(
        default=None, metadata={"help": "Column of the question (default: problem, question or prompt)."}
    )
    answer_column: str | None = field(
        default=None, metadata={"help": "Column of the gold answer (default: answer, gold or final_answer)."}
    )
    solution_column: str | None = field(
        default=None,
        metadata={"help": "Column of a worked solution whose last \\boxed{} is the gold (default: solution)."},
    )

    def columns(self) -> Columns:
        """The column mapping ``--question_column`` / ``--answer_column`` / ``--solution_column`` give."""
        return Columns(self.question_column, self.answer_column, self.solution_column)


@dataclass
class PromptArguments(ColumnArguments):
    """Where the training prompts come from and how answers are checked (shared by RL and the baselines)."""

    prompts: str | None = field(
        default=None,
        metadata={
            "help": "Training prompts (required): a local .jsonl/.json/.parquet file or datasets.save_to_disk folder, "
            "a Hub dataset id (owner/name), or a benchmark with a training split (organism). Rows: a question in "
            "problem/question/prompt (a string or chat messages) and a gold answer in answer/gold/final_answer or "
            "a \\boxed{} solution."
        },
    )
    prompts_config: str | None = field(
        default=None, metadata={"help": "Config of a Hub dataset (e.g. main for openai/gsm8k, its default)."}
    )
    prompts_split: str = field(default="train", metadata={"help": "Split of a Hub dataset or a saved DatasetDict."})
    max_prompts: int | None = field(default=None, metadata={"help": "Use only the first N usable prompts."})
    max_rows: int | None = field(
        default=None,
        metadata={
            "help": "Read only the first N rows of the prompt set, before any filtering (OpenRLHF's --max_samples); "
            "rows among them that cannot be checked are dropped, not replaced by later rows."
        },
    )
    prompts_shuffle_seed: int | None = field(
        default=None,
        metadata={
            "help": "Put the rows read in the order datasets' Dataset.shuffle(seed=N) gives them, as OpenRLHF's "
            "blending_datasets does (N = 42) before its sampler shuffles again; default: file order."
        },
    )
    prompts_per_level: int = field(
        default=1000, metadata={"help": "Prompts per difficulty level of a generated training split (the organism's)."}
    )
    prompt_template: str | None = field(
        default=None,
        metadata={
            "help": "Prompt with a {question} slot (default: the prompt set's own; the paper's for data files)."
        },
    )
    verifier: str = field(default="math-verify", metadata={"help": "Answer checking: math-verify or paper-compat."})
    verify_workers: int | None = field(
        default=None, metadata={"help": "Verifier processes per rank (default min(4, CPUs))."}
    )
    verify_timeout: float = field(default=5.0, metadata={"help": "Hard time bound in seconds on one answer check."})

    def __post_init__(self):
        check_values(self)
        if self.prompts is None or not self.prompts.strip():
            raise ValueError(
                "--prompts is required: a data file, a save_to_disk folder, a hub dataset id, or organism "
                "(e.g. --prompts data/train.jsonl, --prompts openai/gsm8k, --prompts organism)"
            )
        check_verifier_options(self.verify_timeout, self.verify_workers)
        if self.max_prompts is not None and self.max_prompts < 1:
            raise ValueError(f"--max_prompts must be >= 1, got {self.max_prompts}")
        check_max_rows(self.max_rows)
        if self.prompts_shuffle_seed is not None and self.prompts_shuffle_seed < 0:
            raise ValueError(f"--prompts_shuffle_seed must be >= 0, got {self.prompts_shuffle_seed}")

    def template(self) -> str:
        return self.prompt_template if self.prompt_template is not None else template_for(self.prompts)

    def problems(self) -> list[Problem]:
        """The training prompts these arguments name: the first ``--max_prompts`` usable ones among the set's first
        ``--max_rows`` rows (in ``--prompts_shuffle_seed``'s order, if given)."""
        return training_problems(
            self.prompts,
            self.prompts_split,
            self.max_prompts,
            self.prompts_per_level,
            config=self.prompts_config,
            columns=self.columns(),
            max_rows=self.max_rows,
            shuffle_seed=self.prompts_shuffle_seed,
        )
