"""A tiny Qwen2 model with a byte-level (character) tokenizer, built locally and saved like any hub model.

Used by the tests and the CPU demo: it loads with ``AutoModelForCausalLM.from_pretrained`` /
``AutoTokenizer.from_pretrained`` from a folder, has a chat template, an EOS token and a pad token, so every
code path that serves a real model serves it too. Its weights are random unless something trains them.
"""

from __future__ import annotations

from pathlib import Path


SPECIAL_TOKENS = ["<|pad|>", "<|im_start|>", "<|im_end|>", "<|unk|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_char_tokenizer():
    """A Qwen2 tokenizer with one token per byte (so one per ASCII character), ChatML specials and a chat template.

    It is a byte-level BPE with no merges: the vocabulary is the four special tokens followed by the 256
    byte symbols. Being a genuine ``Qwen2Tokenizer`` matters: ``AutoTokenizer`` loads a saved qwen2 model's
    tokenizer as that class whatever ``tokenizer_config.json`` says, and rebuilds its pre-tokenizer, which
    silently dropped spaces and newlines from the earlier ``WordLevel`` character tokenizer.
    """
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import Qwen2Tokenizer

    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + sorted(ByteLevel.alphabet()))}
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token="<|unk|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        extra_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    out_dir: str | Path,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 4096,
    seed: int = 0,
):
    """Create a randomly initialised tiny Qwen2 with the character tokenizer and save both to ``out_dir``.

    Returns:
        ``(model, tokenizer)``, also saved with ``save_pretrained`` so ``from_pretrained(out_dir)`` loads them.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_char_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return model, tokenizer
