"""An independent re-implementation of the official code's reward server and advantage pipeline, for golden tests.

The paper's official code (Zanette-Labs/efficient-reasoning, an OpenRLHF 0.5.4 fork) computes a rollout's
per-token advantages in four places; each function here re-states one of them, in plain Python / torch, written
from reading the code (not copied), with the file and lines it follows:

* :func:`process_sequences` -- ``openrlhf/models/actor.py`` ``process_sequences`` after the padding of
  ``openrlhf/trainer/ppo_utils/experience_maker.py`` ``_generate_vllm``: a response cut at the limit has its last
  token overwritten by EOS, and the action mask covers the response *including* its EOS;
* :func:`server_rewards` -- ``reward_server/math_server.py`` ``query()`` with ``--reward_type sigmoid
  --check_eos``: the length-penalised reward, with its own length measure and its own statistics;
* :func:`rloo_rewards`, :func:`k1_kl`, :func:`compute_reward`, :func:`cumulative_returns` -- the ``rloo``
  estimator of ``experience_maker.py`` (``process_experiences``, ``make_experience_list``) and
  ``openrlhf/models/utils.py``;
* :func:`normalize_advantages` -- ``openrlhf/trainer/ppo_utils/replay_buffer.py`` ``normalize("advantages")``,
  called by ``openrlhf/trainer/ppo_trainer.py:237`` on every rollout.

:func:`official_advantages` chains the last two steps as ``make_experience_list`` and the trainer do. Line numbers
are those of the mirror's HEAD. This module is test code: it must stay independent of ``thrifty``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import torch


OFFICIAL_INPUT_TEMPLATE = (
    "<｜begin▁of▁sentence｜><｜User｜>Please reason step by step, and put your final answer within \\boxed{{}}. "
    "Question: {}<｜Assistant｜>"
)
"""``--input_template`` of run_rloo_1.5B.sh / run_rloo_7B.sh (bash ``$'...'`` unescaped), filled with
``str.format(question)``; the trainer tokenises the result without special tokens (experience_maker.py:152-160,
:678), so the BOS written in it is the prompt's only BOS."""


# --- reward_server/math_server.py ------------------------------------------------------------------------------


def server_length(tokenizer, text: str) -> int:
    """The server's length of one decoded sequence (prompt and response): tokenised without special tokens,
    decoded dropping the special ones (BOS, EOS, padding), tokenised again *with* the tokenizer's own special
    tokens (math_server.py:60 for ``all_responses``, :90 for the query itself)."""
    plain = tokenizer.decode(tokenizer.encode(text, add_special_tokens=False), skip_special_tokens=True)
    return len(tokenizer.encode(plain))


def server_sees_eos(tokenizer, text: str) -> bool:
    """The server's ``contains_eos``: the EOS id is among the text's tokens (math_server.py:64-65, :83-85)."""
    return tokenizer.eos_token_id in tokenizer.encode(text, add_special_tokens=False)


def _logistic(x: float) -> float:
    """math_server.py:32-33, in numpy as there: a z-score beyond exp's range gives inf, so 0 (a warning, no error)."""
    with np.errstate(over="ignore"):
        return float(1.0 / (1.0 + np.exp(-np.float64(x))))


def server_rewards(
    tokenizer,
    queries: Sequence[str],
    all_responses: Sequence[Sequence[str]],
    questions: Sequence[Hashable],
    answers: Mapping[Hashable, str],
    is_correct: Callable[[str, str], bool],
    alpha: float,
) -> list[float]:
    """The rewards ``query()`` returns for one request (math_server.py:35-116), ``reward_type == "sigmoid"`` and
    ``check_eos`` on (the settings of ``run_rloo_*.sh``).

    Args:
        tokenizer: the policy's tokenizer (the server loads the same one).
        queries: each query's ``response`` -- the trainer's *processed* sequence (prompt + response, last token
            overwritten by EOS when cut at the limit) decoded with its special tokens
            (experience_maker.py:558, :567).
        all_responses: for each query, every response of its group as vLLM produced it, *before*
            ``process_sequences``: ``decode(prompt_ids + output_ids, skip_special_tokens=False)``
            (experience_maker.py:692-699).
        questions: each query's question (the server's key for grouping and for the gold answer).
        answers: the gold answer of every question (the server's ``dataset_dict``).
        is_correct: ``is_correct(text, gold)`` -- the server's extractor and comparator in one (math_server.py:62,
            :70, :92-94); it is handed the whole decoded text, prompt included.
        alpha: the length-penalty strength.

    Returns:
        one reward per query.

    Raises:
        KeyError: where the server fails -- a correct query whose question got no entry in ``avg_length`` because
            no response of its group both ended with EOS and was correct (math_server.py:98); the server catches
            it and answers HTTP 500 (:118-122), failing the training step.
    """
    # First pass (math_server.py:48-77): lengths of the correct responses that carry an EOS, per question,
    # taken from the raw vLLM responses. A question is done once it has an entry (:55-56); one without a
    # correct finished response never gets one, and is looked at again at each of its queries, in vain.
    avg_length: dict[Hashable, list[int]] = {}
    for question, group in zip(questions, all_responses, strict=True):
        if question in avg_length:
            continue
        for text in group:
            length = server_length(tokenizer, text)
            if not server_sees_eos(tokenizer, text):  # check_eos: a response cut at the limit scores 0 (:67-68)
                accuracy = 0.0
            else:
                accuracy = float(is_correct(text, answers[question]))
            if accuracy > 0:  # :72-77
                avg_length.setdefault(question, []).append(length)

    # Second pass (math_server.py:79-104): each query's own reward, on the processed sequence.
    rewards = []
    for text, question in zip(queries, questions, strict=True):
        if not server_sees_eos(tokenizer, text):  # :86-88 (never true for a processed sequence: EOS is forced)
            accuracy, reward = 0.0, 0.0
        else:
            length = server_length(tokenizer, text)  # :90
            accuracy = float(is_correct(text, answers[question]))  # :91-94
        if accuracy > 0:  # :96-100
            lengths = [float(x) for x in avg_length[question]]  # KeyError here when the question has no entry
            mean = sum(lengths) / len(lengths)
            std = math.sqrt(sum((x - mean) ** 2 for x in lengths) / len(lengths))  # np.std: population
            reward = accuracy * (1.0 - alpha * _logistic((length - mean) / (std + 1e-7)))
        else:
            reward = 0.0  # :101-102
        rewards.append(reward)
    return rewards


# --- openrlhf/models/actor.py: process_sequences ------------------------------------------------------------------


def process_sequences(
    prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], eos_id: int, pad_id: int
) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """One micro-batch as the trainer sees it: prompts left-padded and vLLM's raw responses right-padded to the
    longest of the batch (experience_maker.py:712-729), then ``Actor.process_sequences`` (actor.py:155-181).

    Per row: the position after its last token that is neither EOS nor pad -- or the final position, when the last
    real token sits there (a response cut at the limit, the longest of its batch) -- is set to EOS (actor.py:168-169);
    so a cut response loses its last token to EOS. The action mask marks action ``t`` when the token *before* it
    (its state) is neither EOS nor pad, and always the first action (actor.py:177-179): it covers the response's
    tokens and its EOS, and nothing after.

    Returns:
        ``(sequences, attention_masks, action_masks)`` as lists of int lists; ``sequences[i][input_len:]`` is the
        processed response, ``action_masks[i]`` has one entry per response position (max response length).
    """
    input_len = max(len(p) for p in prompts)
    output_len = max(len(r) for r in responses)
    sequences, attention_masks, action_masks = [], [], []
    for prompt, response in zip(prompts, responses, strict=True):
        row = [pad_id] * (input_len - len(prompt)) + list(prompt) + list(response)
        row += [pad_id] * (output_len - len(response))
        n = len(row)
        real = [tok != eos_id and tok != pad_id for tok in row]  # actor.py:156
        last_real = max((i for i in range(n) if real[i]), default=None)
        # actor.py:168: n - argmax(reversed real).clamp(min=1); argmax of an all-False row is 0
        flipped_argmax = 0 if last_real is None else n - 1 - last_real
        eos_at = n - max(flipped_argmax, 1)
        row[eos_at] = eos_id  # actor.py:169
        first = next((i for i in range(n) if real[i]), 0)  # actor.py:172 (argmax of the pre-overwrite mask)
        attention_masks.append([int(first <= i <= eos_at) for i in range(n)])  # actor.py:173-174
        states = row[input_len - 1 : -1]  # actor.py:177
        action = [int(s != eos_id and s != pad_id) for s in states]  # actor.py:178
        action[0] = 1  # actor.py:179
        sequences.append(row)
        action_masks.append(action)
    return sequences, attention_masks, action_masks


# --- the rloo estimator: experience_maker.py and models/utils.py ------------------------------------------------


def rloo_rewards(rewards: torch.Tensor, n_samples_per_prompt: int) -> torch.Tensor:
    """``process_experiences`` for ``rloo`` (experience_maker.py:350-363): the rollout's rewards, in groups of
    ``n_samples_per_prompt`` consecutive responses, minus the mean of the *other* rewards of their group."""
    grouped = rewards.reshape(-1, n_samples_per_prompt).double()  # :351-352
    others = (grouped.sum(-1, keepdim=True) - grouped) / (n_samples_per_prompt - 1)  # :356
    return (grouped - others).flatten()  # :357, :363


def k1_kl(logps: torch.Tensor, ref_logps: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """``compute_approx_kl`` without ``use_kl_estimator_k3`` (models/utils.py:7-34, called at
    experience_maker.py:597-602): the log-ratio of policy to reference, zeroed off the action mask."""
    return (logps - ref_logps) * action_mask


def compute_reward(r: torch.Tensor, kl_coef: float, kl: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """Per-token rewards (models/utils.py:37-65, batched branch): ``-kl_coef * kl`` on every position, plus the
    sequence reward ``r`` on the last action-masked position (the EOS, or the overwritten last token).
    A non-positive ``kl_coef`` counts as 0 (:45-46). No ``reward_clip_range`` (the official script sets none)."""
    kl_coef = max(kl_coef, 0.0)
    per_token = -kl_coef * kl
    width = action_mask.size(1)
    # :62 -- the last position whose mask is set, found from the right
    last = width - 1 - action_mask.long().fliplr().argmax(dim=1)
    final = torch.zeros_like(kl)
    final[torch.arange(kl.size(0)), last] = r.to(kl.dtype)  # :63
    return final + per_token  # :65


def cumulative_returns(rewards: torch.Tensor, action_mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """``get_cumulative_returns`` (experience_maker.py:427-468): rewards masked by the action mask, summed from each
    position to the end with discount ``gamma``. The rloo estimator takes these returns as its advantages
    (:213-219)."""
    rewards = action_mask * rewards  # :460-461
    returns = torch.zeros_like(rewards)
    running = torch.zeros(rewards.size(0), dtype=rewards.dtype)
    for t in range(rewards.size(1) - 1, -1, -1):  # :464-466
        running = rewards[:, t] + gamma * running
        returns[:, t] = running
    return returns


def normalize_advantages(per_process: Sequence[Sequence[torch.Tensor]]) -> list[list[torch.Tensor]]:
    """``replay_buffer.normalize("advantages")`` (replay_buffer.py:208-237) over data-parallel processes.

    Each process's replay buffer holds one item per response whose advantages were cut to the action-masked
    positions when it was appended (``remove_padding_in_sequences``, replay_buffer.py:116-149, via ``append``,
    :174-181; the action mask is a prefix of ones). The mean is the sum of every process's tokens over their count
    (:228-230, ``all_reduce`` = the sum over processes); the variance, their summed squared deviations over the same
    count (:232-234), clamped at 1e-8 before the reciprocal square root. (The official code works in float32
    (:216); this reference in the input's dtype.)

    Args:
        per_process: for each process, its responses' 1-D advantages over their action tokens.

    Returns:
        the same structure, whitened.
    """
    flat = [torch.cat(list(items)) for items in per_process]
    total, count = sum(x.sum() for x in flat), sum(x.numel() for x in flat)
    mean = total / count
    squares = sum(((x - mean) ** 2).sum() for x in flat)
    rstd = (squares / count).clamp(min=1e-8).rsqrt()
    return [[(a - mean) * rstd for a in items] for items in per_process]


def official_advantages(
    rewards: torch.Tensor,
    logps: torch.Tensor,
    ref_logps: torch.Tensor,
    action_mask: torch.Tensor,
    n_samples_per_prompt: int,
    kl_coef: float,
    whiten: bool = True,
) -> list[torch.Tensor]:
    """The rloo estimator end to end, as ``make_experience_list`` (experience_maker.py:191-219) and the trainer's
    ``normalize`` (ppo_trainer.py:237) compute it, for one process holding the whole rollout.

    Args:
        rewards: ``(B,)`` the server's rewards, groups consecutive.
        logps, ref_logps: ``(B, T)`` per-token log-probs under the sampling policy and the reference.
        action_mask: ``(B, T)`` the action masks of :func:`process_sequences`.
        n_samples_per_prompt: the group size.
        kl_coef: ``--init_kl_coef`` (a fixed KL controller).
        whiten: apply ``normalize`` (the official code always does).

    Returns:
        one 1-D tensor per response: its advantages on its action-masked positions.
    """
    action_mask = action_mask.to(logps.dtype)
    advantages = rloo_rewards(rewards, n_samples_per_prompt)
    kl = k1_kl(logps, ref_logps, action_mask)
    returns = cumulative_returns(compute_reward(advantages, kl_coef, kl, action_mask), action_mask, gamma=1.0)
    items = [returns[i, : int(action_mask[i].sum())] for i in range(returns.size(0))]
    return normalize_advantages([items])[0] if whiten else items
