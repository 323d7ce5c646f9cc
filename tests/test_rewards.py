"""thrifty.rewards: the paper's reward on hand-computed values, the Rollout it reads, and the registry."""

from __future__ import annotations

import math

import pytest

from thrifty.rewards import (
    REWARDS,
    LengthPenalized,
    Rollout,
    length_penalized_rewards,
    make_reward,
    register_reward,
    reward_parameters,
)


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
    rewards = length_penalized_rewards(
        [1, 1, 1], [100, 200, 4096], [0, 0, 0], alpha=0.2, truncated=[False, False, True]
    )
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


def test_the_registered_reward_is_the_pure_function_on_the_rollout():
    rollout = Rollout(
        group_ids=[0, 0, 0, 1, 1],
        correct=[True, True, True, True, False],
        lengths=[10, 20, 60, 7, 3],
        finished=[True, True, False, True, True],
    )
    reward = make_reward("length_penalized", alpha=0.3)
    assert reward == LengthPenalized(alpha=0.3) and reward_parameters("length_penalized") == [
        "alpha",
        "grade_truncated",
    ]
    want = length_penalized_rewards(
        rollout.correct, rollout.lengths, rollout.group_ids, 0.3, [False, False, True, False, False]
    )
    assert reward(rollout) == want
    assert want[2] == 0.0 and want[3] == 1 - 0.3 / 2  # truncated; a lone correct response


def test_registry_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="unknown reward 'nope'; registered: .*length_penalized"):
        make_reward("nope")
    with pytest.raises(ValueError, match="reward 'length_penalized' takes alpha, grade_truncated.*; not beta"):
        make_reward("length_penalized", beta=0.1)
    with pytest.raises(ValueError, match="alpha must be in"):
        make_reward("length_penalized", alpha=1.0)
    with pytest.raises(ValueError, match="already registered"):
        register_reward("length_penalized")(lambda: None)


def test_a_new_reward_registers_by_name(monkeypatch):
    monkeypatch.setattr("thrifty.rewards.registry.REWARDS", dict(REWARDS))  # registered for this test only

    @register_reward("shortest_wins")
    class ShortestWins:
        def __call__(self, rollout):
            return [float(n == min(rollout.lengths)) for n in rollout.lengths]

    assert make_reward("shortest_wins")(Rollout([0, 0], [True, True], [3, 5], [True, True])) == [1.0, 0.0]


def test_rollout_needs_one_entry_per_response():
    with pytest.raises(ValueError, match="3 group ids, but {'lengths': 2}"):
        Rollout(group_ids=[0, 0, 1], correct=[True] * 3, lengths=[1, 2], finished=[True] * 3)
    with pytest.raises(ValueError, match="columns\\['target'\\]"):
        Rollout(group_ids=[0], correct=[True], lengths=[1], finished=[True], columns={"target": [1, 2]})
