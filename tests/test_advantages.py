"""The advantage estimators: hand-computed values, the paper's ablation, and the registry."""

from __future__ import annotations

import math

import pytest

from thrifty.advantages import (
    ADVANTAGES,
    get_advantage,
    group_normalized_advantages,
    grpo_advantages,
    kl_reward_to_go,
    register_advantage,
    reinforce_pp_baseline_advantages,
    rloo_advantages,
    whiten_tokens,
)
from thrifty.rewards import length_penalized_rewards


def test_rloo_leave_one_out_hand_values():
    # group a: rewards 1, 0, 0.5, 0.5 -> baselines 1/3, 2/3, 1/2, 1/2
    advantages = rloo_advantages([1.0, 0.0, 0.5, 0.5, 0.3], ["a", "a", "a", "a", "b"])
    assert advantages == pytest.approx([2 / 3, -2 / 3, 0.0, 0.0, 0.0])


def test_rloo_std_divides_the_leave_one_out_advantage_by_the_group_std():
    advantages = group_normalized_advantages([1.0, 0.0], [0, 0])
    std = math.sqrt(0.5)  # sample std of (1, 0)
    assert advantages == pytest.approx([1 / (std + 1e-4), -1 / (std + 1e-4)])
    assert get_advantage("rloo-std").sequence is group_normalized_advantages


def test_grpo_is_the_reward_minus_the_group_mean_over_the_group_std():
    # group a: rewards 1, 0, 0, 1 -> mean 0.5, sample std sqrt(1/3); group b: 0.2, 0.8 -> mean 0.5, std sqrt(0.18)
    rewards, group_ids = [1.0, 0.2, 0.0, 0.0, 0.8, 1.0], ["a", "b", "a", "a", "b", "a"]
    sa, sb = math.sqrt(1 / 3) + 1e-4, math.sqrt(0.18) + 1e-4
    want = [0.5 / sa, -0.3 / sb, -0.5 / sa, -0.5 / sa, 0.3 / sb, 0.5 / sa]
    assert grpo_advantages(rewards, group_ids) == pytest.approx(want)
    assert get_advantage("grpo").sequence is grpo_advantages
    # GRPO's mean includes r_i: (n - 1) / n times the leave-one-out advantage, over the same std
    rloo_std = group_normalized_advantages(rewards, group_ids)
    assert grpo_advantages(rewards, group_ids)[0] == pytest.approx(rloo_std[0] * 3 / 4)
    assert grpo_advantages([0.3, 0.3, 0.3], [0] * 3) == [0.0, 0.0, 0.0]  # no spread: 0, not blown up


def test_reinforce_pp_baseline_centres_by_group_and_scales_by_the_rollout_std():
    # group a: 1, 0 -> 0.5, -0.5; group b: 0.9, 0.5, 0.1 -> 0.4, 0, -0.4 (not adjacent). Rollout: mean 0,
    # unbiased variance (0.25 + 0.25 + 0.16 + 0 + 0.16) / 4 = 0.205
    rewards, group_ids = [1.0, 0.9, 0.5, 0.0, 0.1], ["a", "b", "b", "a", "b"]
    std = math.sqrt(0.205 + 1e-8)
    want = [0.5 / std, 0.4 / std, 0.0, -0.5 / std, -0.4 / std]
    assert reinforce_pp_baseline_advantages(rewards, group_ids) == pytest.approx(want)
    assert get_advantage("reinforce++-baseline").sequence is reinforce_pp_baseline_advantages
    # one std for the whole rollout: a group's scale is not its own (unlike grpo)
    scaled = reinforce_pp_baseline_advantages([1.0, 0.0, 0.2, 0.0], ["a", "a", "b", "b"])
    assert scaled[0] / scaled[2] == pytest.approx(0.5 / 0.1)
    # veRL's: a group of one keeps its reward as its centred value (mean taken as 0), then the rollout is whitened
    lone = reinforce_pp_baseline_advantages([1.0, 0.0, 1.0], ["lone", "g", "g"])
    x = [1.0, -0.5, 0.5]  # mean 1/3; unbiased variance ((2/3)^2 + (5/6)^2 + (1/6)^2) / 2
    var = ((2 / 3) ** 2 + (5 / 6) ** 2 + (1 / 6) ** 2) / 2
    assert lone == pytest.approx([(v - 1 / 3) / math.sqrt(var + 1e-8) for v in x])
    assert reinforce_pp_baseline_advantages([0.7], [0]) == [0.0]
    with pytest.raises(ValueError, match="got 2 rewards but 1 group ids"):
        reinforce_pp_baseline_advantages([1.0, 0.0], [0])


def test_kl_to_go_sums_each_tokens_kl_from_there_to_the_end():
    import torch

    logps = torch.tensor([[-1.0, -1.0, -1.0], [-2.0, -0.5, -7.0]])
    ref = torch.tensor([[-1.5, -0.5, -2.0], [-1.0, -1.0, 0.0]])  # k1 per token: 0.5, -0.5, 1.0 | -1.0, 0.5, (pad)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    got = kl_reward_to_go(torch.tensor([1.0, -1.0]), logps, ref, mask, beta=0.1)
    # to go: 1.0, 0.5, 1.0 | -0.5, 0.5, 0 -> A - 0.1 * to go, 0 on padding
    assert got.flatten().tolist() == pytest.approx([0.9, 0.95, 0.9, -0.95, -1.05, 0.0])
    assert kl_reward_to_go(torch.tensor([1.0, -1.0]), logps, ref, mask, beta=0.0).tolist() == [
        [1.0, 1.0, 1.0],
        [-1.0, -1.0, 0.0],
    ]
    with pytest.raises(ValueError, match="beta must be >= 0, got -1"):
        kl_reward_to_go(torch.tensor([1.0, -1.0]), logps, ref, mask, beta=-1)


def test_token_whitening_weighs_every_token_and_sums_over_processes():
    import torch

    advantages = torch.tensor([[1.0, 1.0, 1.0, 0.0], [-3.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    got = whiten_tokens(advantages, mask)
    # tokens 1, 1, 1, -3: mean 0, population variance (3 + 9) / 4 = 3
    assert got[mask.bool()].tolist() == pytest.approx([1 / math.sqrt(3)] * 3 + [-3 / math.sqrt(3)])
    assert got[~mask.bool()].abs().sum() == 0
    # the rollout split over two processes: each sums its statistics with the other's
    halves = [(advantages[:1], mask[:1]), (advantages[1:], mask[1:])]
    for rank, (a, m) in enumerate(halves):
        mine = whiten_tokens(a, m, total=_sum_over(halves, rank))
        assert mine[0].tolist() == pytest.approx(got[rank].tolist())
    constant = whiten_tokens(torch.full((2, 3), 0.5), torch.ones(2, 3))  # no spread: centred, not blown up
    assert constant.abs().max() == 0


def _sum_over(halves, rank):
    """A ``total`` for process ``rank`` of ``halves``: the sum of the same statistic on every process (as an
    all-reduce gives it), computed here by running whiten_tokens' statistics on each half in the same order."""
    calls = []

    def total(tensor):
        import torch

        step = len(calls)
        calls.append(tensor)
        parts = []
        for a, m in halves:
            m = m.to(a.dtype)
            if step == 0:
                parts.append(torch.stack([(a * m).sum(), m.sum()]))
            else:
                mean = sum((x * y.to(x.dtype)).sum() for x, y in halves) / sum(y.sum() for _, y in halves)
                parts.append(((a - mean) ** 2 * m).sum().reshape(1))
        return sum(parts)

    return total


def test_shortest_correct_answer_advantage_depends_on_alpha_only_without_normalization():
    """The paper's ablation: when every response is correct, GRPO-style group scaling makes the shortest
    answer's advantage independent of alpha (the rewards' spread and their std both scale with alpha)."""
    correct, lengths, groups = [1, 1, 1, 1], [100, 200, 300, 400], [0] * 4

    def shortest_advantage(alpha, estimator):
        rewards = length_penalized_rewards(correct, lengths, groups, alpha)
        return get_advantage(estimator).sequence(rewards, groups)[0]

    assert shortest_advantage(0.1, "rloo") != pytest.approx(shortest_advantage(0.4, "rloo"))
    assert shortest_advantage(0.4, "rloo") == pytest.approx(4 * shortest_advantage(0.1, "rloo"))
    for normalised in ("grpo", "rloo-std"):  # the same up to the 1e-4 in the denominator
        assert shortest_advantage(0.1, normalised) == pytest.approx(shortest_advantage(0.4, normalised), rel=1e-2)


def test_registry_names_the_paper_and_the_ablation_and_refuses_unknown_names():
    assert list(ADVANTAGES)[:4] == ["rloo", "grpo", "rloo-std", "reinforce++-baseline"] and "batch" not in ADVANTAGES
    assert get_advantage("rloo").sequence is rloo_advantages and get_advantage("rloo").per_token is None
    with pytest.raises(ValueError, match="unknown advantage estimator 'std'; registered: rloo, grpo"):
        get_advantage("std")
    with pytest.raises(ValueError, match="got 2 rewards but 1 group ids"):
        rloo_advantages([1.0, 0.0], [0])


def test_a_group_of_one_has_no_baseline():
    for estimator in ("rloo", "grpo", "rloo-std"):
        assert get_advantage(estimator).sequence([0.7, 1.0, 0.0], ["lone", "g", "g"])[0] == 0.0


def test_a_per_token_estimator_registers_beside_its_sequence_part(monkeypatch):
    def to_tokens(advantages, terms):
        return [[a * m for m in row] for a, row in zip(advantages, terms.mask, strict=True)]

    monkeypatch.setattr("thrifty.advantages.ADVANTAGES", dict(ADVANTAGES))  # registered for this test only
    register_advantage("spread", per_token=to_tokens)(rloo_advantages)
    assert get_advantage("spread").per_token is to_tokens
