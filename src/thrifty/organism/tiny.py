"""A tiny Qwen2 model, built locally and saved like any hub model: with a byte-level (character) tokenizer, or with
a real model's tokenizer.

Used by the tests and the CPU demo: it loads with ``AutoModelForCausalLM.from_pretrained`` /
``AutoTokenizer.from_pretrained`` from a folder, has a chat template, an EOS token and a pad token, so every
code path that serves a real model serves it too. Its weights are random unless something trains them.

Given a real tokenizer (``thrifty tiny-model --tokenizer PATH_OR_ID``) it is a stand-in for that model on a CPU:
the same token ids, special tokens, chat template and embedding size (for DeepSeek-R1-Distill-Qwen's tokenizer:
BOS 151646, EOS 151643, ``<think>\\n`` opened by the chat template, 152,064 embeddings as in the 7B), so a
pipeline's token accounting can be checked end to end without the real weights.
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


PADDED_VOCAB_SIZE = 152_064
"""Embedding rows of a tiny model built with a real tokenizer: DeepSeek-R1-Distill-Qwen-7B's (Qwen2.5-7B's) padded
vocabulary. Its tokenizer has 151,665 tokens; the rows past them are never produced by the tokenizer."""


def build_tiny_model(
    out_dir: str | Path,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 4096,
    seed: int = 0,
    tokenizer: str | Path | None = None,
    vocab_size: int | None = None,
    eos_probability: float = 0.0,
):
    """Create a randomly initialised tiny Qwen2 and save it with its tokenizer to ``out_dir``.

    Args:
        out_dir (`str` or `Path`): folder to save the model, its tokenizer and ``generation_config.json`` to.
        hidden_size (`int`, defaults to 64): width of the model (the MLP is 4x wider).
        num_layers (`int`, defaults to 2): transformer layers.
        num_heads (`int`, defaults to 4): attention heads (half as many key/value heads).
        max_positions (`int`, defaults to 4096): longest prompt + response.
        seed (`int`, defaults to 0): seed of the random initialisation.
        tokenizer (`str` or `Path`, *optional*): a tokenizer to load with ``AutoTokenizer.from_pretrained`` (a
            folder or a hub id), e.g. DeepSeek-R1-Distill-Qwen's; its BOS, EOS and pad ids become the model's and
            its generation config's. Default: the character tokenizer (:func:`build_char_tokenizer`).
        vocab_size (`int`, *optional*): embedding rows, at least the tokenizer's size. Default: the character
            tokenizer's size, or :data:`PADDED_VOCAB_SIZE` with a given ``tokenizer``. Embeddings are tied to the
            output layer, so a large vocabulary costs ``vocab_size x hidden_size`` parameters once.
        eos_probability (`float`, defaults to 0): with p > 0, each token sampled at temperature 1 is EOS with
            probability about p (:func:`bias_towards_eos`; a lower temperature makes EOS likelier still), so random
            responses end at varied lengths as a real model's do; with 0, a random model over a large vocabulary
            practically never ends a response before the token limit.

    Returns:
        ``(model, tokenizer)``, also saved with ``save_pretrained`` so ``from_pretrained(out_dir)`` loads them.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     model, tokenizer = build_tiny_model(out, hidden_size=16, num_layers=1, num_heads=2)
        >>> model.config.vocab_size == len(tokenizer), model.generation_config.eos_token_id == tokenizer.eos_token_id
        (True, True)
    """
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    if tokenizer is None:
        tokenizer = build_char_tokenizer()
        vocab_size = vocab_size or len(tokenizer)
    else:
        tokenizer = AutoTokenizer.from_pretrained(_tokenizer_source(tokenizer))
        vocab_size = vocab_size or PADDED_VOCAB_SIZE
    if vocab_size < len(tokenizer):
        raise ValueError(
            f"vocab_size {vocab_size:,} is smaller than the tokenizer's {len(tokenizer):,} tokens; give at least that"
        )
    if not 0 <= eos_probability < 1:
        raise ValueError(f"eos_probability must be in [0, 1), got {eos_probability}")
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    if eos_probability > 0:
        bias_towards_eos(model, tokenizer.eos_token_id, eos_probability)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return model, tokenizer


def _tokenizer_source(tokenizer: str | Path) -> str:
    """``tokenizer`` with ``~`` expanded; a local path (one starting with ``.``, ``/`` or ``~``, or with more than one
    ``/``) that does not exist is refused here rather than reported as a malformed hub id."""
    path = Path(tokenizer).expanduser()
    if path.exists():
        return str(path)
    text = str(tokenizer)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise FileNotFoundError(f"--tokenizer {text}: no such folder (give a tokenizer folder or a hub id org/name)")
    return text


def bias_towards_eos(model, eos_id: int, probability: float) -> None:
    r"""Make a randomly initialised model with tied embeddings sample ``eos_id`` with about ``probability`` at
    every step at temperature 1, whatever the context (in place). A temperature T divides the logits: at T = 0.6
    (the paper's evaluation) EOS comes almost surely first for any useful ``probability``.

    Hidden unit 0 becomes a bias unit: every token's embedding holds 1 there, so the residual stream is dominated
    by it and the final normalised hidden state is about \(\sqrt{d}\,e_0\) (\(d\) the hidden size; the random
    weights add little). Through the tied output layer, a token's logit is then about \(\sqrt{d}\) times its
    embedding's unit 0: equal for all tokens but EOS, whose entry is raised by
    \(\log\frac{p}{1-p}(V-1)/\sqrt{d}\) for a vocabulary of \(V\), which makes
    \(P(\text{EOS}) = p\) when the other logits are equal. Measured: about 0.9 p on a 32-wide, 2-layer model.

    Args:
        model: a ``Qwen2ForCausalLM`` (any causal LM whose output layer is its input embedding).
        eos_id (`int`): the token to make likely.
        probability (`float`): the target probability p, in (0, 1).

    Example:
        >>> import torch
        >>> from transformers import Qwen2Config, Qwen2ForCausalLM
        >>> _ = torch.manual_seed(0)
        >>> config = Qwen2Config(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        ...                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
        >>> model = Qwen2ForCausalLM(config)
        >>> bias_towards_eos(model, eos_id=7, probability=0.2)
        >>> with torch.no_grad():
        ...     p = model(torch.randint(0, 1000, (2, 16))).logits.softmax(-1)[..., 7].mean().item()
        >>> 0.15 < p < 0.22
        True
    """
    import math

    import torch

    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    if not model.config.tie_word_embeddings:
        raise ValueError("bias_towards_eos needs tied input and output embeddings")
    embeddings = model.get_input_embeddings().weight
    vocab, width = embeddings.shape
    with torch.no_grad():
        embeddings[:, 0] = 1.0
        embeddings[eos_id, 0] += math.log(probability / (1 - probability) * (vocab - 1)) / math.sqrt(width)
