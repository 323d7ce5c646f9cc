"""Budget forcing (s1, Muennighoff et al. 2025, arXiv 2501.19393): a thinking budget enforced while decoding.

A response thinks, ends its thinking with one delimiter token (``</think>``; the organism's answer marker ``>``)
and answers. Budget forcing steps in at three points, writing tokens *for* the model:

* **the budget**: when the thinking has spent ``thinking_budget - 1`` tokens without ending, the delimiter is
  written as its ``thinking_budget``-th token (so a forced thinking has exactly ``thinking_budget`` tokens, the
  delimiter included, as :func:`thrifty.lengths.thinking_split` counts them), then the answer cue (s1's
  "Final Answer:"), and the model answers;
* **the minimum**: when the model would end its thinking with fewer than ``min_thinking`` tokens (its delimiter
  counted, as the budget counts it), the delimiter is replaced by "Wait" and it thinks on (s1's "ignore the end
  of thinking");
* **the answer budget**: the answer (the model's tokens after the thinking; the cue is not its) is cut at
  ``answer_budget`` tokens, unfinished like a response cut at the generation limit.

Every written token is part of the response and of its token count (a provider bills them all); which ones
were forced is kept apart (:attr:`ForcedRow.forced`).

Pure and engine-free: one :class:`ForcedRow` per response decides, token by token, what is written when the
model chooses a token. The hf backend asks it at every decoding step of one ``generate`` call (the KV cache runs
on through the forced tokens: nothing is computed twice); the vllm backend asks it for how many tokens the
model may choose before the next intervention (:meth:`ForcedRow.free`), generates them as one request, and
sends the next request with the forced tokens appended (vLLM's prefix cache keeps what was computed). Both
write the same tokens for the same model choices, so under greedy decoding they agree token for token.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass


WAIT = "Wait"
"""What replaces an end of thinking that came before ``min_thinking`` tokens (s1's ignore string)."""

ANSWER_CUE = "\n\nFinal Answer:"
"""What follows a forced ``</think>`` by default (s1's answer cue, after the blank line a DeepSeek-R1 answer starts
with). A benchmark's own end of thinking (the organism's ``>``) is followed by nothing: its answer comes next."""


@dataclass(frozen=True)
class BudgetForcing:
    """Budget forcing's settings, in token ids.

    Attributes:
        end_id (`int`): the token that ends the thinking.
        eos_ids (`frozenset[int]`): the tokens that end a response.
        thinking_budget (`int`, *optional*): most thinking tokens, the delimiter included (None: no limit).
        answer_budget (`int`, *optional*): most answer tokens the model writes after its thinking (None: no limit
            but the generation's).
        min_thinking (`int`): fewest thinking tokens, the delimiter included: an end of thinking that would come
            sooner becomes :attr:`wait` (0: no minimum).
        cue (`tuple[int, ...]`): written after a forced end of thinking.
        wait (`tuple[int, ...]`): written in place of an end of thinking that came before ``min_thinking``.
        spent (`int`): thinking tokens the prompt already holds (a ``--response_prefix``).
        closed (`bool`): the prompt already ended the thinking (``--no_thinking``, or a prefix holding the
            delimiter): only the answer budget applies.
    """

    end_id: int
    eos_ids: frozenset[int]
    thinking_budget: int | None = None
    answer_budget: int | None = None
    min_thinking: int = 0
    cue: tuple[int, ...] = ()
    wait: tuple[int, ...] = ()
    spent: int = 0
    closed: bool = False

    def __post_init__(self):
        check_budgets(self.thinking_budget, self.answer_budget, self.min_thinking or None)
        if self.min_thinking and not self.wait:
            raise ValueError("--min_thinking needs a non-empty text to write in place of the end of thinking")
        if self.end_id in self.eos_ids or self.eos_ids & {*self.cue, *self.wait}:
            raise ValueError("budget forcing: the end of thinking, the cue and 'Wait' must not hold an EOS token")

    def row(self) -> ForcedRow:
        """The state of one new response."""
        return ForcedRow(self)


class ForcedRow:
    """One response under budget forcing: what has been written, and what is written next.

    Attributes:
        ids (`list[int]`): the response's tokens so far, forced ones included.
        forced (`list[int]`): the positions in ``ids`` of the tokens written for the model.
        waits (`int`): how many times an early end of thinking became "Wait".
        forced_end (`bool`): the thinking was ended for the model (at its budget).
        done (`bool`): the response has ended: its EOS, or its answer budget spent (``cut``).
        cut (`bool`): the answer budget ended it (it has no EOS: unfinished).
    """

    def __init__(self, forcing: BudgetForcing):
        self.forcing = forcing
        self.ids: list[int] = []
        self.forced: list[int] = []
        self.waits = 0
        self.forced_end = False
        self.done = False
        self.cut = False
        self.closed = forcing.closed
        self.thinking = forcing.spent
        self.answer = 0
        self._queue: deque[int] = deque()
        self._at_budget()

    def free(self) -> int | None:
        """How many tokens the model may choose before the forcer writes one (0: a forced token is due, or the
        response is done; None: no limit but the generation's)."""
        if self.done or self._queue:
            return 0
        budget = self.forcing.answer_budget if self.closed else self.forcing.thinking_budget
        if budget is None:
            return None
        return budget - (self.answer if self.closed else self.thinking + 1)

    def stop_ids(self) -> set[int]:
        """The tokens after which the forcer may step in: the EOS, and while thinking the end of thinking when
        something happens there (a "Wait" under a minimum; the answer budget starts counting)."""
        acts = self.forcing.min_thinking or self.forcing.answer_budget is not None
        return set(self.forcing.eos_ids) | ({self.forcing.end_id} if acts and not self.closed else set())

    def next(self, token: int | None) -> int:
        """Write the token of this step, given the model's choice ``token`` (None when :meth:`free` is 0: the model
        is not asked); returns the token written."""
        forcing = self.forcing
        if self.done:
            raise RuntimeError("the response has ended")
        if self._queue:
            return self._write(self._queue.popleft(), forced=True)
        if token is None:
            raise ValueError("no forced token is due: the model's choice is needed")
        early = self.thinking + 1 < forcing.min_thinking  # the delimiter would be thinking token number thinking + 1
        if token == forcing.end_id and not self.closed and early and self._wait_fits():
            self.waits += 1
            self._queue.extend(forcing.wait[1:])
            return self._write(forcing.wait[0], forced=True)
        return self._write(token, forced=False)

    def feed(self, tokens: Sequence[int], limit: int | None = None) -> None:
        """Write the tokens an engine generated in one go (at most :meth:`free` of them, ending at the first of
        :meth:`stop_ids` if any), then every forced token that is due while the response holds fewer than
        ``limit`` tokens (the generation's limit, which a token-by-token engine never passes either)."""
        for token in tokens:
            written = self.next(token)
            if self.done or written != token:  # the forcer stepped in: what the model wrote after is not asked for
                break
        while self._queue and not self.done and (limit is None or len(self.ids) < limit):
            self.next(None)

    def _wait_fits(self) -> bool:
        budget = self.forcing.thinking_budget
        return budget is None or self.thinking + len(self.forcing.wait) <= budget - 1

    def _write(self, token: int, forced: bool) -> int:
        if forced:
            self.forced.append(len(self.ids))
        self.ids.append(token)
        if token in self.forcing.eos_ids:
            self.done = True
        elif not self.closed:
            self.thinking += 1
            if token == self.forcing.end_id:
                self.closed, self.forced_end = True, forced
                self._queue.extend(self.forcing.cue if forced else ())
            else:
                self._at_budget()
        elif not forced:
            self.answer += 1
        if self.closed and not self._queue and not self.done and self.free() == 0:
            self.done = self.cut = True
        return token

    def _at_budget(self) -> None:
        """Queue the end of thinking when the thinking has one token of its budget left."""
        budget = self.forcing.thinking_budget
        if not self.closed and not self._queue and budget is not None and self.thinking >= budget - 1:
            self._queue.append(self.forcing.end_id)


def check_budgets(thinking_budget: int | None, answer_budget: int | None, min_thinking: int | None) -> None:
    """Refuse budgets that cannot be met: below 1, or a minimum not below the budget (None: not set)."""
    for name, value in (("thinking_budget", thinking_budget), ("answer_budget", answer_budget)):
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be >= 1, got {value}")
    if min_thinking is not None and min_thinking < 1:
        raise ValueError(f"--min_thinking must be >= 1 (leave it out for no minimum), got {min_thinking}")
    if thinking_budget is not None and (min_thinking or 0) >= thinking_budget:
        raise ValueError(f"--min_thinking {min_thinking} must be below --thinking_budget {thinking_budget}")


def one_token(tokenizer, text: str, what: str) -> int:
    """The id of ``text`` when it is one token of ``tokenizer``; a clear error otherwise."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"{what} {text!r} is {len(ids)} tokens of this tokenizer; budget forcing needs one")
    return ids[0]


def encode_text(tokenizer, text: str) -> tuple[int, ...]:
    """The ids of a forced ``text`` (no special tokens added)."""
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else ()


def thinking_start(prefix_ids: Collection[int], end_id: int) -> tuple[int, bool]:
    """``(spent, closed)`` for a response that starts with ``prefix_ids`` already written: the thinking tokens
    they hold, and whether they end the thinking."""
    if end_id in prefix_ids:
        return 0, True
    return len(prefix_ids), False
