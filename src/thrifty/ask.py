"""`thrifty generate`: what does a model answer, and how many tokens does it spend? Questions in, answers out.

    thrifty generate "What is 1+1?" --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B
    thrifty generate "What is 1+1?" --model runs/base --compare runs/alpha=0.2 --samples 3

The question goes through the same prompt (the paper's template and the model's chat template) and the same
sampling as ``thrifty eval``; a quick look before running a benchmark. :func:`answer_live` asks the models of a
report their questions (``thrifty report --questions``), with each model's own evaluation settings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from thrifty.data import build_prompt, get_benchmark, template_for
from thrifty.generation import Backend, Completion, SamplingParams, load_backend
from thrifty.verify import extract_answer, verify_batch


logger = logging.getLogger(__name__)


@dataclass
class GenerateArguments:
    """Arguments of ``thrifty generate``."""

    question: str = field(
        default="What is 1+1?", metadata={"help": "The question (may also be given first, unflagged)."}
    )
    model: str = field(default="", metadata={"help": "Hub id or local folder of the model."})
    compare: str | None = field(
        default=None, metadata={"help": "Comma-separated further models to answer the same question."}
    )
    gold: str | None = field(
        default=None, metadata={"help": "The right answer, to mark each response correct or not."}
    )
    samples: int = field(default=1, metadata={"help": "Responses per model."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature (0 = greedy)."})
    top_p: float = 1.0
    max_new_tokens: int = field(default=4096, metadata={"help": "Longest response in tokens."})
    prompt_template: str | None = field(
        default=None,
        metadata={
            "help": "Prompt with a {question} slot, or a benchmark's name for its prompt (organism: the bare "
            "question). Default: the paper's."
        },
    )
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file name inside the model folder."})
    seed: int = 0

    def models(self) -> list[str]:
        extra = [m.strip() for m in (self.compare or "").split(",") if m.strip()]
        if not self.model:
            raise ValueError("--model is required (a hub id or a local folder)")
        return [self.model, *extra]

    def template(self) -> str:
        if self.prompt_template and get_benchmark(self.prompt_template) is not None:
            return template_for(self.prompt_template)
        return self.prompt_template or template_for("")


def ask(
    backend: Backend, questions: Sequence[str], samples: int, params: SamplingParams, template: str, seed: int
) -> list[list[Completion]]:
    """``samples`` answers to each question (``result[i][j]``: sample j of question i), in one batch: each question
    in ``template`` and the model's chat template, as ``thrifty eval`` prompts it."""
    prompts = [build_prompt(question, backend.tokenizer, template) for question in questions]
    return backend.generate(prompts, samples, params, seeds=seed)


def generate(args: GenerateArguments) -> dict[str, list[dict]]:
    """``{model: [{"text", "tokens", "finished", "answer", "correct"}, ...]}`` for each model, in order."""
    if args.samples < 1:
        raise ValueError(f"--samples must be >= 1, got {args.samples}")
    params = SamplingParams(args.temperature, args.top_p, args.max_new_tokens)
    results = {}
    for model in args.models():
        backend = load_backend("hf", model, gguf_file=args.gguf_file)
        completions = ask(backend, [args.question], args.samples, params, args.template(), args.seed)[0]
        verdicts = (
            verify_batch([c.text for c in completions], [args.gold] * len(completions), workers=1)
            if args.gold
            else None
        )
        results[model] = [
            {
                "text": c.text,
                "tokens": c.tokens,
                "finished": c.finished,
                "answer": extract_answer(c.text),
                "correct": verdicts[i].correct if verdicts else None,
            }
            for i, c in enumerate(completions)
        ]
    return results


def answer_live(targets: Mapping[str, Mapping], questions: Sequence[str]) -> dict[str, list[dict]]:
    """One answer (temperature 0.6, seed 0) per question from each model of ``targets`` (``{label: evaluation
    settings}``, as :func:`thrifty.report.collect.live_targets` reads them): with its evaluation's backend,
    prompt template and token limit. A model that cannot be loaded any more is left out with a warning."""
    answers = {}
    for label, settings in targets.items():
        try:
            backend = load_backend(
                settings.get("backend", "hf"), settings["model"], gguf_file=settings.get("gguf_file")
            )
        except Exception as error:  # a model that moved away is reported, not fatal
            logger.warning("cannot load %s for the live questions: %s", settings["model"], error)
            continue
        params = SamplingParams(0.6, 1.0, settings.get("max_new_tokens", 4096))
        template = settings.get("prompt_template") or "{question}"
        completions = ask(backend, questions, 1, params, template, seed=0)
        answers[label] = [{"text": c[0].text, "tokens": c[0].tokens, "finished": c[0].finished} for c in completions]
    return answers


def format_results(question: str, results: dict[str, list[dict]]) -> str:
    """Human-readable: each model's responses with token counts, then one summary line per model."""
    lines = [f"Question: {question}", ""]
    for model, responses in results.items():
        for i, r in enumerate(responses):
            status = "finished" if r["finished"] else "cut at the token limit"
            mark = "" if r["correct"] is None else (", correct" if r["correct"] else ", wrong")
            lines += [
                f"=== {model} · sample {i} · {r['tokens']} tokens, {status}, answer {r['answer']!r}{mark}",
                r["text"],
                "",
            ]
    width = max(len(m) for m in results)
    for model, responses in results.items():
        mean = sum(r["tokens"] for r in responses) / len(responses)
        lines.append(f"{model:<{width}}  mean tokens {mean:8.1f}")
    return "\n".join(lines)
