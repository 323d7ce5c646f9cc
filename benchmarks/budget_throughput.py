"""Generated tokens per second with and without budget forcing: same model, prompts, seeds and sampling, one run.

    python benchmarks/budget_throughput.py                         # the organism's base model (built once, cached)
    python benchmarks/budget_throughput.py --model M --benchmark gsm8k --thinking-budget 512 --max-new-tokens 1024
    .venv-vllm/bin/python benchmarks/budget_throughput.py --backends hf,vllm

Budget forcing writes the end of thinking (and a cue) for a response at its budget and lets the model answer: the
hf backend does it inside one ``generate`` call, through the same KV cache; the vllm backend sends the answer as a
new request whose prefix vLLM's cache already holds. Neither should recompute the thinking, so a budget should
cost no throughput: generated tokens (the forced ones included, as they pass through the model) per second of
generation should match the run without a budget.

Three settings per repeat, on the same prompts and seeds: ``plain`` (no budget), ``budget`` (``--thinking-budget``:
it binds, so the responses change, and so does how long the batch's longest one keeps the others waiting) and
``unreached`` (a budget of ``--max-new-tokens - 1``: the responses are the plain ones, so its ratio is the cost
of the machinery alone: the hf forcer at every step, vLLM's continuation request after each end of thinking).

Defaults: the organism's base model (what ``thrifty demo`` builds; the cache is ``THRIFTY_CACHE``), its held-out
problems, 4 samples each at T = 0.6, at most 128 new tokens, thinking budget 16 (its column work runs 5-30
tokens, so most long problems are forced). Each repeat takes the next ``--prompts`` problems and runs both
settings on them, in alternating order, after one untimed warm-up call each; a figure is the median over repeats.
The last line is the headline: ``budget_over_plain=<ratio of tok/s>`` (the first backend's, binding budget).
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="folder or hub id (default: the organism's base model)")
    parser.add_argument("--benchmark", default="organism")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--thinking-budget", type=int, default=16)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="hf")
    args = parser.parse_args()

    import torch

    from thrifty.data import get_benchmark, load_benchmark, render_prompt, template_for
    from thrifty.eval.harness import EvalArguments, budget_forcing
    from thrifty.generation import SamplingParams, load_backend

    model = args.model
    if model is None:
        from thrifty.organism.base import cached_base_model

        model = str(cached_base_model())
    problems = load_benchmark(args.benchmark, args.data_dir)[: args.prompts * args.repeats + 2]
    if len(problems) < args.prompts * args.repeats + 2:
        parser.error(f"{args.benchmark} has {len(problems)} problems: fewer than --prompts x --repeats + 2 warm-up")
    params = SamplingParams(args.temperature, 1.0, args.max_new_tokens)
    budgets = {"budget": args.thinking_budget, "unreached": args.max_new_tokens - 1}
    end_of_thinking = getattr(get_benchmark(args.benchmark), "end_of_thinking", None)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(
        f"model={model} benchmark={args.benchmark} prompts={args.prompts} samples={args.samples} "
        f"max_new_tokens={args.max_new_tokens} thinking_budget={args.thinking_budget} T={args.temperature} "
        f"torch_threads={torch.get_num_threads()}"
    )

    rates: dict[tuple[str, str], list[float]] = {}
    for name in names:
        started = time.perf_counter()
        backend = load_backend(name, model)
        print(f"{name}: loaded in {time.perf_counter() - started:.1f} s", flush=True)
        runs = {"plain": {}}
        for setting, budget in budgets.items():
            settings = EvalArguments(model=model, max_new_tokens=args.max_new_tokens, thinking_budget=budget)
            runs[setting] = {"forcing": budget_forcing(settings, backend, end_of_thinking, [])}
        prompts = [render_prompt(p, backend.tokenizer, template_for(args.benchmark)) for p in problems]
        for extra in runs.values():  # warm-up, on problems no timed repeat uses
            backend.generate(prompts[args.prompts * args.repeats :], 2, params, seeds=123, **extra)
        for repeat in range(args.repeats):
            batch = prompts[repeat * args.prompts : (repeat + 1) * args.prompts]
            for setting in list(runs)[repeat % 3 :] + list(runs)[: repeat % 3]:  # each setting first in turn
                started = time.perf_counter()
                groups = backend.generate(batch, args.samples, params, seeds=repeat, **runs[setting])
                seconds = time.perf_counter() - started
                completions = [c for group in groups for c in group]
                tokens = sum(c.tokens for c in completions)
                forced = sum(c.forced_end for c in completions)
                rates.setdefault((name, setting), []).append(tokens / seconds)
                print(
                    f"{name} {setting} repeat {repeat}: {tokens} tokens ({forced}/{len(completions)} forced to end "
                    f"their thinking) in {seconds:.2f} s = {tokens / seconds:.1f} tok/s",
                    flush=True,
                )
        del backend

    for (name, setting), values in rates.items():
        print(f"{name}_{setting}_tokens_per_second={statistics.median(values):.1f}")
    for name in names:
        plain = statistics.median(rates[(name, "plain")])
        print(f"{name}_unreached_over_plain={statistics.median(rates[(name, 'unreached')]) / plain:.3f}")
        print(f"{name}_budget_over_plain={statistics.median(rates[(name, 'budget')]) / plain:.3f}")
    first = names[0]
    ratio = statistics.median(rates[(first, "budget")]) / statistics.median(rates[(first, "plain")])
    print(f"budget_over_plain={ratio:.3f}")


if __name__ == "__main__":
    main()
