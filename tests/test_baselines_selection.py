"""Baseline data: shortest-correct selection for SFT and (shortest, longest) correct pairs for DPO."""

import random

from thrifty.baselines.selection import dpo_rows, preference_pairs, sft_rows, shortest_correct


def _rec(pid, sample, tokens, correct, finished=True):
    return {
        "id": pid,
        "sample": sample,
        "tokens": tokens,
        "correct": correct,
        "finished": finished,
        "response": f"{pid}-{sample}",
    }


RECORDS = [
    _rec("p", 0, 50, True),
    _rec("p", 1, 20, True),
    _rec("p", 2, 10, False),
    _rec("p", 3, 80, True),
    _rec("p", 4, 15, True, finished=False),  # correct text but cut off: never kept
    _rec("q", 0, 30, True),
    _rec("q", 1, 30, True),  # equal lengths: SFT keeps one, DPO has no pair
    _rec("r", 0, 5, False),  # nothing correct
]


def test_selection_by_hand_and_independent_of_order():
    shuffled = RECORDS[:]
    random.Random(0).shuffle(shuffled)
    for records in (RECORDS, shuffled):
        assert {k: v["sample"] for k, v in shortest_correct(records).items()} == {"p": 1, "q": 0}
        pairs = preference_pairs(records)
        assert {k: (c["sample"], r["sample"]) for k, (c, r) in pairs.items()} == {"p": (1, 3)}


def test_rows_are_trl_standard_formats_with_the_sampled_prompt_text():
    prompts = {"p": "<user>1+1<assistant>", "q": "<user>2+2<assistant>", "r": "<user>3+3<assistant>"}
    assert sft_rows(prompts, RECORDS) == [
        {"prompt": "<user>1+1<assistant>", "completion": "p-1"},
        {"prompt": "<user>2+2<assistant>", "completion": "q-0"},
    ]
    assert dpo_rows(prompts, RECORDS) == [{"prompt": "<user>1+1<assistant>", "chosen": "p-1", "rejected": "p-3"}]
