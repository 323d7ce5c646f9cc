"""The peers' group rewards, part B -- LASER / LASER-D, HAPO, ALP, DLER: hand values from each paper's definition
(and its official code where there is one), edge cases, state, and the registry."""

from __future__ import annotations

import json
import math

import pytest

import thrifty.rewards.alp
import thrifty.rewards.dler
import thrifty.rewards.hapo
import thrifty.rewards.laser  # noqa: F401 -- register the rewards
from thrifty.rewards import REWARDS, Rollout, make_reward
from thrifty.rewards.alp import alp_rewards
from thrifty.rewards.dler import dler_rewards
from thrifty.rewards.hapo import hapo_rewards, updated_history
from thrifty.rewards.laser import choose_targets, difficulty_buckets, laser_d_rewards, laser_rewards


def _rollout(correct, lengths, group_ids, finished=None, problem_ids=None, training=True, step=0):
    return Rollout(
        group_ids=group_ids,
        correct=correct,
        lengths=lengths,
        finished=[True] * len(correct) if finished is None else finished,
        problem_ids=problem_ids,
        step=step,
        training=training,
    )


def test_the_rewards_are_registered_with_their_published_defaults():
    assert {"laser", "laser-d", "hapo", "alp", "dler"} <= set(REWARDS)
    laser = make_reward("laser")
    assert (laser.alpha, laser.target_length) == (0.5, 4096)
    d = make_reward("laser-d")
    assert (d.alpha, d.lower_bound, d.upper_bound, d.interval, d.every, d.explore) == (
        0.5,
        4096,
        16384,
        1024,
        20,
        False,
    )
    hapo = make_reward("hapo")
    assert (hapo.weight, hapo.mode) == (1.0, "min")
    alp = make_reward("alp")
    assert (alp.beta, alp.normalizer) == (1e-7, 1.0)
    dler = make_reward("dler")
    assert (dler.target_length, dler.adaptive, dler.easy_target_length, dler.easy_accuracy) == (4000, False, 2000, 0.5)
    with pytest.raises(ValueError, match=r"reward 'hapo' takes .*weight.*mode.*history"):
        make_reward("hapo", history={})  # state is not a parameter


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("laser", {"alpha": -0.5}, "laser: alpha must be a number >= 0, got -0.5"),
        ("laser", {"target_length": 0}, "laser: target_length must be a whole number >= 1, got 0"),
        ("laser", {"target_length": 40.5}, "laser: target_length must be a whole number >= 1, got 40.5"),
        ("laser-d", {"interval": 0}, "laser-d: interval must be a whole number >= 1, got 0"),
        ("laser-d", {"every": True}, "laser-d: every must be a whole number >= 1, got True"),
        ("laser-d", {"upper_bound": 100}, "laser-d: upper_bound must be >= lower_bound (4096), got 100"),
        ("laser-d", {"explore": "yes"}, "laser-d: explore must be true or false, got 'yes'"),
        ("hapo", {"weight": 1.5}, "hapo: weight must be in [0, 1], got 1.5"),
        ("hapo", {"mode": "max"}, "hapo: mode must be one of min, mean, got 'max'"),
        ("alp", {"beta": 0}, "alp: beta must be a number > 0, got 0"),
        ("alp", {"normalizer": -1.0}, "alp: normalizer must be a number > 0, got -1.0"),
        ("dler", {"target_length": -4000}, "dler: target_length must be a whole number >= 1, got -4000"),
        ("dler", {"easy_accuracy": 2.0}, "dler: easy_accuracy must be in [0, 1], got 2.0"),
        ("dler", {"adaptive": 1}, "dler: adaptive must be true or false, got 1"),
    ],
)
def test_bad_parameters_are_refused_with_the_exact_message(name, params, message):
    with pytest.raises(ValueError) as error:
        make_reward(name, **params)
    assert str(error.value) == message


# --------------------------------------------------------------------------------------------- LASER
def test_laser_is_a_step_bonus_on_the_official_correctness_score():
    # C(y): right 1, wrong -0.5, cut off -1 (no </think>); +alpha for a right answer within L_T (<=, inclusive)
    got = laser_rewards(
        [True, True, False, False, True], [100, 101, 20, 500, 80], [True, True, True, True, False], 100, alpha=0.5
    )
    assert got == [1.5, 1.0, -0.5, -0.5, -1.0]  # a cut response earns -1 even when its verdict is right
    assert laser_rewards([True] * 3, [50] * 3, [True] * 3, 100) == [1.5] * 3  # all lengths equal: all get it
    assert laser_rewards([False] * 2, [10, 20], [True] * 2, 100) == [-0.5, -0.5]  # no right answer: no bonus
    reward = make_reward("laser", alpha=0.2, target_length=100)
    assert reward(_rollout([True, True], [100, 150], [0, 0])) == [1.2, 1.0]


def test_laser_d_buckets_by_the_groups_rate_of_right_finished_answers():
    correct = [1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0]
    finished = [True] * 12
    group_ids = ["e"] * 3 + ["m"] * 3 + ["h"] * 3 + ["x"] * 3  # rates 1, 2/3, 0, 2/3
    got = difficulty_buckets(correct, finished, group_ids)
    assert got == ["high"] * 3 + ["high"] * 3 + ["low"] * 3 + ["high"] * 3  # 2/3 is high (acc >= 2/3)
    got = difficulty_buckets([1, 0, 0, 1, 1, 0], [True, True, True, False, True, True], [0, 0, 0, 1, 1, 1])
    assert got == ["medium"] * 3 + ["medium"] * 3  # a cut right answer does not count: 1/3 each


def test_laser_d_rewards_use_each_buckets_target_and_laser_de_rewards_long_wrong_answers():
    targets = {"low": 300, "medium": 200, "high": 100}
    correct = [1, 1, 1, 0, 1, 0, 0, 0, 1, 0]
    lengths = [90, 120, 60, 500, 150, 250, 50, 100, 400, 350]
    group_ids = ["h", "h", "h", "h", "m", "m", "l", "l", "l", "l"]  # h 3/4 -> high; m 1/2 -> medium; l 1/4 -> low
    got = laser_d_rewards(correct, lengths, [True] * 10, group_ids, targets)
    assert got == [1.5, 1.0, 1.5, -0.5, 1.5, -0.5, -0.5, -0.5, 1.0, -0.5]
    explore = laser_d_rewards(correct, lengths, [True] * 10, group_ids, targets, explore=True)
    # wrong and longer than the target: 500 > 100 (high), 250 > 200 (medium), 350 > 300 (low)
    assert explore == [1.5, 1.0, 1.5, 0.0, 1.5, 0.0, -0.5, -0.5, 1.0, 0.0]
    # a cut response is -1 and earns nothing, not even LASER-DE's exploration bonus
    assert laser_d_rewards([0, 1], [900, 900], [False, False], [0, 0], targets, explore=True) == [-1.0, -1.0]
    # no target (None): every right answer earns the bonus, no wrong one is "beyond" it
    assert laser_d_rewards([1, 0], [10**6, 10**6], [True, True], [0, 0], dict.fromkeys(targets), explore=True) == [
        1.5,
        -0.5,
    ]


def test_laser_d_targets_are_the_smallest_length_with_one_expected_correct_response():
    # K = 6: high needs floor(4 P) >= 1 (P >= 1/4), medium floor(2 P) >= 1 (P >= 1/2), low floor(P) >= 1 (P = 1)
    coverage = {
        "high": {"responses": 12, "within": [2, 3, 12]},  # P = 1/6, 1/4, 1
        "medium": {"responses": 6, "within": [2, 3, 6]},  # P = 1/3, 1/2, 1
        "low": {"responses": 6, "within": [5, 5, 6]},  # P = 5/6, 5/6, 1
    }
    assert choose_targets(coverage, [10, 20, 30], 6) == {"low": 30, "medium": 20, "high": 20}
    empty = {b: {"responses": 0, "within": [0, 0, 0]} for b in ("low", "medium", "high")}
    assert choose_targets(empty, [10, 20, 30], 6) == {"low": None, "medium": None, "high": None}


def test_laser_d_rechooses_every_n_training_rollouts_from_those_seen_since():
    reward = make_reward("laser-d", lower_bound=10, upper_bound=40, interval=10, every=2)
    group = [0, 0, 0, 0]  # K = 4: high floor(8/3) = 2 -> P >= 1/2
    first = _rollout([1, 1, 1, 0], [5, 15, 35, 40], group)  # high; within 10: 1/4, 20: 2/4 -> 20
    assert reward(first) == [1.5, 1.5, 1.0, -0.5]  # scored with the targets chosen from itself
    assert reward.state_dict()["targets"] == {"low": None, "medium": None, "high": 20}
    # an evaluation rollout is scored but changes nothing
    before = json.dumps(reward.state_dict())
    assert reward(_rollout([1, 1, 1, 1], [35] * 4, group, training=False)) == [1.0] * 4
    assert json.dumps(reward.state_dict()) == before
    second = _rollout([1, 1, 1, 1], [35, 35, 35, 35], group)  # counted, targets kept (1 of every=2)
    assert reward(second) == [1.0] * 4 and reward.state_dict()["observed"] == 1
    third = _rollout([1, 1, 1, 1], [12, 12, 40, 40], group)  # 2nd since the choice: re-chosen from second + third
    # 8 responses: within 10: 0, 20: 2/8, 30: 2/8, 40: 8/8 -> P >= 1/2 first at 40
    assert reward(third) == [1.5] * 4
    assert reward.state_dict()["targets"]["high"] == 40 and reward.state_dict()["observed"] == 0


def test_laser_d_state_survives_a_json_round_trip_and_refuses_other_thresholds():
    reward = make_reward("laser-d", lower_bound=10, upper_bound=40, interval=10, every=3)
    for lengths in ([5, 15, 35, 40], [12, 22, 32, 8]):
        reward(_rollout([1, 1, 0, 1], lengths, [0, 0, 0, 0]))
    state = json.loads(json.dumps(reward.state_dict()))
    copy = make_reward("laser-d", lower_bound=10, upper_bound=40, interval=10, every=3)
    copy.load_state_dict(state)
    nxt = _rollout([1, 1, 1, 0], [9, 19, 29, 39], [0, 0, 0, 0])
    assert copy(nxt) == reward(nxt) and copy.state_dict() == reward.state_dict()
    other = make_reward("laser-d", lower_bound=10, upper_bound=50, interval=10)
    with pytest.raises(ValueError, match=r"laser-d: the saved state counts coverage at thresholds \[10, 20, 30, 40\]"):
        other.load_state_dict(state)


# --------------------------------------------------------------------------------------------- HAPO
def test_hapo_length_reward_is_the_cosine_against_the_history_floored_and_capped():
    h = 100.0
    got = hapo_rewards([1, 1, 1, 1, 0, 0, 0], [0, 50, 150, 200, 50, 150, 250], [h] * 7)
    want = [
        1 + 1.0,  # cos(0)
        1 + math.cos(math.pi / 4),
        1 - 0.7,  # cos(3 pi / 4) = -0.707 -> floored at -0.7 for a right answer
        1 - 0.7,  # L >= 2h: -1 -> -0.7
        0.0,  # wrong: min(cos(pi/4), 0) = 0
        math.cos(3 * math.pi / 4),  # wrong: -0.707
        -1.0,  # wrong, L >= 2h
    ]
    assert got == pytest.approx(want)
    assert hapo_rewards([1, 0], [10, 10], [None, None]) == [1.0, 0.0]  # no history: correctness only
    assert hapo_rewards([1], [50], [100.0], weight=0.5) == pytest.approx([1 + 0.5 * math.cos(math.pi / 4)])


def test_hapo_scores_against_the_history_before_this_rollout_then_updates_it():
    reward = make_reward("hapo")
    # problem p in two groups that are not adjacent; q has no right answer
    ids = ["p", "q", "p", "q"]
    first = _rollout([1, 0, 1, 0], [60, 30, 90, 40], [0, 1, 0, 1], problem_ids=ids)
    assert reward(first) == [1.0, 0.0, 1.0, 0.0]  # no history yet: the shortest of this rollout is not used
    assert reward.state_dict()["history"] == {"p": 60}  # no right answer for q: no history
    second = _rollout([1, 1, 0, 0], [30, 60, 120, 10], [0, 0, 1, 1], problem_ids=["p", "p", "q", "q"])
    assert reward(second) == pytest.approx([1 + math.cos(math.pi / 4), 1.0, 0.0, 0.0])  # q still has none
    assert reward.state_dict()["history"] == {"p": 30}
    # an evaluation rollout is scored against the history and never changes it
    before = reward.state_dict()
    assert reward(_rollout([1], [15], [0], problem_ids=["p"], training=False)) == pytest.approx(
        [1 + math.cos(math.pi / 4)]
    )
    assert reward(_rollout([1], [5], [0], problem_ids=["new"], training=False)) == [1.0]
    assert reward.state_dict() == before
    with pytest.raises(ValueError, match="hapo: the rollout has no problem_ids"):
        reward(_rollout([1], [5], [0]))


def test_hapo_mean_mode_keeps_the_mean_of_every_right_answer_seen():
    history, counts = updated_history({}, {}, ["p", "p", "p"], [1, 1, 0], [40, 80, 10], mode="mean")
    assert (history, counts) == ({"p": 60.0}, {"p": 2})
    history, counts = updated_history(history, counts, ["p", "p"], [1, 0], [90, 5], mode="mean")
    assert history == {"p": pytest.approx((40 + 80 + 90) / 3)} and counts == {"p": 3}
    reward = make_reward("hapo", mode="mean")
    reward(_rollout([1, 1], [40, 80], [0, 0], problem_ids=["p", "p"]))
    assert reward(_rollout([1], [60], [0], problem_ids=["p"])) == pytest.approx([1 + math.cos(math.pi / 2)])
    with pytest.raises(ValueError, match="hapo: the saved history was kept with mode 'mean', this reward's is 'min'"):
        make_reward("hapo").load_state_dict(reward.state_dict())


def test_hapo_state_round_trips_through_json():
    reward = make_reward("hapo")
    reward(_rollout([1, 1, 0], [50, 70, 20], [0, 0, 0], problem_ids=[3, 3, 3]))  # ids are keyed as strings
    state = json.loads(json.dumps(reward.state_dict()))
    assert state["history"] == {"3": 50}
    copy = make_reward("hapo")
    copy.load_state_dict(state)
    nxt = _rollout([1, 0], [25, 100], [0, 0], problem_ids=["3", "3"])
    assert copy(nxt) == reward(nxt) and copy.state_dict() == reward.state_dict()


# --------------------------------------------------------------------------------------------- ALP
def test_alp_penalty_per_token_scales_with_the_groups_solve_rate():
    correct = [1, 1, 0, 0, 0, 0, 1, 1, 1, 1]
    lengths = [100, 300, 200, 400, 100, 200, 50, 50, 50, 50]
    group_ids = ["a", "b", "a", "b", "a", "b", "c", "c", "c", "c"]  # a: 1 of 3; b: 1 of 3; c: 4 of 4
    got = alp_rewards(correct, lengths, group_ids, beta=1e-3, normalizer=2.0)  # beta / N = 5e-4
    rate_ab, rate_c = 1 / 3, 1.0
    want = [1 - 5e-4 * rate_ab * 100, 1 - 5e-4 * rate_ab * 300, -5e-4 * rate_ab * 200, -5e-4 * rate_ab * 400]
    want += [-5e-4 * rate_ab * 100, -5e-4 * rate_ab * 200] + [1 - 5e-4 * rate_c * 50] * 4
    assert got == pytest.approx(want)
    # no right answer: the solve rate is floored at 1/K
    assert alp_rewards([0, 0], [100, 300], [0, 0], beta=1e-3) == pytest.approx([-1e-3 * 0.5 * 100, -1e-3 * 0.5 * 300])
    # a lone right response: K = 1, p = 1
    assert alp_rewards([1], [100], [0], beta=1e-3) == pytest.approx([1 - 0.1])
    # the paper's point: per token, an easy prompt pays more than a hard one
    easy = alp_rewards([1, 1, 1, 0], [100] * 4, [0] * 4, beta=1e-3)[0]  # p = 3/4
    hard = alp_rewards([1, 0, 0, 0], [100] * 4, [0] * 4, beta=1e-3)[0]  # p = 1/4
    assert easy == pytest.approx(1 - 0.075) and hard == pytest.approx(1 - 0.025)
    # truncated responses are graded by their verdict like any other
    reward = make_reward("alp", beta=1e-3)
    assert reward(_rollout([1, 1], [100, 100], [0, 0], finished=[True, False])) == pytest.approx([0.9, 0.9])


# --------------------------------------------------------------------------------------------- DLER
def test_dler_truncates_at_the_target():
    got = dler_rewards([1, 1, 1, 0, 1], [4000, 4001, 10, 10, 100], [True, True, True, True, False], [0] * 5)
    assert got == [1.0, 0.0, 1.0, 0.0, 0.0]  # at the target: kept; beyond, wrong, or cut at the limit: 0
    assert dler_rewards([0, 0], [10, 20], [True, True], [0, 0]) == [0.0, 0.0]
    assert dler_rewards([1, 1], [50, 50], [True, True], [0, 0], target_length=50) == [1.0, 1.0]  # all equal


def test_da_dler_gives_easy_groups_the_shorter_target():
    # group a (not adjacent): 3 of 4 earn at 4,000 -> easy -> 2,000; group b: 2 of 4 -> not above 0.5 -> 4,000
    correct = [1, 1, 1, 1, 1, 1, 0, 0]
    lengths = [1000, 3000, 2500, 3500, 5000, 1500, 100, 100]
    group_ids = ["a", "b", "a", "b", "a", "a", "b", "b"]
    finished = [True] * 8
    assert dler_rewards(correct, lengths, finished, group_ids) == [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    adaptive = dler_rewards(correct, lengths, finished, group_ids, adaptive=True)
    assert adaptive == [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]  # a's 2,500 is now beyond its target
    reward = make_reward("dler", target_length=100, adaptive=True, easy_target_length=50, easy_accuracy=0.4)
    assert reward(_rollout([1, 1, 0], [40, 60, 10], [0, 0, 0])) == [1.0, 0.0, 0.0]  # 2/3 > 0.4: target 50
