"""Where one decode step of the hf backend goes: a torch.profiler table of one batched decode step.

    python benchmarks/decode_profile.py                     # SmolLM2-135M-Instruct, batch 64, 300 cached tokens

The model is loaded as the hf backend loads it (``--attn thrifty``: its GQA-aware CPU attention; ``--attn sdpa``:
transformers' own). Builds a KV cache of ``--context`` tokens for ``--batch`` rows, a quarter of them left-padded
by 20 tokens as in a batch of prompts of different lengths (random tokens: the cost of a step does not depend
on their values), then times decode steps of one token per row with the mask, positions and cache
``model.generate`` passes (``--steps`` steps after warm-up), and profiles one. It prints the top operators by
self CPU time, the share of the step in the linear layers' matrix products, the GEMM rate they reach, the
ceiling were the whole step that fast (2 x linear MACs x batch FLOP per step), and last the headline
``decode_tokens_per_second=<batch / step time>``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _models import model_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="folder, hub id or .gguf (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--context", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--attn", default="thrifty", choices=["thrifty", "sdpa"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import DynamicCache

    import thrifty.generation.hf as hf

    folder = model_folder(args.model)
    if args.attn == "sdpa":
        hf._use_cpu_attention = lambda model: None
    model = hf.HFBackend(folder, device="cpu", dtype=args.dtype).model
    params = sum(p.numel() for p in model.parameters())
    linear_macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    print(
        f"model={folder} params={params / 1e6:.1f}M linear={linear_macs / 1e6:.1f}M MAC/token "
        f"attn={model.config._attn_implementation} dtype={args.dtype} threads={torch.get_num_threads()} "
        f"batch={args.batch} context={args.context}"
    )

    torch.manual_seed(0)
    vocab = model.config.vocab_size
    with torch.inference_mode():
        ids = torch.randint(0, vocab, (args.batch, args.context))
        mask = torch.ones(args.batch, args.context, dtype=torch.long)
        mask[: args.batch // 4, :20] = 0  # left padding
        cache = DynamicCache(config=model.config)

        def forward(ids, mask, positions):
            """One forward pass that extends the KV cache (the prompt, then one token per row)."""
            kwargs = dict(attention_mask=mask, position_ids=positions, past_key_values=cache, logits_to_keep=1)
            return model(input_ids=ids, use_cache=True, **kwargs)

        out = forward(ids, mask, (mask.cumsum(-1) - 1).clamp(min=0))

        def step():
            nonlocal mask, out
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            mask = torch.cat([mask, mask.new_ones(args.batch, 1)], dim=1)
            out = forward(token, mask, mask.sum(-1, keepdim=True) - 1)

        for _ in range(2):
            step()
        times = []
        for _ in range(args.steps):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
            step()

    step_s = statistics.median(times)
    table = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in table)
    gemm = sum(
        e.self_cpu_time_total
        for e in table
        if e.key in ("aten::addmm", "aten::mm", "aten::linear", "aten::matmul", "aten::bmm")
    )
    print(table.table(sort_by="self_cpu_time_total", row_limit=15))
    flops = 2 * linear_macs * args.batch
    gemm_s = step_s * gemm / total
    print(
        f"step={step_s * 1e3:.1f} ms  linear-layer GEMMs={100 * gemm / total:.0f}% of it "
        f"({flops / 1e9:.1f} GFLOP at {flops / gemm_s / 1e9:.0f} GFLOPS)"
    )
    print(f"everything else (attention, KV cache, norms, activations, framework)={100 - 100 * gemm / total:.0f}%")
    print(f"ceiling if the whole step ran at that GEMM rate: {args.batch / gemm_s:.0f} tok/s")
    print(f"decode_tokens_per_second={args.batch / step_s:.1f}")


if __name__ == "__main__":
    main()
