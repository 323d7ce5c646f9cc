"""The peers' length rewards, part A: arora, kimi, l1-exact, l1-max, shorterbetter,
dapo-overlong and thinkprune, on values computed by hand from each paper's definition."""

from __future__ import annotations

import math
import random
import re

import pytest

import thrifty.rewards.dapo
import thrifty.rewards.kimi
import thrifty.rewards.l1
import thrifty.rewards.shorterbetter
import thrifty.rewards.thinkprune  # noqa: F401  (importing registers the rewards)
from thrifty.rewards.dapo import dapo_rewards
from thrifty.rewards.kimi import kimi_rewards
from thrifty.rewards.l1 import L1Exact, L1Max, l1_exact_rewards, l1_max_rewards
from thrifty.rewards.length_penalty import LengthPenalized
from thrifty.rewards.registry import REWARDS, PromptedReward, Rollout, make_reward
from thrifty.rewards.shorterbetter import shorterbetter_rewards
from thrifty.rewards.thinkprune import ThinkPrune, thinkprune_rewards


def rollout(group_ids, correct, lengths, finished=None, step=0, **columns) -> Rollout:
    finished = [True] * len(group_ids) if finished is None else finished
    return Rollout(group_ids, correct, lengths, finished, step=step, columns=columns)


# --------------------------------------------------------------------------------------------------- arora
def test_arora_is_the_papers_reward_under_a_second_name():
    assert REWARDS["arora"] is REWARDS["length_penalized"] is LengthPenalized
    r = rollout([0, 0, 0], [True, True, False], [10, 30, 5])
    assert make_reward("arora", alpha=0.2)(r) == make_reward("length_penalized", alpha=0.2)(r)


# ---------------------------------------------------------------------------------------------------- kimi
def test_kimi_hand_values_from_the_papers_definition():
    # lengths 100..500: lambda = 0.5 - (L - 100)/400 = 0.5, 0.25, 0, -0.25, -0.5
    rewards = kimi_rewards([1, 1, 0, 1, 0], [100, 200, 300, 400, 500], [0] * 5, weight=0.5)
    # right: 1 + 0.5 * lambda; wrong: 0.5 * min(0, lambda)
    assert rewards == pytest.approx([1.25, 1.125, 0.0, 0.875, -0.25])


def test_kimi_wrong_and_short_earns_nothing_and_equal_lengths_earn_no_length_reward():
    assert kimi_rewards([0, 1], [100, 300], [0, 0]) == [0.0, 0.5]  # the wrong short one: min(0, 0.5) = 0
    assert kimi_rewards([1, 0, 1], [50, 50, 50], [0, 0, 0], weight=2.0) == [1.0, 0.0, 1.0]


def test_kimi_lone_response_and_group_with_no_correct_answer():
    assert kimi_rewards([1], [123], ["solo"]) == [1.0]  # L_max = L_min
    assert kimi_rewards([0, 0, 0], [100, 200, 300], [0, 0, 0]) == [0.0, 0.0, -0.5]


def test_kimi_truncated_counts_as_wrong_and_still_sets_the_longest_length():
    rewards = kimi_rewards([1, 1, 1], [100, 200, 300], [0, 0, 0], finished=[True, True, False])
    assert rewards == pytest.approx([1.5, 1.0, -0.5])


def test_kimi_groups_need_not_be_adjacent():
    r = rollout(["a", "b", "a", "b"], [True, True, True, False], [10, 100, 20, 300])
    assert make_reward("kimi")(r) == pytest.approx([1.5, 1.5, 0.5, -0.5])


def test_kimi_warm_up_trains_on_correctness_alone_until_its_last_step():
    reward = make_reward("kimi", weight=1.0, warmup_steps=5)
    args = (["a", "a"], [True, False], [10, 30])
    assert reward(rollout(*args, step=4)) == [1.0, 0.0]
    assert reward(rollout(*args, step=5)) == [1.5, -0.5]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weight": -1.0}, "kimi: weight must be a number >= 0, got -1.0"),
        ({"weight": True}, "kimi: weight must be a number >= 0, got True"),
        ({"warmup_steps": -2}, "kimi: warmup_steps must be an integer >= 0, got -2"),
        ({"warmup_steps": 1.5}, "kimi: warmup_steps must be an integer >= 0, got 1.5"),
    ],
)
def test_kimi_bad_parameters_name_the_value(params, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        make_reward("kimi", **params)


# ------------------------------------------------------------------------------------------------------ L1
def test_l1_exact_hand_values():
    # budgets 1000 and 200: right 1300 -> 1 - 0.0003*300 = 0.91; right 200 -> 1; wrong 400 -> -0.0003*200 = -0.06
    rewards = l1_exact_rewards([1, 1, 0], [1300, 200, 400], [1000, 200, 200])
    assert rewards == pytest.approx([0.91, 1.0, -0.06])


def test_l1_exact_penalises_short_and_long_alike_and_truncated_counts_as_wrong():
    assert l1_exact_rewards([1, 1], [900, 1100], [1000, 1000]) == pytest.approx([0.97, 0.97])
    assert l1_exact_rewards([1], [4096], [1000], finished=[False]) == pytest.approx([-0.0003 * 3096])


def test_l1_max_hand_values():
    # budget 1000, alpha 0.005, delta 0.5: 1000 -> 0.5; 950 -> 0.75; 900 -> 1; 1060 -> 0.2; 1100 -> 0; wrong -> 0
    rewards = l1_max_rewards([1, 1, 1, 1, 1, 0], [1000, 950, 900, 1060, 1100, 500], [1000] * 6)
    assert rewards == pytest.approx([0.5, 0.75, 1.0, 0.2, 0.0, 0.0])


def test_l1_max_equals_the_official_codes_halved_clip():
    # cmu-l3/l1 math_reward.py get_delta_score_linear_both, config alpha 0.01: (clip(0.01 (n - L), -1, 1) + 1) / 2
    for n, length in [(1000, 1234), (3000, 2990), (100, 40), (4000, 4200)]:
        official = (max(-1.0, min(1.0, 0.01 * (n - length))) + 1) / 2
        assert l1_max_rewards([1], [length], [n]) == pytest.approx([official])


def test_l1_max_truncated_earns_zero():
    assert l1_max_rewards([1], [50], [1000], finished=[False]) == [0.0]


def test_l1_rewards_read_each_responses_budget_from_the_rollout():
    r = rollout(["a", "b", "a"], [True, True, False], [1200, 300, 500], target_length=[1000, 400, 1000])
    assert make_reward("l1-exact")(r) == pytest.approx([0.94, 0.97, -0.15])
    assert make_reward("l1-max", alpha=0.01)(r) == pytest.approx([0.0, 1.0, 0.0])


def test_l1_without_the_budget_column_says_so():
    with pytest.raises(ValueError, match="l1-exact: the rollout has no 'target_length' column"):
        make_reward("l1-exact")(rollout([0], [True], [10]))


def test_l1_is_a_prompted_reward_drawing_integer_budgets_from_100_to_4000():
    rng = random.Random(0)
    for reward in (L1Exact(), L1Max()):
        assert isinstance(reward, PromptedReward)
    budgets = [L1Exact().prompt_columns(rng)["target_length"] for _ in range(5000)]
    assert all(isinstance(b, int) for b in budgets)
    assert min(budgets) >= 100 and max(budgets) <= 4000
    assert min(budgets) < 110 and max(budgets) > 3990  # the whole range is drawn
    assert L1Exact(min_budget=7, max_budget=7).prompt_columns(rng) == {"target_length": 7}


def test_l1_instructions_are_l1s_two_prompts():
    assert L1Exact().instruction({"target_length": 512}) == " Think for 512 tokens."
    assert L1Max().instruction({"target_length": 512}) == " Think for maximum 512 tokens."


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("l1-max", {"delta": 2.0}, "l1-max: delta must be in [0, 1], got 2.0"),
        ("l1-max", {"alpha": -0.1}, "l1-max: alpha must be a number >= 0, got -0.1"),
        ("l1-exact", {"alpha": "big"}, "l1-exact: alpha must be a number >= 0, got 'big'"),
        ("l1-exact", {"min_budget": 0}, "l1-exact: min_budget must be a positive integer, got 0"),
        (
            "l1-exact",
            {"min_budget": 500, "max_budget": 100},
            "l1-exact: min_budget must be <= max_budget, got 500 > 100",
        ),
    ],
)
def test_l1_bad_parameters_name_the_value(name, params, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_reward(name, **params)


# -------------------------------------------------------------------------------------------- shorterbetter
def test_shorterbetter_hand_values():
    # correct 400 and 250 -> SOL 250: 2 - 0.001*150 = 1.85, 2; wrong 1000: -0.001*750 = -0.75
    assert shorterbetter_rewards([1, 1, 0], [400, 250, 1000], [0, 0, 0]) == pytest.approx([1.85, 2.0, -0.75])


def test_shorterbetter_without_a_correct_answer_aims_at_the_group_mean():
    # lengths 100, 200, 600: mean 300 -> -0.001 * (200, 100, 300)
    assert shorterbetter_rewards([0, 0, 0], [100, 200, 600], [0, 0, 0]) == pytest.approx([-0.2, -0.1, -0.3])


def test_shorterbetter_lone_correct_equal_lengths_and_truncated():
    assert shorterbetter_rewards([1], [777], [0]) == [2.0]
    assert shorterbetter_rewards([1, 0, 1], [50, 50, 50], [0, 0, 0]) == [2.0, 0.0, 2.0]
    # the truncated correct 100 is not the SOL (300 is): -0.001 * 200 and no correctness reward
    rewards = shorterbetter_rewards([1, 1], [100, 300], [0, 0], finished=[False, True])
    assert rewards == pytest.approx([-0.2, 2.0])


def test_shorterbetter_groups_need_not_be_adjacent_and_parameters_apply():
    r = rollout(["a", "b", "a", "b"], [True, False, True, False], [10, 100, 30, 300])
    # a: SOL 10 -> 1, 1 - 0.01*20 = 0.8; b: mean 200 -> -0.01*100 each
    assert make_reward("shorterbetter", alpha=1.0, beta=0.01)(r) == pytest.approx([1.0, -1.0, 0.8, -1.0])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": 0}, "shorterbetter: alpha must be a number > 0, got 0"),
        ({"beta": -0.001}, "shorterbetter: beta must be a number >= 0, got -0.001"),
    ],
)
def test_shorterbetter_bad_parameters_name_the_value(params, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        make_reward("shorterbetter", **params)


# ------------------------------------------------------------------------------------------------ dapo-overlong
def test_dapo_hand_values_with_the_published_lengths():
    # L_max 20480, L_cache 4096: the buffer starts after 16384 tokens
    rewards = dapo_rewards([1, 0, 1, 1, 0], [16384, 1000, 18432, 20480, 20480])
    # 1 + 0; -1 + 0; 1 + (16384 - 18432)/4096 = 0.5; 1 - 1 = 0; -1 - 1 = -2
    assert rewards == pytest.approx([1.0, -1.0, 0.5, 0.0, -2.0])


def test_dapo_uses_trls_punishment_beyond_the_limit_and_counts_truncated_as_wrong():
    assert dapo_rewards([1], [30000]) == [0.0]  # 1 - 1: TRL's -1 beyond L_max
    assert dapo_rewards([1, 1], [100, 100], max_length=100, cache=0) == [1.0, 1.0]  # no buffer
    assert dapo_rewards([1], [100], max_length=100, cache=50, finished=[False]) == [-2.0]


def test_dapo_overlong_is_registered_and_needs_no_group():
    r = rollout(["a", "b", "a"], [True, True, False], [10, 90, 100])
    assert make_reward("dapo-overlong", max_length=100, cache=20)(r) == pytest.approx([1.0, 0.5, -2.0])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_length": 0}, "dapo-overlong: max_length must be a positive integer, got 0"),
        ({"max_length": 100, "cache": 101}, "dapo-overlong: cache must be an integer in [0, max_length=100], got 101"),
        ({"cache": -1}, "dapo-overlong: cache must be an integer in [0, max_length=20480], got -1"),
    ],
)
def test_dapo_bad_parameters_name_the_value(params, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_reward("dapo-overlong", **params)


# --------------------------------------------------------------------------------------------------- thinkprune
def test_thinkprune_hand_values():
    assert thinkprune_rewards([1, 1, 0, 1], [4000, 4001, 10, 3999], limit=4000) == [1.0, 0.0, 0.0, 1.0]
    assert thinkprune_rewards([1], [10], limit=4000, finished=[False]) == [0.0]


def test_thinkprune_rounds_follow_the_optimizer_step():
    reward = make_reward("thinkprune", limits=[300, 200, 100], steps_per_limit=4)
    r = rollout(["a", "a", "b"], [True, True, True], [150, 250, 90])
    assert [reward.limit_at(s) for s in (0, 3, 4, 7, 8, 1000)] == [300, 300, 200, 200, 100, 100]
    assert reward(rollout(*_args(r), step=0)) == [1.0, 1.0, 1.0]
    assert reward(rollout(*_args(r), step=4)) == [1.0, 0.0, 1.0]
    assert reward(rollout(*_args(r), step=8)) == [0.0, 0.0, 1.0]


def test_thinkprune_defaults_are_the_papers_schedule():
    reward = ThinkPrune()
    assert reward.limits == (4000, 3000, 2000) and reward.steps_per_limit == 180
    assert [reward.limit_at(s) for s in (179, 180, 360, 10_000)] == [4000, 3000, 2000, 2000]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limits": []}, "thinkprune: limits must be a non-empty list of positive integers, got []"),
        ({"limits": [4000, 0]}, "thinkprune: limits must be positive integers, got [4000, 0]"),
        ({"steps_per_limit": 0}, "thinkprune: steps_per_limit must be a positive integer, got 0"),
    ],
)
def test_thinkprune_bad_parameters_name_the_value(params, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_reward("thinkprune", **params)


# ------------------------------------------------------------------------------------------------------ shared
@pytest.mark.parametrize(
    "name", ["arora", "kimi", "l1-exact", "l1-max", "shorterbetter", "dapo-overlong", "thinkprune"]
)
def test_every_reward_returns_one_float_per_response(name):
    r = rollout(
        ["a", "b", "a", "b", "c"],
        [True, False, True, True, False],
        [120, 80, 60, 300, 40],
        finished=[True, True, False, True, True],
        step=3,
        target_length=[100, 100, 100, 100, 100],
    )
    rewards = make_reward(name)(r)
    assert len(rewards) == len(r) and all(isinstance(x, float) and math.isfinite(x) for x in rewards)


def _args(r: Rollout):
    return r.group_ids, r.correct, r.lengths
