"""The transformers backend: ``model.generate`` with left padding and a KV cache, on CPU or GPU.

Owns loading a causal LM and its tokenizer (hub id, local folder, or GGUF file) and sampling from it.
Knows nothing of benchmarks or correctness.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch

from thrifty.generation import Completion, SamplingParams

logger = logging.getLogger(__name__)


def resolve_model_path(model: str, gguf_file: str | None = None) -> tuple[str, str | None]:
    """Split ``path/to/model.gguf`` into ``("path/to", "model.gguf")``; other names pass through."""
    if model.endswith(".gguf"):
        if gguf_file is not None:
            raise ValueError(f"give either a .gguf path as the model ({model}) or --gguf_file, not both")
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {model}")
        return str(path.parent), path.name
    return model, gguf_file


def _pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in dtypes:
        raise ValueError(f"unknown dtype {dtype!r}; choose auto, {', '.join(dtypes)}")
    return dtypes[dtype]


class HFBackend:
    """Sample from a transformers causal LM.

    Args:
        model (`str`): hub id (e.g. ``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B``), local folder, or a ``.gguf`` file.
        gguf_file (`str`, *optional*): name of a GGUF file inside the ``model`` folder (weights are dequantised).
        device (`str`, defaults to ``"auto"``): ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:0"``, ...
        dtype (`str`, defaults to ``"auto"``): ``"auto"`` (bf16 on a CUDA GPU that supports it, else fp32),
            ``"float32"``, ``"bfloat16"``, ``"float16"``.
    """

    def __init__(self, model: str, gguf_file: str | None = None, device: str = "auto", dtype: str = "auto"):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path, gguf = resolve_model_path(model, gguf_file)
        self.device = _pick_device(device)
        kwargs = {"gguf_file": gguf} if gguf else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=_pick_dtype(dtype, self.device), **kwargs)
        except OSError as error:
            raise FileNotFoundError(f"could not load model {model!r}: {error}") from error
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        config = self.model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else self.tokenizer.eos_token_id
        eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        if not eos_ids:
            raise ValueError(f"model {model!r} defines no EOS token; cannot tell finished from truncated responses")
        self.eos_ids = sorted(eos_ids)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.convert_ids_to_tokens(self.eos_ids[0])
        self.pad_id = self.tokenizer.pad_token_id

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], n: int, params: SamplingParams, seed: int) -> list[list[Completion]]:
        """``n`` completions per prompt, in one batched ``generate`` call of ``len(prompts) * n`` rows."""
        from transformers import GenerationConfig

        rows = [p for p in prompts for _ in range(n)]
        # a chat-templated prompt already holds its BOS; a raw prompt gets the tokenizer's special tokens
        add_special = not getattr(self.tokenizer, "chat_template", None)
        batch = self.tokenizer(rows, return_tensors="pt", padding=True, add_special_tokens=add_special).to(self.device)
        sample = params.temperature > 0
        # Every sampling knob is set: fields left unset are filled from the model's generation_config.json
        # (repetition_penalty, top_k=50, min_p, ...), which the paper's vLLM evaluation does not apply.
        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=sample,
            temperature=params.temperature if sample else 1.0,
            top_p=params.top_p if sample else 1.0,
            top_k=0 if sample else None,
            min_p=0.0 if sample else None,
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
        torch.manual_seed(seed)
        output = self.model.generate(**batch, generation_config=config)
        generated = output[:, batch["input_ids"].shape[1] :].tolist()
        completions = [self._completion(ids) for ids in generated]
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _completion(self, ids: list[int]) -> Completion:
        eos_ids = set(self.eos_ids)
        stop = next((i for i, token in enumerate(ids) if token in eos_ids), None)
        if stop is None:  # no EOS: the row ran to max_new_tokens (generation only stops early when all rows end)
            return Completion(self.tokenizer.decode(ids, skip_special_tokens=True), len(ids), False)
        return Completion(self.tokenizer.decode(ids[:stop], skip_special_tokens=True), stop + 1, True)
