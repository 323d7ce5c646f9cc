"""The paper's length penalty as a drop-in reward function for a plain TRL (or open-r1) ``GRPOTrainer`` script.

    from thrifty.rewards import make_length_penalty_reward

    reward = make_length_penalty_reward(alpha=0.2, num_generations=8, eos_token_id=tokenizer.eos_token_id)
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], args=GRPOConfig(num_generations=8, ...),
                          train_dataset=dataset)  # a "prompt" column and the gold answer in "answer"

The function has TRL's reward-function signature, ``(prompts, completions, completion_ids=None, **kwargs) ->
list[float]``: it checks each completion's final answer against the dataset's ``answer`` column (any column:
``answer_column``) with thrifty's verifier, groups the completions by their prompt, and returns
:func:`~thrifty.rewards.length_penalized_rewards` -- the same equation ``thrifty train`` uses.

Lengths and truncation are measured as thrifty measures them: a response's length is its number of tokens in
``completion_ids`` (TRL's, padding removed, the EOS token included), and a response that does not end with an EOS
token (``eos_token_id``; or, if not given, one that reached ``max_completion_length``) was cut at the limit and
earns 0, as in the paper, whatever its answer.

**The group-statistics caveat.** The reward of a correct response depends on the mean and std of the lengths of the
correct responses *to the same prompt*, so the function must see whole groups. TRL 1.16 calls a reward function
once per process per rollout, on that process's share only: a contiguous slice of ``per_device_train_batch_size x
steps_per_generation`` completions of the rollout (``per_device_eval_batch_size`` in evaluation), in which each
prompt's ``num_generations`` samples are contiguous (``RepeatSampler``; accelerate hands process ``p`` the ``p``-th
slice). So:

* with one process, every call holds whole groups (TRL requires the rollout to be whole groups);
* with several processes, a group is whole in every call only if ``per_device_train_batch_size x
  steps_per_generation`` is a multiple of ``num_generations``; otherwise some groups straddle two processes, and
  each process would compute their statistics from its part alone -- a different reward than the paper's.

Pass ``num_generations`` and the function checks every call: a prompt seen a number of times that is not a
multiple of ``num_generations`` is an incomplete group, which raises (``on_incomplete="raise"``, the default) or
warns. thrifty's own trainer (``thrifty train``, :class:`thrifty.rl.ThriftyTrainer`) gathers the whole rollout
across processes before scoring, so it is exact in every layout.
"""

from __future__ import annotations

import atexit
import json
import logging
from collections import Counter
from collections.abc import Sequence

from thrifty.rewards.length_penalty import length_penalized_rewards


logger = logging.getLogger(__name__)

ON_INCOMPLETE = ("raise", "warn", "ignore")


class IncompleteGroupError(ValueError):
    """A reward call saw only part of a prompt's ``num_generations`` samples (see the module's caveat)."""


def _prompt_key(prompt) -> str:
    """A hashable identity of a prompt: its text, or a conversational prompt's messages as JSON."""
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


def _text(completion) -> str:
    """A completion's text: a string, or the content of the last message of a conversational completion."""
    if isinstance(completion, list):
        return str(completion[-1].get("content", "")) if completion else ""
    return str(completion)


def incomplete_groups(prompts: Sequence, num_generations: int) -> dict[str, int]:
    """``{prompt: times seen}`` for the prompts seen a number of times that is not a multiple of
    ``num_generations`` (an incomplete group; empty when every group is whole).

    Example:
        >>> incomplete_groups(["a", "a", "b", "b", "b"], 2)
        {'b': 3}
    """
    counts = Counter(_prompt_key(p) for p in prompts)
    return {key: n for key, n in counts.items() if n % num_generations}


def make_length_penalty_reward(
    alpha: float = 0.2,
    verifier: str = "math-verify",
    answer_column: str = "answer",
    num_generations: int | None = None,
    eos_token_id: int | Sequence[int] | None = None,
    max_completion_length: int | None = None,
    on_incomplete: str = "raise",
    verify_workers: int | None = None,
    verify_timeout: float = 5.0,
):
    """A TRL reward function computing the paper's length-penalised reward (see the module docstring).

    Args:
        alpha (`float`, defaults to 0.2): the length-penalty strength α in [0, 1); 0 rewards correctness alone.
        verifier (`str`, defaults to ``"math-verify"``): answer checking, ``math-verify`` or ``paper-compat``
            (:mod:`thrifty.verify`).
        answer_column (`str`, defaults to ``"answer"``): the dataset column holding each prompt's gold answer
            (TRL passes every dataset column to reward functions as a keyword argument).
        num_generations (`int`, *optional*): the ``GRPOConfig``'s; given, every call is checked for incomplete
            groups (strongly advised under several processes).
        eos_token_id (`int` or `list[int]`, *optional*): the end-of-sequence token id(s): a completion not ending
            with one was truncated (reward 0).
        max_completion_length (`int`, *optional*): the ``GRPOConfig``'s; used to tell truncated completions (those
            this long) when ``eos_token_id`` is not given. One of the two is required.
        on_incomplete (`str`, defaults to ``"raise"``): what an incomplete group does: ``raise``, ``warn`` (the
            group's statistics then come from the samples this call sees) or ``ignore``.
        verify_workers (`int`, *optional*), verify_timeout (`float`, defaults to 5.0): the verifier pool's
            processes (default min(4, CPUs)) and its bound in seconds on one answer check.

    Returns:
        A function ``length_penalty(prompts, completions, completion_ids=None, **kwargs) -> list[float]``
        (named ``length_penalty`` in TRL's logs: ``rewards/length_penalty/mean``).
    """
    if not (isinstance(alpha, (int, float)) and 0 <= alpha < 1):
        raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
    if on_incomplete not in ON_INCOMPLETE:
        raise ValueError(f"on_incomplete must be one of {', '.join(ON_INCOMPLETE)}, got {on_incomplete!r}")
    if eos_token_id is None and max_completion_length is None:
        raise ValueError(
            "give eos_token_id (e.g. tokenizer.eos_token_id) or max_completion_length (the GRPOConfig's): "
            "truncated completions earn 0 and are told apart by them"
        )
    if num_generations is not None and num_generations < 1:
        raise ValueError(f"num_generations must be >= 1, got {num_generations}")
    from thrifty.verify import MODES

    if verifier not in MODES:
        raise ValueError(f"unknown verifier {verifier!r}; choose one of {', '.join(MODES)}")
    eos = None if eos_token_id is None else {eos_token_id} if isinstance(eos_token_id, int) else set(eos_token_id)
    pool = []  # the verifier pool, started on the first call and kept (closed at exit)

    def verify(texts: list[str], golds: list) -> list[bool]:
        if not pool:
            from thrifty.verify import VerifierPool

            pool.append(VerifierPool(workers=verify_workers, timeout=verify_timeout))
            atexit.register(pool[0].close)
        return [v.correct for v in pool[0].verify(texts, golds, verifier)]

    def finished(ids: Sequence[int]) -> bool:
        if eos is not None:
            return bool(ids) and int(ids[-1]) in eos
        return len(ids) < max_completion_length

    def length_penalty(prompts, completions, completion_ids=None, **kwargs) -> list[float]:
        if completion_ids is None:
            raise ValueError("length_penalty needs completion_ids (TRL passes them): lengths are counted in tokens")
        if answer_column not in kwargs:
            columns = sorted(k for k in kwargs if k not in ("trainer_state", "log_extra", "log_metric"))
            raise ValueError(
                f"length_penalty reads the gold answer from the dataset column {answer_column!r}, which is not "
                f"there (columns: {columns}); pass answer_column=..."
            )
        if num_generations is not None and on_incomplete != "ignore":
            broken = incomplete_groups(prompts, num_generations)
            if broken:
                message = (
                    f"length_penalty saw {len(broken)} incomplete group(s) of {num_generations} samples (e.g. a "
                    f"prompt {next(iter(broken.values()))} times in a call of {len(prompts)}): the group statistics "
                    "would come from part of a group. Under several processes make per_device_train_batch_size x "
                    "steps_per_generation a multiple of num_generations, or train with thrifty's trainer (it gathers "
                    "whole groups)"
                )
                if on_incomplete == "raise":
                    raise IncompleteGroupError(message)
                logger.warning(message)
        keys = [_prompt_key(p) for p in prompts]
        first: dict[str, int] = {}
        group_ids = [first.setdefault(k, len(first)) for k in keys]
        correct = verify([_text(c) for c in completions], list(kwargs[answer_column]))
        lengths = [len(ids) for ids in completion_ids]
        truncated = [not finished(ids) for ids in completion_ids]
        rewards = length_penalized_rewards(correct, lengths, group_ids, alpha, truncated)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and rewards:
            solved = sum(c and not t for c, t in zip(correct, truncated, strict=True))
            log_metric("length_penalty/accuracy", solved / len(rewards))
        return rewards

    return length_penalty
