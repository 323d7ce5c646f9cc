"""Run by tests/test_vllm.py in the vLLM environment: budget forcing through the vllm and hf backends.

MODEL is the tiny model with its tokenizer's EOS alone. Writes OUT (JSON): greedy completions of both
backends under budget forcings whose end of thinking is the token greedy decoding starts its responses with (so
"Wait" really replaces an early end) or one it never writes (so the end is forced after the model's tokens), some
cut at the generation limit; the vllm backend's sampled forced completions (twice, prompt by prompt, another
seed), and under a forcing with no budget against none; and the prefix cache's hits on the requests that
continue a response (:func:`recording`).
vLLM needs the ``__main__`` guard: its engine runs in a child process.
"""

import json
import sys
from dataclasses import asdict

from thrifty.data import build_prompt
from thrifty.generation import SamplingParams, load_backend, prompt_seeds
from thrifty.generation.budget import BudgetForcing, encode_text, one_token
from vllm_backend import QUESTIONS


def recording(llm, calls: list) -> None:
    """Make ``llm``'s engine append, for each request as it finishes, ``[(its prompt ids, its generated ids, its
    cached prompt tokens)]`` to ``calls`` (a continuation is sent once its predecessor finished: it comes later)."""
    engine = llm.llm_engine
    add_request, step, prompts = engine.add_request, engine.step, {}

    def add(name, prompt, params, **kwargs):
        returned = add_request(name, prompt, params, **kwargs)
        prompts[name] = prompts[returned] = list(prompt["prompt_token_ids"])
        return returned

    def record():
        outputs = step()
        for output in outputs:
            if output.finished:
                calls.append(
                    [(prompts[output.request_id], list(output.outputs[0].token_ids), output.num_cached_tokens)]
                )
        return outputs

    engine.add_request, engine.step = add, record


def continuations(calls: list) -> list[dict]:
    """Every request of ``calls`` that continues an earlier one: its cached prompt tokens, how many of its prompt
    tokens an earlier request computed (its prompt and all but its last generated token, which is never fed to
    the model; the request's last prompt token is always computed), and its first request's prompt length."""
    found = []
    for call, requests in enumerate(calls):
        for prompt, _, cached in requests:
            earlier = [
                (len(p), len(p) + len(out) - 1)
                for previous in calls[:call]
                for p, out, _ in previous
                if out and prompt[: len(p) + len(out) - 1] == p + out[:-1]
            ]
            if earlier:
                first, computed = min(earlier)[0], max(e[1] for e in earlier)
                found.append({"cached": cached, "computed": min(computed, len(prompt) - 1), "prompt": first})
    return found


def main(model: str, out: str) -> None:
    vllm = load_backend("vllm", model)
    hf = load_backend("hf", model)
    tokenizer = vllm.tokenizer
    prompts = [build_prompt(q, tokenizer, "{question}") for q in QUESTIONS]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=48)
    first = hf.generate(prompts[:1], 1, greedy, seeds=0)[0][0].ids[0]  # an end of thinking greedy writes at once
    never = one_token(tokenizer, ">", "end of thinking")  # one it never writes (the organism's answer marker)
    eos, cue, wait = frozenset(vllm.eos_ids), encode_text(tokenizer, "A:"), encode_text(tokenizer, "Wait")
    forcings = {
        "budget": BudgetForcing(never, eos, thinking_budget=5, answer_budget=6, cue=cue),
        "budget_1": BudgetForcing(first, eos, thinking_budget=1, answer_budget=6, cue=cue),
        "wait": BudgetForcing(first, eos, thinking_budget=16, answer_budget=6, min_thinking=8, cue=cue, wait=wait),
    }
    runs = {}
    for name, forcing in forcings.items():
        for backend_name, backend in (("vllm", vllm), ("hf", hf)):
            runs[f"{name}_{backend_name}"] = backend.generate(prompts, 2, greedy, seeds=0, forcing=forcing)
    # cut at the generation limit: the end forced as the last token (the cue past it), then not at all
    for limit in (16, 15):
        at_limit = SamplingParams(temperature=0.0, max_new_tokens=limit)
        for backend_name, backend in (("vllm", vllm), ("hf", hf)):
            runs[f"limit{limit}_{backend_name}"] = backend.generate(prompts, 1, at_limit, 0, forcing=forcings["wait"])

    sampled = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=48)
    forcing = forcings["wait"]
    runs["seed5"] = vllm.generate(prompts, 4, sampled, seeds=5, forcing=forcing)
    runs["seed5_again"] = vllm.generate(prompts, 4, sampled, seeds=5, forcing=forcing)
    runs["seed6"] = vllm.generate(prompts, 4, sampled, seeds=6, forcing=forcing)
    # a response the forcer never touches (no budget; the end of thinking never sampled) is the unforced one
    runs["untouched"] = vllm.generate(prompts, 4, sampled, seeds=5, forcing=BudgetForcing(never, eos))
    runs["unforced"] = vllm.generate(prompts, 4, sampled, seeds=5)
    runs["seed5_alone"] = [
        vllm.generate([p], 4, sampled, seeds=[s], forcing=forcing)[0]
        for p, s in zip(prompts, prompt_seeds(5, len(prompts)), strict=True)
    ]

    # the prefix cache: long prompts, whose thinking runs over a cache block before the forced end
    calls = []
    recording(vllm.llm, calls)
    long = BudgetForcing(never, eos, thinking_budget=200, answer_budget=4, cue=cue)
    long_prompts = [f"question {i}: " + "1 + 2 " * 48 for i in range(2)]
    vllm.generate(long_prompts, 2, SamplingParams(temperature=0.0, max_new_tokens=210), seeds=0, forcing=long)
    cache = vllm.llm.llm_engine.vllm_config.cache_config

    result = {name: [[asdict(c) for c in group] for group in groups] for name, groups in runs.items()}
    result.update(
        first=first,
        never=never,
        eos_ids=vllm.eos_ids,
        forcings={name: asdict(f) | {"eos_ids": sorted(f.eos_ids)} for name, f in forcings.items()},
        prefix_caching=cache.enable_prefix_caching,
        block_size=cache.block_size,
        requests=len(calls),
        continuations=continuations(calls),
    )
    with open(out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
