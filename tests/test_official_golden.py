"""Golden test of the ``official`` training profile against an independent re-implementation of the official code.

``official_reference`` re-states the official reward server (``math_server.py``), the trainer's sequence processing
(``Actor.process_sequences``) and its rloo advantage pipeline (RLOO, k1 KL in the reward summed to go, whitening
over the rollout's tokens). Here thrifty's pieces -- ``official_length``, ``length_penalized_rewards(...,
grade_truncated=True)``, ``rloo_advantages``, ``kl_reward_to_go``, ``whiten_tokens`` -- must give the same numbers
on hand-built responses tokenised by the real DeepSeek-R1-Distill tokenizer, and the paper's settings must differ
from them exactly where they should. One correctness function (the last ``\\boxed{}`` against the gold, by string)
serves both sides, so only the grading, length and reward logic is under test.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

import pytest
import torch

import official_reference as ref
from helpers import DEEPSEEK_TOKENIZER as TOKENIZER
from thrifty.advantages import kl_reward_to_go, rloo_advantages, whiten_tokens
from thrifty.data.prompts import OFFICIAL_PROMPT_TEMPLATE, raw_prompt
from thrifty.lengths import official_length
from thrifty.rewards.length_penalty import length_penalized_rewards


EOS = 151643  # also the pad token
ALPHA = 0.1  # run_rloo_*.sh
CAP = 64  # the generation limit of these hand-built rollouts
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def boxed_is(text: str, gold: str) -> bool:
    """The one correctness function of both sides: the last ``\\boxed{...}`` of ``text`` is ``gold``."""
    found = BOXED.findall(text)
    return bool(found) and found[-1].strip() == gold


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TOKENIZER)


# --- hand-built responses ---------------------------------------------------------------------------------------

FILLER = " Let me double check this once more, carefully, step by step, because it is easy to slip." * 3


@dataclass(frozen=True)
class Spec:
    """One response to build: its text; ``cut`` = truncated at CAP tokens (no EOS); ``split`` = its first
    ``Okay`` sampled as the two tokens ``Ok`` + ``ay`` (a non-canonical split that re-tokenises to one)."""

    text: str
    cut: bool = False
    split: bool = False


@dataclass(frozen=True)
class Group:
    name: str
    question: str
    gold: str
    specs: tuple[Spec, ...]


def think(body: str, answer: str | None) -> str:
    boxed = f" The answer is \\boxed{{{answer}}}." if answer is not None else " I am not sure."
    return f"<think>\nOkay, {body}\n</think>\n\n{boxed}"


GROUPS = {
    g.name: g
    for g in [
        Group(
            "mixed",
            "What is 6 times 7?",
            "42",
            (
                Spec(think("6 times 7 is 42.", "42")),
                Spec(think("6 times 7: 6, 12, 18, 24, 30, 36, 42. So 42.", "42")),
                Spec(think("6 times 7 is 41.", "41")),
                Spec(think("this is hard.", None)),
                Spec(think("7 sixes make 42.", "42")),
            ),
        ),
        Group(
            "non-canonical",
            "What is 2 plus 3?",
            "5",
            (
                Spec(think("2 plus 3 is 5.", "5"), split=True),
                Spec(think("2 plus 3 is 5.", "5")),
                Spec(think("2 plus 3: count 3, 4, 5. It is 5.", "5")),
                Spec(think("2 plus 3 is 6.", "6")),
            ),
        ),
        Group(
            "cut with finished siblings",
            "What is 10 minus 3?",
            "7",
            (
                Spec(think("10 minus 3 is 7.", "7")),
                Spec(think("10 minus 3: 9, 8, 7. So 7.", "7")),
                Spec(think("10 minus 3 is 7.", "7") + FILLER, cut=True),
                Spec(think("10 minus 3 is 8.", "8") + FILLER, cut=True),
                Spec(think("10 minus 3 is 6.", "6")),
            ),
        ),
        Group(
            "cut without a finished sibling",
            "What is 9 divided by 3?",
            "3",
            (
                Spec(think("9 divided by 3 is 3.", "3") + FILLER, cut=True),
                Spec(think("9 divided by 3 is 3.", "3") + FILLER, cut=True, split=True),
                Spec(think("9 divided by 3 is 4.", "4") + FILLER, cut=True),
                Spec(think("9 divided by 3 is 2.", "2")),
            ),
        ),
        Group(
            "all wrong",
            "What is 1 plus 1?",
            "2",
            (
                Spec(think("1 plus 1 is 3.", "3")),
                Spec(think("1 plus 1 is 11.", "11")),
                Spec(think("hmm.", None)),
                Spec(think("1 plus 1 is 1.", "1") + FILLER, cut=True),
                # exactly CAP tokens, the last one closing the box: right as sampled, but the trainer overwrites
                # that token with EOS, so the server (and thrifty) grade "\boxed{2" -- wrong
                Spec(
                    think(
                        "1 plus 1 is 2. Let me double check this once more, carefully, step by step, because it is"
                        " easy to slip. Let me double check this once more, carefully, step by step, because it is"
                        " easy to",
                        "2",
                    ),
                    cut=True,
                ),
            ),
        ),
        Group(
            "lone correct",
            "What is 4 times 4?",
            "16",
            (
                Spec(think("4 times 4 is 16.", "16")),
                Spec(think("4 times 4 is 8.", "8")),
                Spec(think("4 times 4 is 44.", "44")),
                Spec(think("4 times 4 is 16.", "16") + FILLER, cut=True),
            ),
        ),
        Group(
            "equal lengths",
            "What is 5 plus 5?",
            "10",
            (
                Spec(think("5 plus 5 is 10.", "10")),
                Spec(think("5 plus 5 makes 10.", "10")),
                Spec(think("5 plus 5 gives 10.", "10")),
                Spec(think("5 plus 5 is 11.", "11")),
            ),
        ),
    ]
}


SHORTER_CUT = Group(
    "cut shorter than its lone finished sibling",
    "What is 3 plus 5?",
    "8",
    (
        # 63 tokens + EOS: officially one token longer than the cut one below, whose split re-tokenises shorter
        Spec(
            think(
                "3 plus 5 is 8. Let me double check this once more, carefully, step by step, because it is easy to"
                " slip. Yes, it is right, really right, and that is all there is to it now.",
                "8",
            )
        ),
        Spec(think("3 plus 5 is 8.", "8") + FILLER, cut=True, split=True),
        Spec(think("3 plus 5 is 9.", "9")),
    ),
)
"""Kept out of :data:`GROUPS`: the cut response's z-score against a lone finished one (std 0) is -1e7."""


@dataclass(frozen=True)
class Built:
    """A group tokenised: its prompt's ids (the official tokenisation) and its raw responses (what vLLM returns)."""

    group: Group
    prompt_ids: list[int]
    responses: list[list[int]]

    @property
    def truncated(self) -> list[bool]:
        return [EOS not in r for r in self.responses]


def build(tok, group: Group) -> Built:
    prompt_ids = tok.encode(ref.OFFICIAL_INPUT_TEMPLATE.format(group.question), add_special_tokens=False)
    okay, ok, ay = tok.convert_tokens_to_ids(["Okay", "Ok", "ay"])
    responses = []
    for spec in group.specs:
        ids = tok.encode(spec.text, add_special_tokens=False)
        if spec.split:
            at = ids.index(okay)
            ids = ids[:at] + [ok, ay] + ids[at + 1 :]
        if spec.cut:
            assert len(ids) >= CAP, f"{spec.text!r} is too short to be cut at {CAP} tokens"
            ids = ids[:CAP]
        else:
            assert len(ids) < CAP, f"{spec.text!r} does not finish within {CAP} tokens"
            ids = ids + [EOS]
        responses.append(ids)
    return Built(group, prompt_ids, responses)


@pytest.fixture(scope="module")
def built(tok) -> dict[str, Built]:
    return {name: build(tok, group) for name, group in GROUPS.items()}


# --- the two sides ----------------------------------------------------------------------------------------------


def reference_rewards(tok, b: Built) -> list[float]:
    """The official code on one group: vLLM's raw responses into ``all_responses``, the processed micro-batch
    (here the whole group, right-padded with EOS) decoded as the queries, the server's rewards."""
    n = len(b.responses)
    sequences, _, _ = ref.process_sequences([b.prompt_ids] * n, b.responses, EOS, EOS)
    queries = [tok.decode(seq, skip_special_tokens=False) for seq in sequences]
    everyone = [tok.decode(b.prompt_ids + r, skip_special_tokens=False) for r in b.responses]
    q = b.group.question
    return ref.server_rewards(tok, queries, [everyone] * n, [q] * n, {q: b.group.gold}, boxed_is, ALPHA)


def overwritten(b: Built) -> list[list[int]]:
    """The official trainer's responses: a cut one's last token replaced by EOS."""
    return [r[:-1] + [EOS] if cut else r for r, cut in zip(b.responses, b.truncated, strict=True)]


def official_profile_rewards(tok, bs: list[Built]) -> list[float]:
    """thrifty's official profile, all groups in one call: ``official_length`` of the overwritten response,
    correctness of the text without the overwritten token, ``grade_truncated=True``."""
    correct, lengths, group_ids, truncated = [], [], [], []
    for b in bs:
        for raw, processed, cut in zip(b.responses, overwritten(b), b.truncated, strict=True):
            graded = raw[:-1] if cut else raw
            correct.append(boxed_is(tok.decode(graded, skip_special_tokens=True), b.group.gold))
            lengths.append(official_length(tok, b.prompt_ids, processed))
            group_ids.append(b.group.name)
            truncated.append(cut)
    return length_penalized_rewards(correct, lengths, group_ids, ALPHA, truncated, grade_truncated=True)


def paper_rewards(tok, bs: list[Built]) -> list[float]:
    """The paper's settings: generated tokens (EOS included) as the length, truncated responses rewarded 0."""
    correct, lengths, group_ids, truncated = [], [], [], []
    for b in bs:
        for raw, cut in zip(b.responses, b.truncated, strict=True):
            correct.append(boxed_is(tok.decode(raw, skip_special_tokens=True), b.group.gold))
            lengths.append(len(raw))
            group_ids.append(b.group.name)
            truncated.append(cut)
    return length_penalized_rewards(correct, lengths, group_ids, ALPHA, truncated, grade_truncated=False)


def per_group(bs: list[Built], flat: list[float]) -> dict[str, list[float]]:
    out, at = {}, 0
    for b in bs:
        out[b.group.name] = flat[at : at + len(b.responses)]
        at += len(b.responses)
    return out


@pytest.fixture(scope="module")
def official(tok, built) -> dict[str, list[float]]:
    bs = list(built.values())
    return per_group(bs, official_profile_rewards(tok, bs))


@pytest.fixture(scope="module")
def paper(tok, built) -> dict[str, list[float]]:
    bs = list(built.values())
    return per_group(bs, paper_rewards(tok, bs))


SERVED = [name for name in GROUPS if name != "cut without a finished sibling"]


# --- the pieces the comparison rests on ---------------------------------------------------------------------------


def test_thrifty_raw_prompt_tokenises_as_the_official_template(tok):
    question = GROUPS["mixed"].question
    official_ids = tok.encode(ref.OFFICIAL_INPUT_TEMPLATE.format(question), add_special_tokens=False)
    assert tok(raw_prompt(question, OFFICIAL_PROMPT_TEMPLATE, tok))["input_ids"] == official_ids
    assert official_ids.count(tok.bos_token_id) == 1


def test_process_sequences_overwrites_a_cut_response_and_masks_through_its_eos(built):
    b = built["cut with finished siblings"]
    n = len(b.responses)
    sequences, _, actions = ref.process_sequences([b.prompt_ids] * n, b.responses, EOS, EOS)
    start = len(b.prompt_ids)
    for raw, expected, seq, action in zip(b.responses, overwritten(b), sequences, actions, strict=True):
        response = seq[start:]
        assert response[: len(raw)] == expected  # the cut one ends in EOS, the others are untouched
        assert set(response[len(raw) :]) <= {EOS}  # right padding (pad = EOS)
        # the action mask covers every generated token, the EOS (or the overwritten last token) included
        assert action == [1] * len(raw) + [0] * (CAP - len(raw))
    assert any(b.truncated) and not all(b.truncated)


def test_official_length_is_the_servers_length_of_the_processed_sequence(tok, built):
    for b in built.values():
        n = len(b.responses)
        sequences, _, _ = ref.process_sequences([b.prompt_ids] * n, b.responses, EOS, EOS)
        for seq, processed in zip(sequences, overwritten(b), strict=True):
            text = tok.decode(seq, skip_special_tokens=False)
            assert official_length(tok, b.prompt_ids, processed) == ref.server_length(tok, text)


# --- rewards: official profile == the server ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVED)
def test_official_profile_matches_the_server(tok, built, official, name):
    assert official[name] == pytest.approx(reference_rewards(tok, built[name]), abs=1e-9)


def test_a_cut_correct_response_is_graded_against_its_finished_siblings(tok, built, official):
    b = built["cut with finished siblings"]
    rewards = official["cut with finished siblings"]
    cut_correct = 2
    assert b.truncated[cut_correct] and rewards[cut_correct] > 0
    assert rewards[3] == 0.0  # cut and wrong
    # the statistics are the finished correct responses' alone: adding the cut one would move them
    finished = [official_length(tok, b.prompt_ids, r) for r in overwritten(b)[:2]]
    mean, std = sum(finished) / 2, abs(finished[0] - finished[1]) / 2
    cut_length = official_length(tok, b.prompt_ids, overwritten(b)[cut_correct])
    expected = 1 - ALPHA / (1 + math.exp(-(cut_length - mean) / (std + 1e-7)))
    assert rewards[cut_correct] == pytest.approx(expected, abs=1e-12)


def test_without_a_finished_correct_sibling_the_server_fails_and_thrifty_uses_the_cut_ones(tok, built, official):
    b = built["cut without a finished sibling"]
    with pytest.raises(KeyError):
        reference_rewards(tok, b)
    # /tmp/iface.md (--grade_truncated true): the statistics are those of the group's graded-correct cut responses
    lengths = [official_length(tok, b.prompt_ids, r) for r in overwritten(b)]
    assert lengths[0] != lengths[1]  # the non-canonical split re-tokenises shorter: a non-trivial z-score
    mean = (lengths[0] + lengths[1]) / 2
    std = abs(lengths[0] - lengths[1]) / 2
    expected = [1 - ALPHA / (1 + math.exp(-(x - mean) / (std + 1e-7))) for x in lengths[:2]]
    assert official["cut without a finished sibling"] == pytest.approx(expected + [0.0, 0.0], abs=1e-12)


def test_an_all_wrong_group_gets_zeros(tok, built, official):
    b = built["all wrong"]
    boxed_at_the_cut = b.responses[4]
    assert len(boxed_at_the_cut) == CAP and boxed_is(tok.decode(boxed_at_the_cut), "2")
    assert not boxed_is(tok.decode(boxed_at_the_cut[:-1]), "2")
    assert reference_rewards(tok, b) == [0.0] * 5
    assert official["all wrong"] == [0.0] * 5


def test_a_lone_correct_response_gets_one_minus_half_alpha(tok, built, official):
    expected = [1 - ALPHA / 2, 0.0, 0.0, 0.0]  # the cut correct one is graded, but against the lone finished one
    b = built["lone correct"]
    cut_length = official_length(tok, b.prompt_ids, overwritten(b)[3])
    lone_length = official_length(tok, b.prompt_ids, b.responses[0])
    expected[3] = 1 - ALPHA / (1 + math.exp(-(cut_length - lone_length) / 1e-7))  # std 0: a saturated z
    assert expected[3] == pytest.approx(1 - ALPHA)  # longer than the only finished one -> the full penalty
    assert reference_rewards(tok, b) == pytest.approx(expected, abs=1e-12)
    assert official["lone correct"] == pytest.approx(expected, abs=1e-12)


def test_equal_lengths_give_every_correct_response_one_minus_half_alpha(tok, built, official):
    b = built["equal lengths"]
    assert len({len(r) for r in b.responses[:3]}) == 1
    expected = [1 - ALPHA / 2] * 3 + [0.0]
    assert reference_rewards(tok, b) == pytest.approx(expected, abs=1e-12)
    assert official["equal lengths"] == pytest.approx(expected, abs=1e-12)


def test_a_cut_response_far_below_its_statistics_gets_the_servers_reward(tok):
    """A lone finished correct response (std 0) and a graded cut one that re-tokenises shorter: z = -1/1e-7. The
    server's numpy logistic gives 0 there (exp overflows to inf, a warning), so the cut one earns 1; thrifty must
    not fail on it."""
    b = build(tok, SHORTER_CUT)
    lengths = [official_length(tok, b.prompt_ids, r) for r in overwritten(b)]
    assert lengths[1] == lengths[0] - 1 and len(b.responses[0]) == CAP and b.truncated == [False, True, False]
    expected = [1 - ALPHA / 2, 1.0, 0.0]
    assert reference_rewards(tok, b) == pytest.approx(expected, abs=1e-12)
    assert official_profile_rewards(tok, [b]) == pytest.approx(expected, abs=1e-12)


# --- the paper's settings differ exactly where they should --------------------------------------------------------


def offsets(tok, b: Built) -> list[int]:
    """The official length minus the generated count, per response (the prompt, minus the EOS, ...)."""
    return [official_length(tok, b.prompt_ids, p) - len(r) for p, r in zip(overwritten(b), b.responses, strict=True)]


@pytest.mark.parametrize("name", ["mixed", "all wrong", "lone correct", "equal lengths"])
def test_canonical_groups_without_cut_correct_responses_agree_with_the_paper(tok, built, official, paper, name):
    b = built[name]
    finished = [o for o, cut in zip(offsets(tok, b), b.truncated, strict=True) if not cut]
    assert len(set(finished)) == 1  # canonical re-tokenisation: a constant offset, so the same z-scores
    assert finished[0] == len(b.prompt_ids) - 1  # the prompt (its BOS dropped and re-added) minus the EOS
    graded_cut = [i for i, cut in enumerate(b.truncated) if cut and official[name][i] > 0]
    agree = [i for i in range(len(b.responses)) if i not in graded_cut]
    assert [official[name][i] for i in agree] == pytest.approx([paper[name][i] for i in agree], abs=1e-9)
    assert all(paper[name][i] == 0.0 for i in graded_cut)


def test_a_cut_correct_response_is_zero_in_the_paper_and_its_siblings_agree(built, official, paper):
    name = "cut with finished siblings"
    assert paper[name][2] == 0.0 < official[name][2]
    assert official[name][:2] == pytest.approx(paper[name][:2], abs=1e-9)
    assert official[name][3:] == paper[name][3:] == [0.0, 0.0]
    name = "cut without a finished sibling"
    assert paper[name] == [0.0] * 4 and official[name][0] > 0 and official[name][1] > 0


def test_a_non_canonical_split_changes_the_reward_only_under_the_official_measure(tok, built, official, paper):
    b = built["non-canonical"]
    split, canonical = b.responses[0], b.responses[1]
    assert len(split) == len(canonical) + 1  # the same text, one token more as sampled
    assert official_length(tok, b.prompt_ids, split) == official_length(tok, b.prompt_ids, canonical)
    o, p = official["non-canonical"], paper["non-canonical"]
    assert o[0] == pytest.approx(o[1], abs=1e-12)  # officially the same length, the same reward
    assert p[0] < p[1]  # the paper counts the extra token
    assert o != pytest.approx(p, abs=1e-6)
    assert o == pytest.approx(reference_rewards(tok, b), abs=1e-9)


# --- advantages: rloo -> k1 KL in the reward, summed to go -> whitening over the rollout's tokens ----------------

N, GROUP_SIZE, T, BETA = 8, 4, 12, 1e-3
LENGTHS = [12, 5, 9, 1, 7, 12, 3, 10]  # 12 = cut at the limit (no EOS), the others end with EOS


@pytest.fixture(scope="module")
def rollout():
    """Eight responses in two groups: random tokens, ragged prompts and responses; the mask is the official
    action mask of :func:`official_reference.process_sequences`; log-probs are garbage on padding."""
    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(1000, 2000, (int(k),), generator=gen).tolist() for k in torch.randint(3, 9, (N,))]
    responses = []
    for length in LENGTHS:
        ids = torch.randint(1000, 2000, (length,), generator=gen).tolist()
        responses.append(ids if length == T else ids[:-1] + [EOS])
    _, _, actions = ref.process_sequences(prompts, responses, EOS, EOS)
    mask = torch.tensor(actions, dtype=torch.float64)
    assert mask.sum(1).tolist() == LENGTHS  # every generated token, EOS included, is an action
    logps = -torch.rand(N, T, generator=gen, dtype=torch.float64) * 3
    ref_logps = logps - 0.5 * torch.randn(N, T, generator=gen, dtype=torch.float64)
    logps[mask == 0], ref_logps[mask == 0] = 7.0, -7.0
    rewards = torch.tensor([0.95, 0.0, 0.91, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    rewards[4:] = torch.rand(4, generator=gen, dtype=torch.float64)
    return rewards, logps, ref_logps, mask


def thrifty_advantages(rewards, logps, ref_logps, mask, beta):
    sequence = torch.tensor(
        rloo_advantages(rewards.tolist(), [i // GROUP_SIZE for i in range(N)]), dtype=torch.float64
    )
    return kl_reward_to_go(sequence, logps, ref_logps, mask, beta=beta)


def on_tokens(per_token: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    return [row[: int(m.sum())] for row, m in zip(per_token, mask, strict=True)]


def test_rloo_matches_the_official_baseline(rollout):
    rewards = rollout[0]
    thrifty = rloo_advantages(rewards.tolist(), [i // GROUP_SIZE for i in range(N)])
    assert thrifty == pytest.approx(ref.rloo_rewards(rewards, GROUP_SIZE).tolist(), abs=1e-12)


def test_kl_reward_to_go_matches_the_official_returns(rollout):
    rewards, logps, ref_logps, mask = rollout
    thrifty = thrifty_advantages(rewards, logps, ref_logps, mask, BETA)
    expected = ref.official_advantages(rewards, logps, ref_logps, mask, GROUP_SIZE, BETA, whiten=False)
    for got, want in zip(on_tokens(thrifty, mask), expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-9, rtol=0)
    assert torch.all(thrifty[mask == 0] == 0)
    # the KL matters: the same advantages without it differ
    assert not torch.allclose(thrifty, thrifty_advantages(rewards, logps, ref_logps, mask, 0.0))


def test_the_official_pipeline_end_to_end(rollout):
    rewards, logps, ref_logps, mask = rollout
    whitened = whiten_tokens(thrifty_advantages(rewards, logps, ref_logps, mask, BETA), mask)
    expected = ref.official_advantages(rewards, logps, ref_logps, mask, GROUP_SIZE, BETA, whiten=True)
    for got, want in zip(on_tokens(whitened, mask), expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    tokens = torch.cat(expected)
    assert abs(float(tokens.mean())) < 1e-9 and float(tokens.std(unbiased=False)) == pytest.approx(1.0)
    assert torch.all(whitened[mask == 0] == 0)


def test_whitening_split_over_two_processes_equals_the_whole_rollout(rollout):
    rewards, logps, ref_logps, mask = rollout
    advantages = thrifty_advantages(rewards, logps, ref_logps, mask, BETA)
    whole = whiten_tokens(advantages, mask)
    halves = [slice(0, 3), slice(3, N)]  # uneven, across the group boundary
    # each process pads to its own longest response
    parts = []
    for rows in halves:
        width = int(mask[rows].sum(1).max())
        parts.append((advantages[rows, :width].clone(), mask[rows, :width].clone()))
    barrier, deposit, results = threading.Barrier(2, timeout=10), [None, None], [None, None]

    def process(rank: int) -> None:
        def total(x: torch.Tensor) -> torch.Tensor:  # an all_reduce(sum) between the two threads
            deposit[rank] = x.clone()
            barrier.wait()
            summed = deposit[0] + deposit[1]
            barrier.wait()
            return summed

        results[rank] = whiten_tokens(*parts[rank], total=total)

    threads = [threading.Thread(target=process, args=(rank,)) for rank in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    for rows, result, (_, part_mask) in zip(halves, results, parts, strict=True):
        assert result is not None, "a process did not finish"
        for got, want in zip(on_tokens(result, part_mask), on_tokens(whole[rows], mask[rows]), strict=True):
            torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    # and so does the official code's all_reduce over the same two processes
    official = ref.normalize_advantages([on_tokens(advantages[rows], mask[rows]) for rows in halves])
    for result, (_, part_mask), want in zip(results, parts, official, strict=True):
        for got, expected in zip(on_tokens(result, part_mask), want, strict=True):
            torch.testing.assert_close(got, expected, atol=1e-9, rtol=0)
    # while a process whitening alone, by its own statistics, would not
    alone = on_tokens(whiten_tokens(*parts[0]), parts[0][1])
    assert not torch.allclose(torch.cat(alone), torch.cat(on_tokens(whole[halves[0]], mask[halves[0]])))


def test_without_kl_or_whitening_every_token_carries_the_rloo_advantage(rollout):
    rewards, logps, ref_logps, mask = rollout
    per_token = thrifty_advantages(rewards, logps, ref_logps, mask, 0.0)
    sequence = ref.rloo_rewards(rewards, GROUP_SIZE)
    torch.testing.assert_close(per_token, sequence.unsqueeze(1) * mask, atol=1e-12, rtol=0)
    reference = ref.official_advantages(rewards, logps, ref_logps, mask, GROUP_SIZE, 0.0, whiten=False)
    for value, tokens in zip(sequence, reference, strict=True):
        torch.testing.assert_close(tokens, value.expand_as(tokens), atol=1e-12, rtol=0)
