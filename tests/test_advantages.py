"""The advantage estimators: hand-computed values, the paper's ablation, and the registry."""

from __future__ import annotations

import math

import pytest

from thrifty.advantages import (
    ADVANTAGES,
    batch_whitened_advantages,
    get_advantage,
    group_normalized_advantages,
    register_advantage,
    rloo_advantages,
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


def test_batch_whitens_over_the_rollout():
    advantages = batch_whitened_advantages([1.0, 0.0, 0.2, 0.6], [0, 0, 1, 1])
    assert sum(advantages) == pytest.approx(0.0, abs=1e-12)
    mean = sum(advantages) / 4
    assert math.sqrt(sum((a - mean) ** 2 for a in advantages) / 3) == pytest.approx(1.0, rel=1e-6)


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
    assert list(ADVANTAGES)[:3] == ["rloo", "grpo", "batch"]
    assert get_advantage("rloo").sequence is rloo_advantages and get_advantage("rloo").per_token is None
    with pytest.raises(ValueError, match="unknown advantage estimator 'std'; registered: rloo, grpo, batch"):
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
