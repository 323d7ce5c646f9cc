"""The RL step on TRL: pinned paper defaults, scoring and advantages on the whole rollout (one process, then two
ranks), rewards and estimators plugged in by name, recipes that add up, and `thrifty train` end to end."""

import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from helpers import DEEPSEEK_TOKENIZER, TINY_RL, flags, torchrun
from thrifty import runs
from thrifty.advantages import ADVANTAGES, get_advantage, register_advantage, rloo_advantages
from thrifty.rewards import REWARDS, Rollout, length_penalized_rewards, make_reward, register_reward
from thrifty.rl import ThriftyArguments, ThriftyTrainer, TrainConfig, load_recipe
from thrifty.verify import Verdict


REPO = Path(__file__).resolve().parents[1]


def test_paper_defaults_are_pinned():
    c = TrainConfig(output_dir="unused", use_cpu=True)
    assert (c.loss_type, c.scale_rewards, c.importance_sampling_level) == ("grpo", "none", "token")
    assert (c.beta, c.epsilon, c.temperature, c.top_p, c.top_k, c.num_generations) == (1e-3, 0.2, 1.0, 1.0, 0, 8)
    assert (c.mask_truncated_completions, c.use_bias_correction_kl, c.bf16, c.num_iterations) == (
        False,
        False,
        False,
        1,
    )
    assert c.lr_scheduler_type == "constant_with_warmup" and c.learning_rate == 5e-6
    assert (c.epsilon_high, c.top_entropy_quantile, c.entropy_coef) == (None, 1.0, 0.0)
    assert c.vllm_importance_sampling_correction is False
    a = ThriftyArguments(prompts="organism")
    assert (a.reward, a.alpha, a.advantage_estimator) == ("length_penalized", 0.2, "rloo")


def test_method_arguments_are_validated():
    with pytest.raises(ValueError, match="got 1.0"):
        ThriftyArguments(prompts="organism", alpha=1.0)
    with pytest.raises(ValueError, match="--reward: unknown reward 'kimmi'; registered: length_penalized, arora, "):
        ThriftyArguments(prompts="organism", reward="kimmi")
    with pytest.raises(
        ValueError, match="--advantage_estimator: unknown advantage estimator 'none'; registered: rloo"
    ):
        ThriftyArguments(prompts="organism", advantage_estimator="none")
    with pytest.raises(ValueError, match="at least 2 generations"):
        TrainConfig(output_dir="unused", use_cpu=True, num_generations=1)


# --------------------------------------------------------------------------------------------- one process
EOS = 7


class ListVerifier:
    def __init__(self, correct):
        self.correct = correct

    def verify(self, texts, golds, mode):
        return [Verdict(None, c, False) for c in self.correct]


def _scorer(correct, reward, estimator="rloo", n=4):
    """A ThriftyTrainer's scoring and advantage steps, without a model: what TRL would have set up, faked."""
    trainer = object.__new__(ThriftyTrainer)
    trainer.reward, trainer.estimator = reward, get_advantage(estimator)
    trainer.verifier, trainer.verifier_mode, trainer.eos_ids = ListVerifier(correct), "math-verify", {EOS}
    trainer.num_generations = trainer.num_generations_eval = n
    trainer.model = SimpleNamespace(training=True)
    trainer.state = SimpleNamespace(global_step=3)
    trainer.accelerator = SimpleNamespace(device=torch.device("cpu"), num_processes=1)
    trainer.beta = trainer.kl_coef = 1e-3
    trainer.kl_penalty, trainer.whiten_advantages, trainer.grade_truncated = "loss", "none", False
    trainer.length_measure, trainer.length_unit, trainer.max_prompt_length = "tokens", "response", 0
    trainer.dynamic_sampling = "none"
    trainer._prompt_ids = []
    trainer._logs = {"advantages": deque([9.0] * 8, maxlen=8)}  # TRL's own advantages of this rollout
    trainer.logged = {}
    trainer._log_metric = trainer._log_now = trainer.logged.__setitem__
    return trainer


IDS = [
    [1] * 9 + [EOS],
    [1] * 4 + [EOS],
    [1] * 20 + [EOS],
    [1] * 30,
    [1] * 5 + [EOS],
    [1] * 15 + [EOS],
    [1, EOS],
    [1] * 3 + [EOS],
]
CORRECT = [True, False, True, True, True, True, False, True]
TRUNCATED = [False, False, False, True, False, False, False, False]
GROUPS = [0] * 4 + [1] * 4


def _inputs(extra=None):
    return [{"prompt": p, "answer": "1", "problem_id": f"id-{p}", **(extra or {})} for p in ["p"] * 4 + ["q"] * 4]


@pytest.mark.parametrize("estimator", ["rloo", "grpo"])
def test_one_process_scores_and_advantages_are_the_pure_functions(estimator):
    trainer = _scorer(CORRECT, make_reward("length_penalized", alpha=0.4), estimator)
    rewards = trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    lengths = [len(i) for i in IDS]
    want = length_penalized_rewards(CORRECT, lengths, GROUPS, 0.4, TRUNCATED)
    assert rewards.shape == (8, 1) and rewards[:, 0].tolist() == pytest.approx(want)
    assert want[3] == 0.0  # correct but cut off
    advantages = trainer._advantages({"advantages": torch.zeros(8), "completion_mask": torch.ones(8, 30)})
    assert advantages.tolist() == pytest.approx(get_advantage(estimator).sequence(want, GROUPS), rel=1e-6)
    logged_advantages = list(trainer._logs["advantages"])  # what the completions log shows
    assert logged_advantages == pytest.approx(get_advantage(estimator).sequence(want, GROUPS), rel=1e-6)
    logged = trainer.logged
    assert logged["accuracy"] == pytest.approx(5 / 8) and logged["alpha"] == 0.4 and logged["truncated"] == 1 / 8
    assert logged["tokens/mean"] == pytest.approx(sum(lengths) / 8)
    assert logged["tokens/mean_correct"] == pytest.approx((10 + 21 + 6 + 16 + 4) / 5)


def test_the_reward_sees_the_whole_rollout_with_ids_step_and_columns(monkeypatch):
    monkeypatch.setattr("thrifty.rewards.registry.REWARDS", dict(REWARDS))
    seen = []

    @register_reward("spy")
    def spy():
        def reward(rollout):
            seen.append(rollout)
            return [0.5] * len(rollout)

        return reward

    trainer = _scorer(CORRECT, make_reward("spy"))
    trainer._calculate_rewards(_inputs({"target": 12}), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    (rollout,) = seen
    assert list(rollout.group_ids) == GROUPS and list(rollout.correct) == CORRECT
    assert list(rollout.finished) == [not t for t in TRUNCATED] and rollout.step == 3
    assert list(rollout.problem_ids) == ["id-p"] * 4 + ["id-q"] * 4 and dict(rollout.columns) == {"target": [12] * 8}
    assert rollout.training
    assert "alpha" not in trainer.logged  # only a reward's own parameters are logged


def test_a_reward_must_answer_every_response_and_groups_must_be_whole(monkeypatch):
    monkeypatch.setattr("thrifty.rewards.registry.REWARDS", dict(REWARDS))
    register_reward("short")(lambda: lambda rollout: [1.0])
    with pytest.raises(RuntimeError, match="returned 1 values for a rollout of 8"):
        _scorer(CORRECT, make_reward("short"))._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    reward = make_reward("length_penalized", alpha=0.2)
    with pytest.raises(RuntimeError, match="not contiguous"):
        _scorer([True] * 4, reward, n=2)._calculate_rewards(_inputs()[:4], ["a", "b", "a", "b"], ["x"] * 4, IDS[:4])
    with pytest.raises(RuntimeError, match="not a whole number of groups of 3"):
        _scorer(CORRECT, reward, n=3)._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    unscored = _scorer(CORRECT, reward)
    unscored._scored = None
    with pytest.raises(RuntimeError, match="not scored"):
        unscored._advantages({"advantages": torch.zeros(8), "completion_mask": torch.ones(8, 30)})


def test_a_per_token_estimator_gets_this_process_terms(monkeypatch):
    monkeypatch.setattr("thrifty.advantages.ADVANTAGES", dict(ADVANTAGES))
    got = {}

    def to_tokens(advantages, terms):
        got.update(terms=terms)
        return advantages.unsqueeze(1) * terms.mask

    register_advantage("rloo_per_token", per_token=to_tokens)(rloo_advantages)
    trainer = _scorer(CORRECT, make_reward("length_penalized", alpha=0.2), "rloo_per_token")
    rewards = trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)[:, 0].tolist()
    mask = torch.ones(8, 5)
    mask[:, 3:] = 0
    output = {"advantages": torch.zeros(8), "completion_mask": mask}
    output.update(old_per_token_logps=torch.zeros(8, 5), ref_per_token_logps=torch.zeros(8, 5))
    advantages = trainer._advantages(output)
    assert advantages.shape == (8, 5) and advantages[:, 3:].abs().sum() == 0
    assert advantages[:, 0].tolist() == pytest.approx(rloo_advantages(rewards, GROUPS), rel=1e-6)
    terms = got["terms"]
    assert terms.mask is mask and terms.beta == 1e-3
    assert terms.logps is output["old_per_token_logps"] and terms.ref_logps is output["ref_per_token_logps"]


def _official_output(seed=0):
    """What TRL hands the advantage step for IDS: a (responses, tokens) mask and both log-probs."""
    generator = torch.Generator().manual_seed(seed)
    width = max(len(ids) for ids in IDS)
    mask = torch.tensor([[1.0] * len(ids) + [0.0] * (width - len(ids)) for ids in IDS])
    logps = -torch.rand(8, width, generator=generator) * mask
    ref = logps - 0.3 * torch.rand(8, width, generator=generator) * mask
    return {
        "advantages": torch.zeros(8),
        "completion_mask": mask,
        "old_per_token_logps": logps,
        "ref_per_token_logps": ref,
    }


def test_the_official_update_is_kl_to_go_then_token_whitening():
    """--kl_penalty reward and --whiten_advantages tokens: per-token advantages, in that order, from the whole
    rollout's RLOO advantages; the completions log shows each response's mean over its tokens."""
    from thrifty.advantages import kl_reward_to_go, whiten_tokens

    trainer = _scorer(CORRECT, make_reward("length_penalized", alpha=0.4))
    trainer.kl_penalty, trainer.whiten_advantages, trainer.kl_coef = "reward", "tokens", 0.05
    want = trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)[:, 0].tolist()
    output = _official_output()
    mask = output["completion_mask"]
    advantages = trainer._advantages(output)
    sequence = torch.tensor(rloo_advantages(want, GROUPS))
    per_token = kl_reward_to_go(sequence, output["old_per_token_logps"], output["ref_per_token_logps"], mask, 0.05)
    assert advantages.shape == mask.shape
    assert torch.allclose(advantages, whiten_tokens(per_token, mask), atol=1e-6)
    tokens = advantages[mask.bool()]
    assert tokens.mean().item() == pytest.approx(0, abs=1e-6) and tokens.std(unbiased=False).item() == pytest.approx(1)
    kl_first = 0.05 * ((output["old_per_token_logps"] - output["ref_per_token_logps"]) * mask).sum(1)
    assert trainer.logged["kl_to_go/mean"] == pytest.approx(kl_first.mean().item(), rel=1e-5)
    assert trainer.logged["advantages/abs_mean"] == pytest.approx(sum(map(abs, sequence.tolist())) / 8, rel=1e-6)
    logged = list(trainer._logs["advantages"])
    assert logged == pytest.approx(((advantages * mask).sum(1) / mask.sum(1)).tolist(), abs=1e-6)
    # the pieces one at a time: the KL alone keeps the advantages unwhitened, whitening alone has no KL
    trainer.whiten_advantages = "none"
    trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    assert torch.allclose(trainer._advantages(output), per_token, atol=1e-6)
    trainer.kl_penalty, trainer.whiten_advantages = "loss", "tokens"
    trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    flat = sequence.unsqueeze(1) * mask
    assert torch.allclose(trainer._advantages(output), whiten_tokens(flat, mask), atol=1e-6)


class TextVerifier:
    """Right when the text ends in '1' (and records what it was asked)."""

    def __init__(self):
        self.texts = []

    def verify(self, texts, golds, mode):
        self.texts.extend(texts)
        return [Verdict(None, t.endswith("1"), False) for t in texts]


def test_truncated_responses_are_graded_as_the_official_code_grades_them():
    """--grade_truncated: a cut response is checked without its last token (the official trainer writes EOS over
    it) and, if right, rewarded against its group's finished correct responses."""
    tokenizer = SimpleNamespace(decode=lambda ids, skip_special_tokens: "".join(str(i) for i in ids))
    ids = [[1, 2, 1, EOS], [2, 1, 1, 1, 1, 1, EOS], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2, 2, 2, 2, 1]]
    texts = ["121", "211111", "1111111111", "2222222221"]
    for grade in (False, True):
        trainer = _scorer(None, make_reward("length_penalized", alpha=0.2, grade_truncated=grade), n=4)
        trainer.verifier, trainer.processing_class, trainer.grade_truncated = TextVerifier(), tokenizer, grade
        rewards = trainer._calculate_rewards(_inputs()[:4], ["p"] * 4, texts, ids)[:, 0].tolist()
        want = length_penalized_rewards(
            [True, True, True, grade is False], [4, 7, 10, 10], [0] * 4, 0.2, [False, False, True, True], grade
        )
        assert rewards == pytest.approx(want)
        if grade:  # the last token is gone before checking: "2222222221" -> "222222222" is wrong
            assert trainer.verifier.texts == ["121", "211111", "111111111", "222222222"]
            assert rewards[2] > 0 and rewards[3] == 0
        else:
            assert trainer.verifier.texts == texts and rewards[2] == rewards[3] == 0


def test_lengths_can_be_the_official_measure_or_the_thinking():
    from transformers import AutoTokenizer

    from thrifty.lengths import official_length

    tokenizer = AutoTokenizer.from_pretrained(DEEPSEEK_TOKENIZER)
    eos, think_end = tokenizer.eos_token_id, 151649
    prompt = tokenizer("<｜User｜>1+1?<｜Assistant｜><think>\n")["input_ids"]
    body = tokenizer.encode("Two.", add_special_tokens=False)
    ids = [body + [think_end] + body + [eos], body * 3]  # finished; cut at the limit
    trainer = _scorer([True, True], make_reward("length_penalized", alpha=0.2), n=2)
    trainer.processing_class, trainer._prompt_ids = tokenizer, [prompt, prompt]
    assert trainer._lengths(ids, [True, False]) == [len(ids[0]), len(ids[1])]
    trainer.length_measure = "official"
    cut = ids[1][:-1] + [eos]  # as the official code sees a response cut at the limit
    assert trainer._lengths(ids, [True, False]) == [
        official_length(tokenizer, prompt, ids[0]),
        official_length(tokenizer, prompt, cut),
    ]
    trainer.length_measure, trainer.length_unit, trainer.end_of_thinking = "tokens", "thinking", think_end
    assert trainer._lengths(ids, [True, False]) == [len(body) + 1, len(ids[1])]


def test_profiles_set_every_piece_and_a_given_value_wins(tmp_path):
    paper, official = ThriftyArguments(prompts="organism"), ThriftyArguments(prompts="organism", profile="official")
    pieces = (
        "kl_penalty",
        "whiten_advantages",
        "grade_truncated",
        "length_measure",
        "prompt_format",
        "max_prompt_length",
    )
    assert [getattr(paper, p) for p in pieces] == ["loss", "none", False, "tokens", "chat", 0]
    assert [getattr(official, p) for p in pieces] == ["reward", "tokens", True, "official", "raw", 512]
    mixed = ThriftyArguments(prompts="organism", profile="official", whiten_advantages="none", grade_truncated=False)
    assert (mixed.kl_penalty, mixed.whiten_advantages, mixed.grade_truncated) == ("reward", "none", False)
    organism = REPO / "recipes" / "organism" / "alpha_0.2.yaml"
    _, config, _ = load_recipe(organism, "--profile", "official")
    assert (config.warmup_steps, config.max_completion_length) == (0, 256)  # the recipe gives both: they win
    recipe = {
        k: v
        for k, v in yaml.safe_load(organism.read_text()).items()
        if k not in ("warmup_steps", "max_completion_length")
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    _, config, _ = load_recipe(tmp_path / "r.yaml", "--profile", "official")
    assert (config.warmup_steps, config.max_completion_length) == (6, 32000)  # the official scheduler and cap
    _, config, _ = load_recipe(tmp_path / "r.yaml", "--profile", "official", "--warmup_steps", "3")
    assert (config.warmup_steps, config.max_completion_length) == (3, 32000)
    _, config, _ = load_recipe(tmp_path / "r.yaml")
    assert (config.warmup_steps, config.max_completion_length) == (0.05, TrainConfig.max_completion_length)
    # an abbreviated flag is the option it abbreviates; a bare --grade_truncated means true
    args, config, _ = load_recipe(
        tmp_path / "r.yaml", "--profile", "official", "--max_completion_len", "100", "--grade_truncated"
    )
    assert (config.max_completion_length, config.warmup_steps, args.grade_truncated) == (100, 6, True)
    # Python, no recipe: train() applies the profile to what the caller left at TrainConfig's defaults
    from thrifty.rl.config import apply_profile

    config = TrainConfig(output_dir="unused", use_cpu=True, max_completion_length=64)
    apply_profile(ThriftyArguments(prompts="organism", profile="official"), config)
    assert (config.warmup_steps, config.max_completion_length, config.thrifty_profile) == (6, 64, "official")


@pytest.mark.parametrize(
    "given, message",
    [
        (dict(profile="openrlhf"), "--profile must be one of paper, official, got 'openrlhf'"),
        (dict(kl_penalty="k3"), "--kl_penalty must be one of loss, reward, got 'k3'"),
        (dict(whiten_advantages="batch"), "--whiten_advantages must be one of none, tokens"),
        (dict(length_measure="chars"), "--length_measure must be one of tokens, official"),
        (dict(max_prompt_length=-1), "--max_prompt_length must be >= 0"),
        (dict(advantage_estimator="batch"), "--advantage_estimator rloo --whiten_advantages tokens"),
        (dict(length_unit="thinking", length_measure="official"), "not --length_measure official: add"),
        (
            dict(length_unit="thinking", profile="official"),
            "not --length_measure official (of --profile official): add --length_measure tokens",
        ),
        (dict(reward_kwargs={"grade_truncated": True}), "set it with --grade_truncated"),
    ],
)
def test_profile_pieces_are_validated(given, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ThriftyArguments(prompts="organism", **given)


def test_sixteen_bit_weights_are_refused_without_master_weights():
    from thrifty.rl.run import check_precision

    def trainer(dtype, trained=True, deepspeed=False):
        model = torch.nn.Linear(2, 2).to(dtype)
        model.requires_grad_(trained)
        adapter = torch.nn.Linear(2, 2)  # fp32, like a LoRA adapter
        parts = torch.nn.ModuleList([model, adapter])
        return SimpleNamespace(
            model=parts,
            is_deepspeed_enabled=deepspeed,
            is_fsdp_enabled=False,
            args=SimpleNamespace(learning_rate=5e-6),
        )

    check_precision(trainer(torch.float32))
    with pytest.raises(ValueError, match="the weights being trained are bfloat16, and without DeepSpeed ZeRO or FSDP"):
        check_precision(trainer(torch.bfloat16))
    check_precision(trainer(torch.bfloat16, deepspeed=True))  # ZeRO keeps fp32 master weights
    check_precision(trainer(torch.bfloat16, trained=False))  # a frozen 16-bit base under fp32 adapters


def test_train_refuses_bf16_weights_on_plain_data_parallelism(tiny_model_dir, tmp_path, capsys):
    assert _train(tmp_path, tiny_model_dir, *flags(dtype="bfloat16", max_steps=1)) == 2
    assert "the weights being trained are bfloat16" in capsys.readouterr().err


def test_raw_prompts_hold_one_bos_and_chat_rows_are_refused_there(tiny_model_dir):
    from transformers import AutoTokenizer

    from thrifty.data import Problem
    from thrifty.data.prompts import OFFICIAL_PROMPT_TEMPLATE
    from thrifty.rl import build_dataset

    tokenizer = AutoTokenizer.from_pretrained(DEEPSEEK_TOKENIZER)
    rows = build_dataset([Problem("a", "1+1?", "2")], OFFICIAL_PROMPT_TEMPLATE, "raw", tokenizer)
    ids = tokenizer(rows[0]["prompt"])["input_ids"]  # as TRL tokenizes a string prompt
    assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
    assert ids[-1] == tokenizer.convert_tokens_to_ids("<｜Assistant｜>") and 151648 not in ids  # no <think> opened
    char_tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)  # a model without DeepSeek's special tokens
    markers = "<｜begin▁of▁sentence｜>, <｜User｜>, <｜Assistant｜>"
    with pytest.raises(ValueError, match=re.escape(f"special tokens as text ({markers})")):
        build_dataset([Problem("a", "1+1?", "2")], OFFICIAL_PROMPT_TEMPLATE, "raw", char_tokenizer)
    with pytest.raises(ValueError, match="--prompt_format raw fills a template with a question, but 1 rows are chat"):
        build_dataset([Problem("b", "x", "2", messages=(("user", "x"),))], "{question}", "raw", tokenizer)


# --------------------------------------------------------------------------------------------- two ranks
def _padded(rows: list[list[float]], width: int) -> torch.Tensor:
    return torch.tensor([row + [0.0] * (width - len(row)) for row in rows])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rloo", "official"])
def test_two_ranks_see_whole_groups(tiny_model_dir, tmp_path, mode):
    """torchrun, 2 CPU ranks (gloo), 6 responses each per rollout, groups of 4: the middle group straddles them.
    ``official``: each rank's KL-to-go advantages, whitened with statistics over both ranks' tokens."""
    from thrifty.advantages import kl_reward_to_go, whiten_tokens

    run = torchrun(REPO / "tests" / "scripts" / "two_rank_rewards.py", tiny_model_dir, tmp_path, 0.3, mode)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 2  # 4 steps, 2 per rollout
    split_seen = informative = False
    groups = [i // 4 for i in range(12)]
    for call0, call1 in zip(*ranks, strict=True):
        prompts = call0["prompts"] + call1["prompts"]
        assert len(call0["prompts"]) == len(call1["prompts"]) == 6
        split_seen |= call0["prompts"][-1] == call1["prompts"][0]
        assert all(prompts[i] == prompts[4 * (i // 4)] for i in range(12))
        correct, lengths = call0["correct"] + call1["correct"], call0["lengths"] + call1["lengths"]
        truncated = call0["truncated"] + call1["truncated"]
        want = length_penalized_rewards(correct, lengths, groups, 0.3, truncated)
        assert call0["rewards"] == pytest.approx(want) and call1["rewards"] == pytest.approx(want)  # the whole rollout
        advantages = rloo_advantages(want, groups)
        if mode == "rloo":
            assert call0["advantages"] + call1["advantages"] == pytest.approx(advantages, abs=1e-6)
        else:  # pad both ranks' tokens to one width and whiten the whole rollout at once
            width = max(len(c["mask"][0]) for c in (call0, call1))
            per_token = torch.cat(
                [
                    kl_reward_to_go(
                        torch.tensor(advantages[6 * r : 6 * r + 6]),
                        _padded(c["logps"], width),
                        _padded(c["ref_logps"], width),
                        _padded(c["mask"], width),
                        0.05,
                    )
                    for r, c in enumerate((call0, call1))
                ]
            )
            mask = torch.cat([_padded(c["mask"], width) for c in (call0, call1)])
            trained = torch.cat([_padded(c["advantages"], width) for c in (call0, call1)])
            assert torch.allclose(trained * mask, whiten_tokens(per_token, mask), atol=1e-5)
            assert call0["beta"] == call1["beta"] == 0.05
        # the split group (samples 4-7) has correct answers of different lengths, so its statistics matter
        informative |= len({round(r, 6) for r in want[4:8] if r > 0}) >= 2
    assert split_seen and informative


# --------------------------------------------------------------------------------------------- recipes
def _recipe(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_recipes_use_known_keys_and_the_papers_batch_arithmetic():
    import dataclasses

    from trl import ModelConfig

    known = {f.name for cls in (ThriftyArguments, TrainConfig, ModelConfig) for f in dataclasses.fields(cls)}
    recipes = sorted((REPO / "recipes").glob("*/alpha_*.yaml"))
    assert len(recipes) == 12
    for path in recipes:
        recipe = _recipe(path)
        assert set(recipe) <= known, (path, set(recipe) - known)
        assert recipe["reward"] == "length_penalized" and recipe["advantage_estimator"] == "rloo"
        assert recipe["beta"] == 1e-3 and recipe["epsilon"] == 0.2 and recipe["num_generations"] == 8
        assert recipe["loss_type"] == "grpo" and recipe["scale_rewards"] == "none"
        assert (
            path.stem == f"alpha_{recipe['alpha']}" and Path(recipe["output_dir"]).name == f"alpha={recipe['alpha']}"
        )
    for size, processes, lr in (("1.5b", 4, 5e-6), ("7b", 8, 2e-6)):
        for path in (REPO / "recipes" / f"deepseek-r1-distill-qwen-{size}").glob("alpha_*.yaml"):
            r = _recipe(path)
            assert r["per_device_train_batch_size"] * processes * r["steps_per_generation"] == 256  # 32 prompts x 8
            assert r["per_device_train_batch_size"] * processes * r["gradient_accumulation_steps"] == 128
            assert r["learning_rate"] == lr and r["max_completion_length"] == 32768 and r["bf16"] and r["use_vllm"]


def test_the_organism_recipes_ship_with_the_package_and_differ_only_in_alpha():
    from thrifty.organism import recipe

    assert (REPO / "recipes" / "organism" / "alpha_0.2.yaml").resolve() == recipe("alpha_0.2").resolve()
    zero, fifth = (_recipe(recipe(name)) for name in ("alpha_0", "alpha_0.2"))
    assert {k for k in zero if zero[k] != fifth[k]} == {"alpha", "output_dir"}
    args, config, model_args = load_recipe(recipe("alpha_0.2"), "--output_dir", "elsewhere")
    assert (args.alpha, args.prompts, args.prompts_per_level, config.output_dir) == (0.2, "organism", 500, "elsewhere")
    # 8 prompts x 8 samples per rollout, two updates of 32 (the paper's 256 and 128, scaled down)
    assert config.per_device_train_batch_size * config.steps_per_generation == 64 and config.num_generations == 8
    with pytest.raises(FileNotFoundError, match="no organism recipe 'alpha_9'"):
        recipe("alpha_9")


# --------------------------------------------------------------------------------------------- thrifty train
def _train(tmp_path, tiny_model_dir, *extra):
    from thrifty.cli import main

    options = dict(model_name_or_path=tiny_model_dir, output_dir=tmp_path / "run", prompts_per_level=8, **TINY_RL)
    return main(["train", *flags(**options, max_completion_length=16, learning_rate=1e-4, save_steps=1), *extra])


def test_train_cli_logs_metrics_saves_and_resumes(tiny_model_dir, tmp_path, caplog):
    assert _train(tmp_path, tiny_model_dir, "--max_steps", "2") == 0
    run = tmp_path / "run"
    assert (run / "model.safetensors").is_file() and (run / "checkpoint-2").is_dir()
    rollout = [r for r in runs.read_jsonl(run / runs.METRICS) if "accuracy" in r]
    assert rollout and {"tokens/mean", "kl", "clip_ratio/region_mean", "alpha", "wall_seconds"} <= set(rollout[0])
    assert rollout[0]["tokens/mean"] == pytest.approx(rollout[0]["completions/mean_length"])
    assert "rewards/length_penalized/mean" in rollout[0]
    assert json.loads((run / runs.RUN_ARGS).read_text())["advantage_estimator"] == "rloo"

    assert _train(tmp_path, tiny_model_dir, "--max_steps", "3", "--resume_from_checkpoint", "true") == 0
    state = json.loads((run / "checkpoint-3" / runs.TRAINER_STATE).read_text())
    assert state["global_step"] == 3
    steps = [r["step"] for r in runs.read_jsonl(run / runs.METRICS)]
    assert 3 in steps and steps.count(1) == 1  # resumed: appended, not restarted

    # resuming from an earlier checkpoint drops the records logged after it, so no step appears twice
    assert (
        _train(tmp_path, tiny_model_dir, "--max_steps", "3", "--resume_from_checkpoint", str(run / "checkpoint-2"))
        == 0
    )
    losses = [r["step"] for r in runs.read_jsonl(run / runs.METRICS) if "loss" in r]
    assert losses == sorted(set(losses)) == [1, 2, 3]

    # a kill while transformers writes trainer_state.json (in place) tears it, and a crash can leave junk at the
    # end of metrics.jsonl: the resume takes the previous complete checkpoint, says which one it skipped, and goes on
    state = run / "checkpoint-3" / runs.TRAINER_STATE
    state.write_text(state.read_text()[:100])
    with open(run / runs.METRICS, "ab") as handle:
        handle.write(b"\x00" * 64 + b"\n" + b'{"step": 4, "lo')
    with caplog.at_level("WARNING"):
        assert _train(tmp_path, tiny_model_dir, "--max_steps", "4", "--resume_from_checkpoint", "true") == 0
    assert "skipping incomplete checkpoint(s)" in caplog.text and str(run / "checkpoint-3") in caplog.text
    losses = [r["step"] for r in runs.read_jsonl(run / runs.METRICS) if "loss" in r]
    assert losses == [1, 2, 3, 4] and json.loads(state.read_text())["global_step"] == 3  # redone from step 2


@dataclass
class CountingReward:
    """A stateful reward: how often each problem has been seen so far (as HAPO keeps a per-problem history)."""

    seen: dict = field(default_factory=dict)

    def __call__(self, rollout):
        for pid in set(rollout.problem_ids):
            self.seen[pid] = self.seen.get(pid, 0) + 1
        return [float(c) for c in rollout.correct]

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        self.seen = dict(state["seen"])


def test_a_stateful_reward_is_checkpointed_and_restored(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("thrifty.rewards.registry.REWARDS", dict(REWARDS))
    made = []
    register_reward("counting")(lambda: made.append(CountingReward()) or made[-1])
    assert _train(tmp_path, tiny_model_dir, "--max_steps", "4", "--reward", "counting") == 0
    run = tmp_path / "run"
    saved = [json.loads((run / f"checkpoint-{s}" / runs.REWARD_STATE).read_text())["seen"] for s in (2, 4)]
    assert sum(saved[0].values()) == 4 and sum(saved[1].values()) == 8  # 4 prompts per rollout, a rollout per 2 steps
    assert saved[1] == made[0].seen and "alpha" not in runs.read_jsonl(run / runs.METRICS)[0]

    resume = flags(max_steps=6, reward="counting", resume_from_checkpoint=run / "checkpoint-2")
    assert _train(tmp_path, tiny_model_dir, *resume) == 0
    assert sum(made[1].seen.values()) == 4 + 8  # restored at step 2, then two more rollouts
    resume = flags(max_steps=8, reward="counting", resume_from_checkpoint=True)  # the newest: checkpoint-6
    assert _train(tmp_path, tiny_model_dir, *resume) == 0 and sum(made[2].seen.values()) == 12 + 4
    (run / "checkpoint-8" / runs.REWARD_STATE).unlink()  # a checkpoint without the reward's state is refused
    assert _train(tmp_path, tiny_model_dir, *flags(max_steps=10, reward="counting", resume_from_checkpoint=True)) == 2


def test_train_cli_rejects_bad_method_arguments(tiny_model_dir, tmp_path, capsys):
    assert _train(tmp_path, tiny_model_dir, "--max_steps", "1", "--alpha", "1.5") == 2
    assert "--alpha must be in [0, 1), got 1.5" in capsys.readouterr().err
    assert _train(tmp_path, tiny_model_dir, "--max_steps", "1", "--advantage_estimator", "gae") == 2
    assert "--advantage_estimator: unknown advantage estimator 'gae'" in capsys.readouterr().err


def test_an_estimator_can_take_the_kl_out_of_the_loss_and_into_the_advantages(tiny_model_dir, tmp_path, monkeypatch):
    """The official code's KL-penalised reward-to-go, registered as a test estimator: the trainer hands it the
    sampling policy's and the reference model's log-probs (computing both itself: the update is on-policy and the
    loss has no KL term), and --beta as its coefficient."""
    monkeypatch.setattr("thrifty.advantages.ADVANTAGES", dict(ADVANTAGES))
    seen = []

    def kl_to_go(advantages, terms):
        seen.append(terms)
        kl = (terms.logps - terms.ref_logps) * terms.mask
        return (advantages.unsqueeze(1) - terms.beta * kl.flip(1).cumsum(1).flip(1)) * terms.mask

    register_advantage("kl_to_go", per_token=kl_to_go, kl_in_advantage=True)(rloo_advantages)
    # every reward is 0 (a random model never answers right); weight decay moves the policy off the reference
    options = flags(advantage_estimator="kl_to_go", beta=0.01, steps_per_generation=1, max_steps=4, weight_decay=0.1)
    assert _train(tmp_path, tiny_model_dir, *options, "--learning_rate", "1e-2") == 0
    assert len(seen) == 4 and all(t.beta == 0.01 and t.logps.shape == t.mask.shape == t.ref_logps.shape for t in seen)
    drift = [((t.logps - t.ref_logps).abs() * t.mask).max().item() for t in seen]
    assert drift[0] < 1e-6 < drift[-1]  # the policy starts as the reference, then moves away
    metrics = runs.read_jsonl(tmp_path / "run" / runs.METRICS)
    assert not any("kl" in r for r in metrics)  # no KL term in the loss
    losses = [r["loss"] for r in metrics if "loss" in r]
    assert losses[0] == 0.0 and losses[-1] != 0.0  # only the KL-to-go advantages move the loss
    assert _train(tmp_path, tiny_model_dir, *flags(advantage_estimator="kl_to_go", beta=0, max_steps=1)) == 2


def test_train_cli_runs_the_official_profile(tiny_model_dir, tmp_path):
    """--profile official end to end on the tiny model: every piece recorded in the run's arguments, no KL term in
    the loss, the KL-to-go and the length signal logged beside each other."""
    options = flags(profile="official", prompt_format="chat", beta=0.01, max_steps=2, max_prompt_length=8)
    assert _train(tmp_path, tiny_model_dir, *options) == 0
    args = json.loads((tmp_path / "run" / runs.RUN_ARGS).read_text())
    assert (args["profile"], args["kl_penalty"], args["whiten_advantages"], args["grade_truncated"]) == (
        "official",
        "reward",
        "tokens",
        True,
    )
    assert (args["length_measure"], args["max_prompt_length"]) == ("official", 8)
    config = json.loads((tmp_path / "run" / runs.TRAIN_CONFIG).read_text())
    assert config["warmup_steps"] == 6 and config["max_completion_length"] == 16  # the profile's; the test's cap
    metrics = runs.read_jsonl(tmp_path / "run" / runs.METRICS)
    logged = {k for r in metrics for k in r}
    assert {"kl_to_go/mean", "kl_to_go/abs_mean", "advantages/abs_mean"} <= logged and "kl" not in logged


def test_reward_parameters_and_rewards_from_outside_thrifty(tmp_path, monkeypatch):
    from thrifty.rl.run import build_reward

    monkeypatch.setattr("thrifty.rewards.registry.REWARDS", dict(REWARDS))
    (tmp_path / "my_rewards.py").write_text(
        "from thrifty.rewards import register_reward\n\n"
        "@register_reward('constant')\n"
        "def constant(value=1.0):\n"
        "    return lambda rollout: [value] * len(rollout)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ThriftyArguments(prompts="organism", reward="my_rewards:constant", reward_kwargs='{"value": 0.25}')
    assert args.reward_kwargs == {"value": 0.25}
    assert build_reward(args)(Rollout([0, 0], [True, False], [3, 4], [True, True])) == [0.25, 0.25]
    with pytest.raises(ValueError, match="--reward length_penalized: takes alpha, grade_truncated.*; not value"):
        build_reward(ThriftyArguments(prompts="organism", reward_kwargs={"value": 1}))
    with pytest.raises(ValueError, match="--reward_kwargs must be a JSON object"):
        ThriftyArguments(prompts="organism", reward_kwargs="value=1")
    with pytest.raises(ValueError, match="--reward: No module named 'nowhere'"):
        ThriftyArguments(prompts="organism", reward="nowhere:constant")


def test_old_flags_are_named_with_their_new_names(tiny_model_dir, tmp_path, capsys):
    assert _train(tmp_path, tiny_model_dir, "--advantage_normalization", "group") == 2
    assert (
        "--advantage_normalization is now --advantage_estimator (none -> rloo, group -> rloo-std"
        in capsys.readouterr().err
    )
