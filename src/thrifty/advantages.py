r"""Advantage estimators, pure and registered by name: a rollout's rewards and group ids in, advantages out.

The trainer calls the estimator named by ``--advantage_estimator`` on the whole rollout (every process's
responses), after the group reward:

* ``rloo`` -- the paper's: REINFORCE leave-one-out, :math:`A_i = r_i - \frac{1}{n-1}\sum_{j \ne i} r_j`, not
  normalised;
* ``rloo-std`` -- that advantage divided by its group's reward std (+1e-4): thrifty's former ``grpo``, the
  estimator of the normalisation runs made before GRPO's own advantage was added (the paper's Fig. 5 ablation);
* ``grpo`` -- GRPO's own, as TRL computes it: :math:`(r_i - \text{mean}_j r_j) / (\text{std}_j r_j + 10^{-4})`,
  the group mean including :math:`r_i`;
* ``reinforce++-baseline`` -- REINFORCE++-baseline (DLER's): the group mean subtracted, then divided by the std
  over the whole rollout;

and two steps after it, each its own flag: the official code's per-token KL penalty summed to go
(:func:`kl_reward_to_go`, ``--kl_penalty reward``) and its whitening over every token of the rollout
(:func:`whiten_tokens`, ``--whiten_advantages tokens``).

An estimator is registered with :func:`register_advantage`. One that shapes advantages per token also passes
``per_token``: a function of this process's per-response advantages and its :class:`TokenTerms` (the sampling
policy's and the reference model's log-probs of every response token) that returns a ``(responses, tokens)``
tensor, which TRL's loss takes as it is. One that moves the KL to the reference out of the loss and into the
advantages itself (a KL-shaped estimator of your own) also says ``kl_in_advantage=True``: the trainer
then keeps the reference model, drops the loss's KL term, and hands the estimator ``--beta`` as its coefficient.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Any

from thrifty.rewards import groups, lookup


@dataclass(frozen=True)
class TokenTerms:
    """Per-token quantities of one process's responses, tensors of shape ``(responses, tokens)``.

    Attributes:
        mask: 1 on response tokens, 0 on padding.
        logps: log-probabilities of the sampled tokens under the policy that sampled them.
        ref_logps: the same under the reference model (None when there is none: ``--beta 0``).
        beta (`float`): the KL coefficient (``--beta``).
    """

    mask: Any
    logps: Any | None
    ref_logps: Any | None
    beta: float


@dataclass(frozen=True)
class AdvantageEstimator:
    """A registered estimator: ``sequence(rewards, group_ids)`` gives one advantage per response of the rollout;
    ``per_token(advantages, terms)``, where given, turns one process's into per-token advantages;
    ``kl_in_advantage``: those carry the KL to the reference, so the loss must not."""

    name: str
    sequence: Callable[[Sequence[float], Sequence[Hashable]], list[float]]
    per_token: Callable[[Any, TokenTerms], Any] | None = None
    kl_in_advantage: bool = False


ADVANTAGES: dict[str, AdvantageEstimator] = {}
"""Registered advantage estimators, by name."""


def register_advantage(
    name: str, per_token: Callable[[Any, TokenTerms], Any] | None = None, kl_in_advantage: bool = False
):
    """Function decorator: register ``sequence(rewards, group_ids) -> list[float]`` as the estimator ``name``."""
    if kl_in_advantage and per_token is None:
        raise ValueError(f"estimator {name!r}: kl_in_advantage needs a per_token function to put the KL in")

    def register(sequence):
        ADVANTAGES[name] = AdvantageEstimator(name, sequence, per_token, kl_in_advantage)
        return sequence

    return register


def get_advantage(name: str) -> AdvantageEstimator:
    """The estimator registered as ``name``, or one a module registers: ``package.module:name`` imports the module
    first (a user's estimator outside thrifty); a clear ``ValueError`` otherwise."""
    return lookup(ADVANTAGES, name, "advantage estimator")


def _check(rewards: Sequence[float], group_ids: Sequence[Hashable]) -> None:
    if len(rewards) != len(group_ids):
        raise ValueError(f"got {len(rewards)} rewards but {len(group_ids)} group ids")


@register_advantage("rloo")
def rloo_advantages(rewards: Sequence[float], group_ids: Sequence[Hashable]) -> list[float]:
    r"""REINFORCE leave-one-out advantages: each response's reward minus the mean reward of the *other*
    responses to the same prompt. The paper's estimator: not normalised, because normalising would make the
    shortest correct answer's advantage independent of :math:`\alpha` (the paper's ablation).

    .. math:: A_i = r_i - \frac{1}{n-1}\sum_{j \ne i} r_j

    Args:
        rewards (`Sequence[float]`): one reward per response.
        group_ids (`Sequence[Hashable]`): which prompt each response answers.

    Returns:
        `list[float]`: one advantage per response. A group of one response gets 0 (no baseline exists).

    Example:
        >>> rloo_advantages([1.0, 0.0, 0.5, 0.5], ["a", "a", "a", "a"])
        [0.6666666666666667, -0.6666666666666666, 0.0, 0.0]
    """
    _check(rewards, group_ids)
    advantages = [0.0] * len(rewards)
    for members in groups(group_ids).values():
        k = len(members)
        if k < 2:
            continue
        total = sum(rewards[i] for i in members)
        for i in members:
            baseline = (total - rewards[i]) / (k - 1)
            advantages[i] = rewards[i] - baseline
    return advantages


@register_advantage("grpo")
def grpo_advantages(rewards: Sequence[float], group_ids: Sequence[Hashable]) -> list[float]:
    r"""GRPO's own advantage, as TRL's ``GRPOTrainer`` computes it (``scale_rewards="group"``): each reward minus its
    group's mean (:math:`r_i` included), over the group's sample std (``torch.std``, unbiased) plus :math:`10^{-4}`.

    .. math:: A_i = \frac{r_i - \text{mean}_j r_j}{\text{std}_j r_j + 10^{-4}}

    TRL's ``epsilon`` 1e-4 (``grpo_trainer.py``: ``advantages / (std_rewards + 1e-4)``); veRL's ``grpo`` estimator
    uses the same unbiased std with 1e-6. A group whose rewards are all equal gets 0.

    Args:
        rewards (`Sequence[float]`): one reward per response.
        group_ids (`Sequence[Hashable]`): which prompt each response answers.

    Returns:
        `list[float]`: one advantage per response. A group of one response gets 0 (its std is undefined).

    Example:
        >>> [round(a, 4) for a in grpo_advantages([1.0, 0.0, 0.5, 0.5], [0] * 4)]  # mean 0.5, std sqrt(1/6)
        [1.2244, -1.2244, 0.0, 0.0]
    """
    _check(rewards, group_ids)
    advantages = [0.0] * len(rewards)
    for members in groups(group_ids).values():
        if len(members) < 2:
            continue
        values = [rewards[i] for i in members]
        mean, std = fmean(values), stdev(values)
        for i in members:
            advantages[i] = (rewards[i] - mean) / (std + 1e-4)
    return advantages


@register_advantage("rloo-std")
def group_normalized_advantages(rewards: Sequence[float], group_ids: Sequence[Hashable]) -> list[float]:
    r"""The leave-one-out advantage divided by its group's sample std of rewards (+1e-4):
    :math:`A_i / (\mathrm{std}_j r_j + 10^{-4})`. (GRPO's own baseline is the group mean including
    :math:`r_i`, which is :math:`(n-1)/n` times this advantage: :func:`grpo_advantages`.) Registered as ``grpo``
    until GRPO's own was added; runs recorded with the old ``grpo`` used this estimator.

    Example:
        >>> [round(a, 4) for a in group_normalized_advantages([1.0, 0.0, 0.5, 0.5], [0] * 4)]
        [1.6326, -1.6326, 0.0, 0.0]
    """
    advantages = rloo_advantages(rewards, group_ids)
    for members in groups(group_ids).values():
        if len(members) < 2:
            continue
        group_std = stdev([rewards[i] for i in members])
        for i in members:
            advantages[i] /= group_std + 1e-4
    return advantages


@register_advantage("reinforce++-baseline")
def reinforce_pp_baseline_advantages(rewards: Sequence[float], group_ids: Sequence[Hashable]) -> list[float]:
    r"""REINFORCE++-baseline (Hu et al., arXiv 2501.03262; DLER's estimator): each reward minus its group's mean,
    then whitened over the whole rollout -- minus the rollout's mean of those differences, over the square root of
    their unbiased variance plus :math:`10^{-8}`.

    .. math::

        x_i = r_i - \text{mean}_{j \in g(i)} r_j, \qquad
        A_i = \frac{x_i - \text{mean}_k x_k}{\sqrt{\text{var}_k x_k + 10^{-8}}}

    As veRL's ``compute_reinforce_plus_plus_baseline_outcome_advantage`` (NVlabs/DLER,
    ``verl-dler/verl/trainer/ppo/core_algos.py``): a group of one keeps its reward as :math:`x_i` (its mean is
    taken as 0), and ``masked_whiten`` (``verl/utils/torch_functional.py``) uses the unbiased variance and 1e-8.
    veRL whitens every response *token* (a response weighs by its length); here each response counts once. For
    veRL's token weighting add ``--whiten_advantages tokens``: whitening is blind to the scale set here, so the
    result is veRL's whitening of :math:`x` (with the population variance, as OpenRLHF's ``normalize``).
    Every process computes this on the whole rollout, so "the batch" is the rollout, all processes.

    Args:
        rewards (`Sequence[float]`): one reward per response.
        group_ids (`Sequence[Hashable]`): which prompt each response answers.

    Returns:
        `list[float]`: one advantage per response (0 for all if the rollout has fewer than two).

    Example:
        >>> a = reinforce_pp_baseline_advantages([1.0, 0.0, 0.5, 0.5], ["a", "a", "b", "b"])
        >>> [round(x, 4) for x in a]  # x = 0.5, -0.5, 0, 0: mean 0, unbiased var 1/6
        [1.2247, -1.2247, 0.0, 0.0]
    """
    _check(rewards, group_ids)
    n = len(rewards)
    if n < 2:
        return [0.0] * n
    centred = [0.0] * n
    for members in groups(group_ids).values():
        mean = fmean(rewards[i] for i in members) if len(members) > 1 else 0.0
        for i in members:
            centred[i] = rewards[i] - mean
    mean = fmean(centred)
    variance = sum((x - mean) ** 2 for x in centred) / (n - 1)
    return [(x - mean) / (variance + 1e-8) ** 0.5 for x in centred]


def kl_reward_to_go(advantages, logps, ref_logps, mask, beta: float):
    r"""Per-token advantages with the official code's KL penalty: each response's advantage minus :math:`\beta` times
    the k1 estimate of its KL to the reference summed from that token to the end (OpenRLHF's ``compute_reward``
    with the reward on the last token and ``get_cumulative_returns`` with :math:`\gamma = 1`).

    .. math:: A_{i,t} = A_i - \beta \sum_{t' \ge t} \left(\log\pi_{old}(y_{t'}) - \log\pi_{ref}(y_{t'})\right)

    A response that drifts from the reference pays more the longer it is: at its first token the penalty is
    :math:`\beta L \overline{KL}`, so the KL acts as a length penalty of its own.

    Args:
        advantages (`torch.Tensor`): ``(responses,)`` sequence advantages.
        logps, ref_logps (`torch.Tensor`): ``(responses, tokens)`` log-probs of the sampled tokens under the policy
            that sampled them and under the reference model.
        mask (`torch.Tensor`): ``(responses, tokens)``, 1 on response tokens, 0 on padding.
        beta (`float`): the KL coefficient (``--beta``).

    Returns:
        `torch.Tensor`: ``(responses, tokens)`` advantages, 0 on padding.

    Example:
        >>> import torch
        >>> a = kl_reward_to_go(torch.tensor([1.0]), torch.tensor([[-1.0, -2.0, -9.0]]),
        ...                     torch.tensor([[-1.5, -1.0, 0.0]]), torch.tensor([[1, 1, 0]]), beta=0.1)
        >>> [round(x, 4) for x in a[0].tolist()]  # KL per token 0.5, -1.0: to go -0.5, -1.0
        [1.05, 1.1, 0.0]
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    mask = mask.to(logps.dtype)
    kl = (logps - ref_logps) * mask
    to_go = kl.flip(-1).cumsum(-1).flip(-1)
    return (advantages.to(logps.dtype).unsqueeze(-1) - beta * to_go) * mask


def whiten_tokens(advantages, mask, total=None):
    """Advantages whitened over every response token of the rollout, as OpenRLHF's ``replay_buffer.normalize``:
    minus their token-weighted mean, over their population std (variance clamped at 1e-8). A long response weighs
    more than a short one.

    Args:
        advantages (`torch.Tensor`): ``(responses, tokens)`` advantages of this process's responses.
        mask (`torch.Tensor`): ``(responses, tokens)``, 1 on response tokens, 0 on padding.
        total (`Callable[[torch.Tensor], torch.Tensor]`, *optional*): sums a tensor over all processes (the
            rollout is split over them); default: this process holds the whole rollout.

    Returns:
        `torch.Tensor`: the whitened advantages, 0 on padding.

    Example:
        >>> import torch
        >>> mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
        >>> w = whiten_tokens(torch.tensor([[1.0, 1.0, 0.0], [-2.0, 0.0, 0.0]]), mask)
        >>> [round(x, 4) for x in w[mask.bool()].tolist()]  # tokens 1, 1, -2: mean 0, std sqrt(2)
        [0.7071, 0.7071, -1.4142]
    """
    import torch

    total = total or (lambda x: x)
    mask = mask.to(advantages.dtype)
    stats = total(torch.stack([(advantages * mask).sum(), mask.sum()]))
    mean = stats[0] / stats[1].clamp(min=1)
    square = total(((advantages - mean) ** 2 * mask).sum().reshape(1))[0]
    variance = square / stats[1].clamp(min=1)
    return (advantages - mean) * variance.clamp(min=1e-8).rsqrt() * mask
