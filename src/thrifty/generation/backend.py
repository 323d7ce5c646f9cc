"""What every engine shares: how to sample, what a response is, the Backend interface, and the token accounting
both engines use (prompt encoding, EOS ids, finishing a response), so counts and text do not depend on the engine."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol


if TYPE_CHECKING:
    from thrifty.generation.budget import BudgetForcing, ForcedRow


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. ``temperature == 0`` means greedy decoding; ``top_k`` is off unless set (as in vLLM)."""

    temperature: float = 0.6
    top_p: float = 1.0
    max_new_tokens: int = 32768

    def __post_init__(self):
        if not 0 <= self.temperature < math.inf:  # NaN fails too: it would silently decode greedily
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass(frozen=True)
class Completion:
    """One sampled response.

    Attributes:
        text (`str`): the response, special tokens removed.
        tokens (`int`): response length in tokens, the EOS token included when there is one.
        finished (`bool`): True if the model emitted EOS, False if it was cut at ``max_new_tokens``.
        ids (`tuple[int, ...]`, *optional*): the response's token ids, the EOS included (``len(ids) == tokens``):
            what its thinking and answer tokens are counted on (:func:`thrifty.lengths.thinking_split`).
        forced (`tuple[int, ...]`): under budget forcing, the positions in ``ids`` of the tokens written for the
            model (they are in ``text`` and ``tokens`` too: a provider bills them).
        waits (`int`): under budget forcing, how many early ends of thinking became "Wait".
        forced_end (`bool`): under budget forcing, the thinking was ended for the model at its budget.
    """

    text: str
    tokens: int
    finished: bool
    ids: tuple[int, ...] | None = None
    forced: tuple[int, ...] = ()
    waits: int = 0
    forced_end: bool = False


class Backend(Protocol):
    """What the evaluation harness and ``thrifty generate`` need from an engine. (RL rollouts are TRL's own
    generation: transformers or vLLM, as its config says.)"""

    tokenizer: object
    """The model's tokenizer (used to render chat templates)."""

    def generate(
        self,
        prompts: Sequence[str],
        n: int,
        params: SamplingParams,
        seeds: int | Sequence[int],
        forcing: BudgetForcing | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions for each prompt (``result[i][j]`` is sample j of prompt i), under budget forcing's
        ``forcing`` if given (:mod:`thrifty.generation.budget`).

        Prompts are fully rendered text (chat template applied). ``seeds`` holds one seed per prompt (an int
        ``s`` stands for ``prompt_seeds(s, len(prompts))``); sample j of prompt i is drawn from its own random
        stream, seeded with ``sample_seed(seeds[i], j)``, so it does not depend on the other prompts and samples
        of the call, on how many there are or on their order: the same prompt and seed give the same sample
        whatever the batch (up to float noise in the logits, which flips a token only on a near-tie).
        """
        ...


SEED_BITS = 63
"""Derived seeds are non-negative ints below ``2**SEED_BITS`` (what ``torch.manual_seed`` and vLLM take)."""


def derive_seed(*parts) -> int:
    """A seed derived from ``parts`` (ints and strings) by hashing: nearby inputs give unrelated seeds.

    Example:
        >>> derive_seed(0, "gsm8k-12") == derive_seed(0, "gsm8k-12") != derive_seed(1, "gsm8k-12")
        True
    """
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> (64 - SEED_BITS)


def prompt_seeds(seeds: int | Sequence[int], count: int) -> list[int]:
    """One seed per prompt: ``seeds`` itself (checked to hold ``count``), or for an int ``s`` prompt i's
    ``derive_seed(s, i)``."""
    if isinstance(seeds, int):
        return [derive_seed(seeds, i) for i in range(count)]
    seeds = [int(s) for s in seeds]
    if len(seeds) != count:
        raise ValueError(f"{len(seeds)} seeds for {count} prompts; give one seed per prompt")
    return seeds


def sample_seed(prompt_seed: int, sample: int) -> int:
    """The seed of sample ``sample`` of a prompt seeded ``prompt_seed``: the random stream that draws it."""
    return derive_seed(prompt_seed, sample)


def encode_prompts(tokenizer, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids of rendered prompts. A chat-templated prompt already holds its BOS, so special tokens are only
    added when the tokenizer has no chat template (a raw prompt)."""
    add_special = not getattr(tokenizer, "chat_template", None)
    return tokenizer(list(prompts), add_special_tokens=add_special)["input_ids"]


def eos_token_ids(tokenizer, generation_config) -> list[int]:
    """Every id that ends a response: the model's ``generation_config`` EOS id(s) and the tokenizer's."""
    eos = getattr(generation_config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def completion_from_ids(ids: Sequence[int], eos_ids: Sequence[int], tokenizer) -> Completion:
    """The response in generated ids: up to and including the first EOS (finished), else all of them (cut at
    the token limit). The EOS counts as a token and is not part of the text; the response's ids keep it.

    Example:
        >>> class Letters:
        ...     def decode(self, ids, skip_special_tokens=True):
        ...         return "".join(chr(96 + i) for i in ids)
        >>> c = completion_from_ids([1, 2, 0, 0], eos_ids=[0], tokenizer=Letters())  # padding after the EOS goes
        >>> c.text, c.tokens, c.finished, c.ids
        ('ab', 3, True, (1, 2, 0))
    """
    eos = set(eos_ids)
    stop = next((i for i, token in enumerate(ids) if token in eos), None)
    response = tuple(int(token) for token in (ids if stop is None else ids[: stop + 1]))
    text = tokenizer.decode(list(response if stop is None else response[:-1]), skip_special_tokens=True)
    return Completion(text, len(response), stop is not None, response)


def forced_completion(row: ForcedRow, eos_ids: Sequence[int], tokenizer) -> Completion:
    """The response a budget-forced row wrote: :func:`completion_from_ids` of its ids (cut by its answer budget, it
    has no EOS: unfinished), with what was forced."""
    completion = completion_from_ids(row.ids, eos_ids, tokenizer)
    return replace(completion, forced=tuple(row.forced), waits=row.waits, forced_end=row.forced_end)
