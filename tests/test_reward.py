"""thrifty.reward: the paper's equations on hand-computed values."""

from __future__ import annotations

import math

import pytest

from thrifty.reward import length_penalized_rewards, rloo_advantages

CORRECT = [1, 0, 1, 1, 0, 0, 1, 0]
LENGTHS = [1000, 5000, 2000, 3000, 32000, 800, 2000, 4000]


def test_reference_example_from_the_official_code():
    rewards = length_penalized_rewards(CORRECT, LENGTHS, [0] * 8, alpha=0.2)
    assert [round(r, 4) for r in rewards] == [0.9609, 0, 0.9, 0.8391, 0, 0, 0.9, 0]


def test_hand_computed_sigmoid():
    # correct lengths 1000, 2000, 3000, 2000: mean 2000, population std sqrt(500000)
    z = (1000 - 2000) / (math.sqrt(500_000) + 1e-7)
    expected = 1 - 0.2 / (1 + math.exp(-z))
    assert length_penalized_rewards(CORRECT, LENGTHS, [0] * 8, alpha=0.2)[0] == pytest.approx(expected, abs=1e-12)


def test_alpha_zero_is_plain_correctness():
    assert length_penalized_rewards(CORRECT, LENGTHS, [0] * 8, alpha=0.0) == [float(c) for c in CORRECT]


def test_groups_are_independent_and_a_lone_correct_answer_gets_one_minus_half_alpha():
    rewards = length_penalized_rewards([1, 1, 1, 0], [10, 30, 500, 7], ["a", "a", "b", "b"], alpha=0.4)
    assert rewards[0] == pytest.approx(1 - 0.4 / (1 + math.exp(1 / (10 + 1e-7) * 10)))
    assert rewards[2] == pytest.approx(0.8)  # z = 0 -> 1 - alpha/2
    assert rewards[3] == 0.0


def test_truncated_responses_get_zero_and_leave_the_statistics():
    rewards = length_penalized_rewards([1, 1, 1], [100, 200, 4096], [0, 0, 0], alpha=0.2, truncated=[False, False, True])
    assert rewards[2] == 0.0
    # statistics over lengths 100 and 200 only: z = -1 and +1
    assert rewards[0] == pytest.approx(1 - 0.2 / (1 + math.exp(1 / (1 + 2e-9))), rel=1e-9)


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5, float("nan")])
def test_alpha_out_of_range_names_the_value(alpha):
    with pytest.raises(ValueError, match="alpha must be in \\[0, 1\\), got"):
        length_penalized_rewards([1], [1], [0], alpha=alpha)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="one entry per response"):
        length_penalized_rewards([1, 0], [1], [0, 0], alpha=0.1)


def test_rloo_leave_one_out_hand_values():
    # group a: rewards 1, 0, 0.5, 0.5 -> baselines 1/3, 2/3, 1/2, 1/2
    advantages = rloo_advantages([1.0, 0.0, 0.5, 0.5, 0.3], ["a", "a", "a", "a", "b"])
    assert advantages == pytest.approx([2 / 3, -2 / 3, 0.0, 0.0, 0.0])


def test_rloo_group_normalization_divides_by_group_std():
    advantages = rloo_advantages([1.0, 0.0], [0, 0], normalization="group")
    std = math.sqrt(0.5)  # sample std of (1, 0)
    assert advantages == pytest.approx([1 / (std + 1e-4), -1 / (std + 1e-4)])


def test_rloo_batch_normalization_whitens():
    advantages = rloo_advantages([1.0, 0.0, 0.2, 0.6], [0, 0, 1, 1], normalization="batch")
    assert sum(advantages) == pytest.approx(0.0, abs=1e-12)
    mean = sum(advantages) / 4
    assert math.sqrt(sum((a - mean) ** 2 for a in advantages) / 3) == pytest.approx(1.0, rel=1e-6)


def test_shortest_correct_answer_advantage_depends_on_alpha_only_without_normalization():
    """The paper's ablation: when every response is correct, GRPO-style group scaling makes the shortest
    answer's advantage independent of alpha (the rewards' spread and their std both scale with alpha)."""
    correct, lengths, groups = [1, 1, 1, 1], [100, 200, 300, 400], [0] * 4

    def shortest_advantage(alpha, normalization):
        rewards = length_penalized_rewards(correct, lengths, groups, alpha)
        return rloo_advantages(rewards, groups, normalization)[0]

    assert shortest_advantage(0.1, "none") != pytest.approx(shortest_advantage(0.4, "none"))
    assert shortest_advantage(0.4, "none") == pytest.approx(4 * shortest_advantage(0.1, "none"))
    assert shortest_advantage(0.1, "group") == pytest.approx(shortest_advantage(0.4, "group"), rel=1e-2)  # up to the 1e-4 epsilon


def test_rloo_unknown_normalization():
    with pytest.raises(ValueError, match="got 'std'"):
        rloo_advantages([1.0], [0], normalization="std")
