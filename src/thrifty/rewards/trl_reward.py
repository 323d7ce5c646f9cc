"""The paper's length penalty as a drop-in reward function for a plain TRL (or open-r1) ``GRPOTrainer`` script.

    from thrifty.rewards import make_length_penalty_reward

    config = GRPOConfig(output_dir="grpo", num_generations=8, max_completion_length=1024)  # + your settings
    reward = make_length_penalty_reward(
        alpha=0.2, num_generations=config.num_generations, num_generations_eval=config.num_generations_eval,
        max_completion_length=config.max_completion_length, eos_token_id=tokenizer.eos_token_id,
    )
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], args=config,
                          train_dataset=dataset)  # a "prompt" column and the gold answer in "answer"

The function has TRL's reward-function signature, ``(prompts, completions, completion_ids=None, **kwargs) ->
list[float]``: it checks each completion's final answer against the dataset's ``answer`` column (any column:
``answer_column``) with thrifty's verifier, groups the completions as ``thrifty train`` does, by position (below),
and returns :func:`~thrifty.rewards.length_penalized_rewards` -- the same equation ``thrifty train`` uses.

**Groups are positions, not prompt texts.** TRL's ``RepeatSampler`` lays each dataset row's ``G`` samples out
contiguously, and two rows may share a prompt text (the organism's training split repeats its level-1 questions), so
their ``2G`` samples can be adjacent in one call. With ``num_generations`` given, a group is a block of ``G``
consecutive samples: each maximal run of consecutive identical prompts is cut into blocks of ``G`` (so two adjacent
rows with the same text are two groups, as in ``thrifty train``), and a run whose length is not a multiple of ``G``
holds an incomplete group. ``G`` is ``num_generations`` in training and ``num_generations_eval`` (default:
``num_generations``) in evaluation. TRL passes reward functions no train/eval flag (``trainer_state`` is the same in
both), so the function reads the mode TRL itself reads, the trainer's ``model.training``, through ``log_metric``
(TRL's bound method); if that is not available (a call from your own code), a call is taken to be consistent with
the first of ``num_generations``, ``num_generations_eval`` that divides every run length. Without
``num_generations`` the function falls back to grouping by prompt text (all samples of one text in a call are one
group, duplicate rows merged) and checks nothing.

**Lengths and truncation** are measured as thrifty and TRL measure them: a response's length is its number of tokens
in ``completion_ids`` (TRL's, cut after the first EOS, padding removed, the EOS included). TRL stops a completion at
the first of its EOS ids -- the tokenizer's ``eos_token_id`` and every id in ``model.generation_config.eos_token_id``
(``GRPOTrainer.eos_token_ids``) -- or at ``max_completion_length`` tokens, and counts one as truncated (its
``completions/clipped_ratio``, ``mask_truncated_completions``) when its last id is none of those EOS ids nor the pad
id. Here a truncated response earns 0, as in the paper, whatever its answer; it is one that

* with ``max_completion_length`` given: reached ``max_completion_length`` tokens without ending in an EOS id
  (``eos_token_id``, if given). A shorter completion is finished whatever its last token, so an EOS id missing from
  ``eos_token_id`` can only mislabel a completion ending exactly at the limit -- the robust setting;
* with only ``eos_token_id``: does not end with one of its ids (pass every id TRL uses, e.g. ``[tokenizer.
  eos_token_id, *model.generation_config.eos_token_id]`` when that is a list, or a finished completion ending in a
  missing one, e.g. Qwen2.5-Instruct's 151643 beside its tokenizer's ``<|im_end|>``, earns 0).

**The group-statistics caveat.** The reward of a correct response depends on the mean and std of the lengths of the
correct responses in its group, so the function must see whole groups. TRL 1.16 calls a reward function once per
process per rollout, on that process's share only: a contiguous slice of ``per_device_train_batch_size x
steps_per_generation`` completions of the rollout (``per_device_eval_batch_size`` in evaluation), in which each
row's ``G`` samples are contiguous (accelerate hands process ``p`` the ``p``-th slice). So:

* with one process, every call holds whole groups (TRL requires the rollout to be whole groups);
* with several processes, a group is whole in every call only if ``per_device_train_batch_size x
  steps_per_generation`` is a multiple of ``num_generations``; otherwise some groups straddle two processes, and
  each process would compute their statistics from its part alone -- a different reward than the paper's.

Pass ``num_generations`` and the function checks every call: a run of identical prompts whose length is not a
multiple of ``G`` is an incomplete group, which raises (``on_incomplete="raise"``, the default) or warns. thrifty's
own trainer (``thrifty train``, :class:`thrifty.rl.ThriftyTrainer`) gathers the whole rollout across processes
before scoring, so it is exact in every layout.
"""

from __future__ import annotations

import atexit
import json
import logging
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


def prompt_runs(prompts: Sequence) -> list[int]:
    """The lengths of the maximal runs of consecutive identical prompts, in order.

    Example:
        >>> prompt_runs(["a", "a", "a", "a", "b", "b", "a", "a"])
        [4, 2, 2]
    """
    runs: list[int] = []
    previous = object()
    for key in map(_prompt_key, prompts):
        if runs and key == previous:
            runs[-1] += 1
        else:
            runs.append(1)
        previous = key
    return runs


def position_group_ids(runs: Sequence[int], size: int) -> list[int]:
    """Group ids by position, as ``thrifty train`` assigns them: each run of identical prompts (:func:`prompt_runs`)
    cut into blocks of ``size`` consecutive samples; a run's last block is shorter when ``size`` does not divide it.

    Example:
        >>> position_group_ids([4, 3], 2)  # two adjacent rows of one text, then an incomplete run
        [0, 0, 1, 1, 2, 2, 3]
    """
    group_ids: list[int] = []
    for run in runs:
        first = group_ids[-1] + 1 if group_ids else 0
        group_ids.extend(first + i // size for i in range(run))
    return group_ids


def _text_group_ids(prompts: Sequence) -> list[int]:
    """Group ids by prompt text (every sample of one text in the call is one group): the fallback without G."""
    first: dict[str, int] = {}
    return [first.setdefault(_prompt_key(p), len(first)) for p in prompts]


def _training(log_metric) -> bool | None:
    """Whether TRL is training (True) or evaluating (False) in this call, or None when that cannot be told.

    TRL passes reward functions no mode flag; its ``log_metric`` is the trainer's bound method, and TRL itself
    decides the mode (and ``num_generations`` vs ``num_generations_eval``) from the trainer's ``model.training``.
    """
    training = getattr(getattr(getattr(log_metric, "__self__", None), "model", None), "training", None)
    return training if isinstance(training, bool) else None


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
    num_generations_eval: int | None = None,
):
    """A TRL reward function computing the paper's length-penalised reward (see the module docstring).

    Args:
        alpha (`float`, defaults to 0.2): the length-penalty strength α in [0, 1); 0 rewards correctness alone.
        verifier (`str`, defaults to ``"math-verify"``): answer checking, ``math-verify`` or ``paper-compat``
            (:mod:`thrifty.verify`).
        answer_column (`str`, defaults to ``"answer"``): the dataset column holding each prompt's gold answer
            (TRL passes every dataset column to reward functions as a keyword argument).
        num_generations (`int`, *optional*): the ``GRPOConfig``'s; given, completions are grouped by position in
            blocks of it (as ``thrifty train`` does) and every call is checked for incomplete groups. Without it they
            are grouped by prompt text (adjacent dataset rows with the same prompt merge into one group).
        eos_token_id (`int` or `list[int]`, *optional*): the end-of-sequence token id(s) TRL stops at (the
            tokenizer's and those of ``model.generation_config.eos_token_id``): a completion ending with one is
            finished.
        max_completion_length (`int`, *optional*): the ``GRPOConfig``'s; given, only a completion this long (and not
            ending with an ``eos_token_id``) is truncated -- the robust setting. One of the two is required.
        on_incomplete (`str`, defaults to ``"raise"``): what an incomplete group does: ``raise``, ``warn`` (the
            group's statistics then come from the samples this call sees) or ``ignore``.
        verify_workers (`int`, *optional*), verify_timeout (`float`, defaults to 5.0): the verifier pool's
            processes (default min(4, CPUs)) and its bound in seconds on one answer check.
        num_generations_eval (`int`, *optional*): the ``GRPOConfig``'s, the group size of evaluation calls
            (default: ``num_generations``).

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
            "give max_completion_length (the GRPOConfig's) and/or eos_token_id (e.g. tokenizer.eos_token_id): "
            "truncated completions earn 0 and are told apart by them"
        )
    for name, value in (("num_generations", num_generations), ("num_generations_eval", num_generations_eval)):
        if value is not None and not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if num_generations_eval is not None and num_generations is None:
        raise ValueError("num_generations_eval needs num_generations (the GRPOConfig's); pass both")
    from thrifty.verify import MODES

    if verifier not in MODES:
        raise ValueError(f"unknown verifier {verifier!r}; choose one of {', '.join(MODES)}")
    eos = None if eos_token_id is None else {eos_token_id} if isinstance(eos_token_id, int) else set(eos_token_id)
    train_size = num_generations
    eval_size = num_generations_eval or num_generations
    pool = []  # the verifier pool, started on the first call and kept (closed at exit)

    def verify(texts: list[str], golds: list) -> list[bool]:
        if not pool:
            from thrifty.verify import VerifierPool

            pool.append(VerifierPool(workers=verify_workers, timeout=verify_timeout))
            atexit.register(pool[0].close)
        return [v.correct for v in pool[0].verify(texts, golds, verifier)]

    def finished(ids: Sequence[int]) -> bool:
        ends_with_eos = eos is not None and bool(ids) and int(ids[-1]) in eos
        if max_completion_length is not None:
            return ends_with_eos or len(ids) < max_completion_length
        return ends_with_eos

    def group_ids(prompts, training: bool | None) -> list[int]:
        """Group ids by position in blocks of G (checked), or by prompt text without ``num_generations``."""
        if train_size is None:
            return _text_group_ids(prompts)
        runs = prompt_runs(prompts)
        sizes = [train_size] if training else [eval_size] if training is False else [train_size, eval_size]
        size = next((g for g in sizes if not any(run % g for run in runs)), None)
        if size is None:
            size = sizes[0]
            broken = [run for run in runs if run % size]
            if on_incomplete != "ignore":
                name = "num_generations_eval" if training is False else "num_generations"
                other = f" (nor of num_generations_eval={eval_size})" if len(set(sizes)) > 1 else ""
                message = (
                    f"length_penalty saw {len(broken)} incomplete group(s) of {name}={size} samples (e.g. a prompt "
                    f"{broken[0]} times in a row in a call of {len(prompts)}{other}): the group statistics would "
                    "come from part of a group. Under several processes make per_device_train_batch_size x "
                    "steps_per_generation a multiple of num_generations, or train with thrifty's trainer (it gathers "
                    "whole groups)"
                )
                if on_incomplete == "raise":
                    raise IncompleteGroupError(message)
                logger.warning(message)
        return position_group_ids(runs, size)

    def length_penalty(prompts, completions, completion_ids=None, **kwargs) -> list[float]:
        if completion_ids is None:
            raise ValueError("length_penalty needs completion_ids (TRL passes them): lengths are counted in tokens")
        if answer_column not in kwargs:
            columns = sorted(k for k in kwargs if k not in ("trainer_state", "log_extra", "log_metric"))
            raise ValueError(
                f"length_penalty reads the gold answer from the dataset column {answer_column!r}, which is not "
                f"there (columns: {columns}); pass answer_column=..."
            )
        log_metric = kwargs.get("log_metric")
        groups = group_ids(prompts, _training(log_metric))
        correct = verify([_text(c) for c in completions], list(kwargs[answer_column]))
        lengths = [len(ids) for ids in completion_ids]
        truncated = [not finished(ids) for ids in completion_ids]
        rewards = length_penalized_rewards(correct, lengths, groups, alpha, truncated)
        if callable(log_metric) and rewards:
            solved = sum(c and not t for c, t in zip(correct, truncated, strict=True))
            log_metric("length_penalty/accuracy", solved / len(rewards))
        return rewards

    return length_penalty
