"""The advantage estimators: hand-computed values, the paper's ablation, and the registry."""

from __future__ import annotations

import math

import pytest

from thrifty.advantages import (
    ADVANTAGES,
    get_advantage,
    group_normalized_advantages,
    kl_reward_to_go,
    register_advantage,
    rloo_advantages,
    whiten_tokens,
)
from thrifty.rewards import length_penalized_rewards


def test_rloo_leave_one_out_hand_values():
    # group a: rewards 1, 0, 0.5, 0.5 -> baselines 1/3, 2/3, 1/2, 1/2
    advantages = rloo_advantages([1.0, 0.0, 0.5, 0.5, 0.3], ["a", "a", "a", "a", "b"])
    assert advantages == pytest.approx([2 / 3, -2 / 3, 0.0, 0.0, 0.0])


def test_grpo_divides_by_the_group_std():
    advantages = group_normalized_advantages([1.0, 0.0], [0, 0])
    std = math.sqrt(0.5)  # sample std of (1, 0)
    assert advantages == pytest.approx([1 / (std + 1e-4), -1 / (std + 1e-4)])


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
    assert shortest_advantage(0.1, "grpo") == pytest.approx(shortest_advantage(0.4, "grpo"), rel=1e-2)  # up to 1e-4


def test_registry_names_the_paper_and_the_ablation_and_refuses_unknown_names():
    assert list(ADVANTAGES)[:2] == ["rloo", "grpo"] and "batch" not in ADVANTAGES
    assert get_advantage("rloo").sequence is rloo_advantages and get_advantage("rloo").per_token is None
    with pytest.raises(ValueError, match="unknown advantage estimator 'std'; registered: rloo, grpo"):
        get_advantage("std")
    with pytest.raises(ValueError, match="got 2 rewards but 1 group ids"):
        rloo_advantages([1.0, 0.0], [0])


def test_a_group_of_one_has_no_baseline():
    for estimator in ("rloo", "grpo"):
        assert get_advantage(estimator).sequence([0.7, 1.0, 0.0], ["lone", "g", "g"])[0] == 0.0


def test_a_per_token_estimator_registers_beside_its_sequence_part(monkeypatch):
    def to_tokens(advantages, terms):
        return [[a * m for m in row] for a, row in zip(advantages, terms.mask, strict=True)]

    monkeypatch.setattr("thrifty.advantages.ADVANTAGES", dict(ADVANTAGES))  # registered for this test only
    register_advantage("spread", per_token=to_tokens)(rloo_advantages)
    assert get_advantage("spread").per_token is to_tokens
