"""How long a response is: its tokens, its thinking and answer tokens, and the official code's re-tokenised count.

Pure functions of token ids (and, for the official count, a tokenizer): no model, no trainer. Training
(``--length_measure``, ``--length_unit``) and evaluation (``thinking_tokens`` / ``answer_tokens`` in every
record) count with the same code.

A *thinking* model writes ``<think> ... </think>`` and then its answer; DeepSeek-R1's chat template opens the
``<think>`` in the prompt, so the response starts inside it. A response's thinking is every token up to and
including the first end-of-thinking token; its answer, the rest. A response that never closes its thinking
(cut at the generation limit, say) is all thinking. A tokenizer without an end-of-thinking token has no
thinking to count (:func:`end_of_thinking_id` is None).
"""

from __future__ import annotations

from collections.abc import Sequence


END_OF_THINKING = "</think>"
"""The delimiter that closes a reasoning model's thinking (DeepSeek-R1, Qwen3, ...)."""


def end_of_thinking_id(tokenizer) -> int | None:
    """The id of ``</think>`` when ``tokenizer`` has it as one token, else None (not a thinking model).

    Example:
        >>> class Vocab:
        ...     def get_vocab(self):
        ...         return {"</think>": 151649, "a": 0}
        >>> end_of_thinking_id(Vocab())
        151649
    """
    return tokenizer.get_vocab().get(END_OF_THINKING)


def thinking_split(ids: Sequence[int], end_id: int | None) -> tuple[int, int] | None:
    """``(thinking tokens, answer tokens)`` of one response's token ids: up to and including the first
    ``end_id``, and after it; all thinking when ``end_id`` never comes; None when ``end_id`` is None.

    Example:
        >>> thinking_split([5, 6, 9, 7, 8, 2], end_id=9)  # 5 6 </think> | 7 8 EOS
        (3, 3)
        >>> thinking_split([5, 6, 7], end_id=9)
        (3, 0)
        >>> thinking_split([5, 6, 7], end_id=None) is None
        True
    """
    if end_id is None:
        return None
    ids = list(ids)
    thinking = ids.index(end_id) + 1 if end_id in ids else len(ids)
    return thinking, len(ids) - thinking


def thinking_tokens(ids: Sequence[int], end_id: int | None) -> int:
    """The tokens of a response's thinking (:func:`thinking_split`); all of them without an ``end_id``."""
    split = thinking_split(ids, end_id)
    return len(ids) if split is None else split[0]


def official_length(tokenizer, prompt_ids: Sequence[int], completion_ids: Sequence[int]) -> int:
    """A response's length as the official reward server measures it (``math_server.py``): the prompt and the
    response decoded with their special tokens, re-tokenised, decoded *without* special tokens (BOS and EOS go),
    and tokenised again with the tokenizer's own special tokens (BOS comes back once).

    Within one prompt's group the prompt adds the same count to every response, so the length-penalised reward
    (a z-score within the group) is unchanged by it; what differs from the generated count is that the EOS is
    not counted, a response re-tokenises to its canonical tokens (a sampled non-canonical split counts less),
    and special tokens inside the response are not counted.
    """
    text = tokenizer.decode(list(prompt_ids) + list(completion_ids), skip_special_tokens=False)
    plain = tokenizer.decode(tokenizer.encode(text, add_special_tokens=False), skip_special_tokens=True)
    return len(tokenizer.encode(plain))


NO_THINKING = "Okay, I think I have finished thinking.\n</think>\n\n"
"""NoThinking's prefill (Ma et al. 2025, arXiv 2504.09858): the thinking closed for the model, which then answers."""


def no_thinking_prefill(prompt: str, tokenizer, end_of_thinking: str | None = None) -> str:
    """What ``--no_thinking`` writes after a rendered ``prompt``: for a thinking model (its tokenizer has
    ``</think>``), :data:`NO_THINKING`, after an opening ``<think>\\n`` unless the prompt already ends with one (as
    DeepSeek-R1's current chat template does); else ``end_of_thinking`` (a benchmark's own, e.g. the organism's
    ``>``).

    Example:
        >>> class Vocab:
        ...     def get_vocab(self):
        ...         return {"</think>": 9}
        >>> no_thinking_prefill("<|Assistant|><think>\\n", Vocab())
        'Okay, I think I have finished thinking.\\n</think>\\n\\n'
        >>> no_thinking_prefill("Q: 1+2", Vocab())[:8]
        '<think>\\n'
    """
    if end_of_thinking_id(tokenizer) is not None:
        return NO_THINKING if prompt.endswith("<think>\n") else "<think>\n" + NO_THINKING
    if end_of_thinking is None:
        raise ValueError(
            "--no_thinking: this model has no </think> token and the benchmark names no end of thinking; there is "
            "no thinking to skip"
        )
    return end_of_thinking
