"""`thrifty generate`: what does a model answer, and how many tokens does it spend? One question, one or more models.

    thrifty generate "What is 1+1?" --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B
    thrifty generate "What is 1+1?" --model runs/base --compare runs/alpha=0.2 --samples 3

The question goes through the same prompt (the paper's template and the model's chat template) and the same
sampling as ``thrifty eval``; a quick look before running a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .data import default_template


@dataclass
class GenerateArguments:
    """Arguments of ``thrifty generate``."""

    question: str = field(default="What is 1+1?", metadata={"help": "The question (may also be given first, unflagged)."})
    model: str = field(default="", metadata={"help": "Hub id or local folder of the model."})
    compare: str | None = field(default=None, metadata={"help": "Comma-separated further models to answer the same question."})
    gold: str | None = field(default=None, metadata={"help": "The right answer, to mark each response correct or not."})
    samples: int = field(default=1, metadata={"help": "Responses per model."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature (0 = greedy)."})
    top_p: float = 1.0
    max_new_tokens: int = field(default=4096, metadata={"help": "Longest response in tokens."})
    prompt_template: str | None = field(
        default=None, metadata={"help": "Prompt with a {question} slot (default: the paper's; 'organism': the bare question)."}
    )
    gguf_file: str | None = field(default=None, metadata={"help": "GGUF file name inside the model folder."})
    seed: int = 0

    def models(self) -> list[str]:
        extra = [m.strip() for m in (self.compare or "").split(",") if m.strip()]
        if not self.model:
            raise ValueError("--model is required (a hub id or a local folder)")
        return [self.model, *extra]

    def template(self) -> str:
        if self.prompt_template == "organism":
            return default_template("organism")
        return self.prompt_template or default_template("")


def generate(args: GenerateArguments) -> dict[str, list[dict]]:
    """``{model: [{"text", "tokens", "finished", "answer", "correct"}, ...]}`` for each model, in order."""
    from .data import build_prompt
    from .generation import SamplingParams, load_backend
    from .verify import extract_answer, verify_batch

    if args.samples < 1:
        raise ValueError(f"--samples must be >= 1, got {args.samples}")
    params = SamplingParams(args.temperature, args.top_p, args.max_new_tokens)
    results = {}
    for model in args.models():
        backend = load_backend("hf", model, gguf_file=args.gguf_file)
        prompt = build_prompt(args.question, backend.tokenizer, args.template())
        completions = backend.generate([prompt], args.samples, params, seed=args.seed)[0]
        verdicts = verify_batch([c.text for c in completions], [args.gold] * len(completions), workers=1) if args.gold else None
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


def format_results(question: str, results: dict[str, list[dict]]) -> str:
    """Human-readable: each model's responses with token counts, then one summary line per model."""
    lines = [f"Question: {question}", ""]
    for model, responses in results.items():
        for i, r in enumerate(responses):
            status = "finished" if r["finished"] else "cut at the token limit"
            mark = "" if r["correct"] is None else (", correct" if r["correct"] else ", wrong")
            lines += [f"=== {model} · sample {i} · {r['tokens']} tokens, {status}, answer {r['answer']!r}{mark}", r["text"], ""]
    width = max(len(m) for m in results)
    for model, responses in results.items():
        mean = sum(r["tokens"] for r in responses) / len(responses)
        lines.append(f"{model:<{width}}  mean tokens {mean:8.1f}")
    return "\n".join(lines)
