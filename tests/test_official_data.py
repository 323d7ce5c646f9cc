"""The official runs' training data, offline: a local copy of ``daman1209arora/compression_dataset``'s schema read as
``--max_samples 3200`` reads it (the first rows, before any filtering), the order the official run's rollouts draw
its prompts in and how TRL's sampler reaches it, the recipes of both profiles, and what their model cards say.

The official run (Zanette-Labs/efficient-reasoning, run_rloo_*.sh) reads its prompts in three steps: the first
``--max_samples`` rows (openrlhf/utils/utils.py:95, and ppo_actor.py:292 again), then ``Dataset.shuffle(seed=42)``
(utils.py:123), then a DistributedSampler seeded with ``--seed 42`` (deepspeed.py:156-167) that shuffles with
``torch.randperm`` (distributed_sampler.py:110-112) and deals the indices out to the ranks (:129), each rank taking
``rollout_batch_size // world_size`` of them per rollout (ppo_actor.py:299-301).
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest
import torch
import yaml

from thrifty.args import PromptArguments
from thrifty.data import load_training_prompts, training_problems
from thrifty.data.training import shuffle_permutation


REPO = Path(__file__).resolve().parents[1]
ROLLOUT_PROMPTS, SAMPLES = 32, 8
"""--rollout_batch_size 32, --n_samples_per_prompt 8."""


def _rows(n: int) -> list[dict]:
    """``n`` NuminaMath-style rows: ``problem``, and a ``solution`` ending in ``\\boxed{}``, golds of three kinds."""
    rows = []
    for i in range(n):
        a, b = i + 2, i % 7 + 3
        gold = (str(a * b), f"\\frac{{{a}}}{{{b}}}", f"\\sqrt{{{a}}}")[i % 3]
        rows.append(
            {
                "problem": f"Problem {i}: combine {a} and {b} as the note says.",
                "solution": f"Working through the steps for {a} and {b}, we get $\\boxed{{{gold}}}$.",
            }
        )
    return rows


def _gold(row: dict) -> str:
    return row["solution"].split("\\boxed{", 1)[1].rsplit("}$", 1)[0]


def _save(rows: list[dict], folder: Path) -> tuple[Path, Path]:
    """The rows as the Hub dataset is stored: a ``save_to_disk`` DatasetDict with a train split, and a parquet file."""
    from datasets import Dataset, DatasetDict

    train = Dataset.from_list(rows)
    DatasetDict({"train": train}).save_to_disk(str(folder / "compression_dataset"))
    train.to_parquet(str(folder / "train.parquet"))
    return folder / "compression_dataset", folder / "train.parquet"


class EveryAnswerParses:
    """A stand-in for the verifier pool: every gold parses (the checks under test come before it)."""

    def parses(self, golds):
        return [True] * len(golds)


# --------------------------------------------------------------------------------------------- --max_rows
def test_the_first_32_rows_are_read_in_file_order_with_the_boxed_answer_as_gold(tmp_path):
    rows = _rows(40)
    folder, parquet = _save(rows, tmp_path)
    want = [(str(i), row["problem"], _gold(row)) for i, row in enumerate(rows[:32])]
    assert want[1][2] == "\\frac{3}{4}" and want[2][2] == "\\sqrt{4}"  # the golds are the boxes' contents
    for source in (str(folder), str(parquet)):
        assert [(p.id, p.question, p.gold) for p in training_problems(source, max_rows=32)] == want
    problems = PromptArguments(prompts=str(folder), max_rows=32).problems()
    assert [(p.id, p.question, p.gold) for p in problems] == want
    assert len(PromptArguments(prompts=str(folder)).problems()) == 40  # no --max_rows: every row


def test_unusable_rows_among_the_first_n_are_dropped_not_replaced(tmp_path, caplog):
    rows = _rows(12)
    rows[2] = {"problem": "Prove that the sum of two odd numbers is even.", "solution": "Write them as 2k+1 ..."}
    rows[5]["solution"] = "So it is $\\boxed{\\text{no such number}}$."
    path = tmp_path / "prompts.jsonl"
    lines = [json.dumps(row) for row in rows]
    lines.insert(7, "{not json")  # line 8: a row of the file, not readable
    path.write_text("\n".join(lines) + "\n")

    with caplog.at_level(logging.INFO, logger="thrifty.data"):
        problems, report = load_training_prompts(path, pool=EveryAnswerParses(), max_rows=8)
    # the first 8 rows are lines 1-8: rows 0-6 and the broken line; 3 of them unusable, none replaced by line 9
    assert [p.question for p in problems] == [rows[i]["problem"] for i in (0, 1, 3, 4, 6)]
    assert report.kept == 5 and report.dropped == 3 and report.rows == 8
    assert dict(report.counts) == {"no boxed answer": 1, "answer is prose": 1, "invalid JSON": 1}
    assert "read the first 8 rows (--max_rows 8): kept 5, dropped 3" in caplog.text

    # --max_prompts keeps its meaning: the first N usable prompts (of the --max_rows read)
    first, _ = load_training_prompts(path, pool=EveryAnswerParses(), max_rows=8, limit=3)
    assert first == problems[:3]
    # fewer rows than --max_rows: all of them, and the report says so
    _, report = load_training_prompts(path, pool=EveryAnswerParses(), max_rows=100)
    assert report.rows == 13 and str(report).startswith("read all 13 rows (--max_rows 100): kept 10, dropped 3")


@pytest.mark.parametrize("bad", [0, -3])
def test_max_rows_must_be_at_least_one(bad):
    with pytest.raises(ValueError, match=f"--max_rows must be a whole number >= 1 .*got {bad}"):
        PromptArguments(prompts="organism", max_rows=bad)
    with pytest.raises(ValueError, match="--max_rows must be a whole number >= 1"):
        training_problems("organism", max_rows=bad)
    with pytest.raises(ValueError, match="--prompts_shuffle_seed must be >= 0, got -1"):
        PromptArguments(prompts="organism", prompts_shuffle_seed=-1)


def test_the_shuffle_seed_orders_the_rows_read_as_datasets_shuffle_does(tmp_path):
    from datasets import load_from_disk

    rows = _rows(40)
    folder, _ = _save(rows, tmp_path)
    official = list(load_from_disk(str(folder))["train"].select(range(32)).shuffle(seed=42)["problem"])
    shuffled, _ = load_training_prompts(folder, pool=EveryAnswerParses(), max_rows=32, shuffle_seed=42)
    assert [p.question for p in shuffled] == official != [row["problem"] for row in rows[:32]]
    where = {row["problem"]: i for i, row in enumerate(rows)}
    assert [p.id for p in shuffled] == [str(where[q]) for q in official]  # ids stay the rows' own

    # an unusable row keeps its place: the others are in the same order, without it
    rows[where[official[3]]] = {"problem": official[3], "solution": "no box"}
    folder, _ = _save(rows, tmp_path / "with-a-bad-row")
    kept, _ = load_training_prompts(folder, pool=EveryAnswerParses(), max_rows=32, shuffle_seed=42)
    assert [p.question for p in kept] == [q for q in official if q != official[3]]
    organism = training_problems("organism", per_level=2, max_rows=6, shuffle_seed=42)
    plain = training_problems("organism", per_level=2, max_rows=6)
    assert organism == [plain[i] for i in shuffle_permutation(6, 42)]


# --------------------------------------------------------------------------------------------- rollout order
def _repeat_sampler():
    try:
        from trl.trainer.utils import RepeatSampler
    except ImportError:  # older TRL kept it beside the GRPO trainer
        from trl.trainer.grpo_trainer import RepeatSampler
    return RepeatSampler


def _trl_rollouts(n: int, seed: int = 42, steps_per_generation: int = 16) -> list[list[int]]:
    """The prompt indices of each rollout TRL's GRPO sampler draws from ``n`` prompts, in its order: 32 prompts of
    8 samples per rollout, each rollout's chunk repeated for its ``steps_per_generation`` steps (``num_iterations``
    1), as GRPOTrainer builds the sampler."""
    sampler = _repeat_sampler()(
        range(n), mini_repeat_count=SAMPLES, batch_size=ROLLOUT_PROMPTS, repeat_count=steps_per_generation, seed=seed
    )
    stream = list(sampler)
    per_rollout = ROLLOUT_PROMPTS * SAMPLES
    chunks = [stream[i : i + per_rollout] for i in range(0, len(stream), per_rollout)]
    rollouts = [chunk for chunk, _ in itertools.groupby(chunks)]  # a chunk's repeats are one rollout
    for chunk in rollouts:
        assert all(chunk[i : i + SAMPLES] == [chunk[i]] * SAMPLES for i in range(0, per_rollout, SAMPLES))
    return [chunk[::SAMPLES] for chunk in rollouts]


def _openrlhf_rollouts(n: int, world_size: int, seed: int = 42, epoch: int = 0) -> list[set[int]]:
    """The dataset indices of each rollout of the official run's first episode (set_epoch(0), ppo_trainer.py:216):
    one random permutation seeded ``seed + epoch``, cut to a multiple of the ranks (drop_last, deepspeed.py:151),
    dealt out to the ranks in turn, each rank taking the next ``32 // world_size`` of its share per rollout."""
    generator = torch.Generator()
    generator.manual_seed(seed + epoch)
    order = torch.randperm(n, generator=generator).tolist()
    order = order[: n - n % world_size]
    shares = [order[rank::world_size] for rank in range(world_size)]
    per_rank = ROLLOUT_PROMPTS // world_size
    return [
        {index for share in shares for index in share[k * per_rank : (k + 1) * per_rank]}
        for k in range(len(shares[0]) // per_rank)
    ]


def test_trls_sampler_draws_the_official_samplers_rollouts_over_the_same_list():
    n = 96  # 3 rollouts of 32 prompts: the first rollout is a real choice, not the whole set
    permutation = torch.randperm(n, generator=torch.Generator().manual_seed(42)).tolist()
    trl = _trl_rollouts(n)
    assert trl[0] == permutation[:32]  # TRL's first rollout: the first 32 of randperm with seed 42
    assert [sorted(r) for r in trl] == [sorted(permutation[k * 32 : (k + 1) * 32]) for k in range(3)]
    for world_size in (2, 4):  # 1.5B: 2 actor GPUs, 7B: 4; dealing to ranks does not change a rollout's prompts
        assert _openrlhf_rollouts(n, world_size) == [set(r) for r in trl]
    assert _trl_rollouts(n, seed=0)[0] != trl[0]  # the seed decides it: the recipes say 42


def test_the_official_first_rollout_is_reached_only_with_the_datasets_shuffle_and_every_row_usable(tmp_path):
    """OpenRLHF's list is not the file: blending_datasets shuffles the rows read (seed 42) before the sampler draws.
    Over the file order, TRL's first rollout is other prompts than the official run's; over the rows in that
    shuffled order (``--prompts_shuffle_seed 42``) it is the same prompts, rollout after rollout -- as long as every
    row read is usable: a dropped row shortens the list and the permutation drawn over it is another one."""
    rows = _rows(100)
    folder, _ = _save(rows, tmp_path)
    n = 96
    listed = [rows[i]["problem"] for i in shuffle_permutation(n, 42)]  # OpenRLHF's PromptDataset, in order
    official = [{listed[i] for i in rollout} for rollout in _openrlhf_rollouts(n, world_size=2)]

    def thrifty(**options) -> list[set[str]]:
        problems, _ = load_training_prompts(folder, pool=EveryAnswerParses(), max_rows=n, **options)
        return [{problems[i].question for i in rollout} for rollout in _trl_rollouts(len(problems))]

    file_order = thrifty()
    assert file_order[0] != official[0] and file_order != official  # the file's order: other prompts
    assert thrifty(shuffle_seed=42) == official  # every rollout of the episode: the official run's prompts

    rows[0]["solution"] = "no box here"  # one unusable row among the 96: 95 prompts, another permutation
    folder, _ = _save(rows, tmp_path / "one-dropped")
    problems, _ = load_training_prompts(folder, pool=EveryAnswerParses(), max_rows=n, shuffle_seed=42)
    assert len(problems) == 95
    first = {problems[i].question for i in _trl_rollouts(95)[0]}
    assert first != official[0]


# --------------------------------------------------------------------------------------------- recipes
def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _load(path: Path):
    from thrifty.rl.run import load_recipe

    return load_recipe(path, "--use_cpu", "true")  # bf16 on a machine without a GPU: TRL refuses unless told


ALPHAS = ("0", "0.05", "0.1", "0.2", "0.4")
SIZES = {"1.5b": (4, 5e-6), "7b": (8, 2e-6)}
"""Processes of the recipe's layout and run_rloo_*.sh's ACTOR_LEARNING_RATE."""


@pytest.mark.parametrize("size", list(SIZES))
def test_the_official_recipes_hold_run_rloo_values(size):
    processes, lr = SIZES[size]
    folder = REPO / "recipes" / f"deepseek-r1-distill-qwen-{size}"
    assert sorted(p.name for p in (folder / "official").glob("*.yaml")) == sorted(f"alpha_{a}.yaml" for a in ALPHAS)
    for alpha in ALPHAS:
        args, config, model_args = _load(folder / "official" / f"alpha_{alpha}.yaml")
        assert (args.alpha, args.profile, args.reward, args.advantage_estimator) == (
            float(alpha),
            "official",
            "length_penalized",
            "rloo",
        )
        assert (args.prompts, args.max_rows, args.prompts_shuffle_seed, args.max_prompts) == (
            "daman1209arora/compression_dataset",
            3200,
            42,
            None,
        )
        # the official update, from the profile
        assert (args.kl_penalty, args.whiten_advantages, args.grade_truncated) == ("reward", "tokens", True)
        assert (args.prompt_format, args.max_prompt_length, args.length_measure) == ("raw", 512, "official")
        assert model_args.model_name_or_path.lower() == f"deepseek-ai/deepseek-r1-distill-qwen-{size}"
        assert (config.learning_rate, config.beta, config.epsilon, config.seed) == (lr, 1e-3, 0.2, 42)
        assert (config.warmup_steps, config.max_steps, config.max_completion_length) == (6, 200, 32000)
        assert (config.adam_beta1, config.adam_beta2, config.adam_epsilon) == (0.9, 0.95, 1e-8)
        assert (config.weight_decay, config.max_grad_norm, config.num_iterations) == (0.0, 1.0, 1)
        assert (config.temperature, config.top_p, config.num_generations) == (1.0, 1.0, 8)
        assert str(getattr(config.lr_scheduler_type, "value", config.lr_scheduler_type)) == "constant_with_warmup"
        assert config.bf16 and config.gradient_checkpointing and config.use_vllm
        assert config.loss_type == "grpo" and config.scale_rewards == "none" and not config.mask_truncated_completions
        recipe = _yaml(folder / "official" / f"alpha_{alpha}.yaml")
        assert recipe["per_device_train_batch_size"] * processes * recipe["steps_per_generation"] == 256  # 32 x 8
        assert recipe["per_device_train_batch_size"] * processes * recipe["gradient_accumulation_steps"] == 128
        assert recipe["vllm_max_model_length"] == 512 + 32000


@pytest.mark.parametrize("size", list(SIZES))
def test_the_paper_recipes_train_on_the_official_data_with_the_papers_update(size):
    folder = REPO / "recipes" / f"deepseek-r1-distill-qwen-{size}"
    for alpha in ALPHAS:
        paper, official = _yaml(folder / f"alpha_{alpha}.yaml"), _yaml(folder / "official" / f"alpha_{alpha}.yaml")
        assert paper["profile"] == "paper" and paper["seed"] == 42
        data = ("prompts", "max_rows", "prompts_shuffle_seed", "alpha", "reward", "advantage_estimator")
        assert {key: paper[key] for key in data} == {key: official[key] for key in data}
        args, config, _ = _load(folder / f"alpha_{alpha}.yaml")
        assert (args.kl_penalty, args.whiten_advantages, args.grade_truncated, args.prompt_format) == (
            "loss",
            "none",
            False,
            "chat",
        )
        assert config.max_completion_length == 32768  # the paper's
    for baseline in ("sft", "dpo"):  # the baselines sample the RL runs' prompts
        recipe = _yaml(folder / f"{baseline}.yaml")
        assert (recipe["prompts"], recipe["max_rows"]) == ("daman1209arora/compression_dataset", 3200)


def test_the_organisms_official_recipe_changes_the_update_and_keeps_its_prompt_and_caps():
    from thrifty.organism import recipe
    from thrifty.rl.run import load_recipe

    plain, official = _yaml(recipe("alpha_0.2")), _yaml(recipe("official_alpha_0.2"))
    assert {k for k in official if official.get(k) != plain.get(k)} == {
        "profile",
        "prompt_format",
        "max_prompt_length",
        "output_dir",
    }
    args, config, _ = load_recipe(recipe("official_alpha_0.2"))
    assert (args.profile, args.kl_penalty, args.whiten_advantages, args.grade_truncated) == (
        "official",
        "reward",
        "tokens",
        True,
    )
    # left to the profile these would be the official 32,000 tokens, 6 warmup steps and raw DeepSeek-R1 prompt
    assert (config.max_completion_length, config.warmup_steps, args.prompt_format) == (256, 0, "chat")
    assert args.template() == "{question}" and args.max_prompt_length == 0


# --------------------------------------------------------------------------------------------- model cards
def _facts(**update):
    from types import SimpleNamespace

    from thrifty.card import rl_facts

    config = SimpleNamespace(
        learning_rate=5e-6, max_steps=200, num_generations=8, generation_batch_size=256, steps_per_generation=16,
        gradient_accumulation_steps=8, beta=1e-3, epsilon=0.2, temperature=1.0, max_completion_length=32000,
        loss_type="grpo", lr_scheduler_type="constant_with_warmup", seed=42, warmup_steps=6,
    )  # fmt: skip
    return rl_facts(
        config, "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "length_penalized", {"alpha": 0.2}, "rloo",
        "daman1209arora/compression_dataset", "train", 3200, **update,
    )  # fmt: skip


OFFICIAL = dict(
    profile="official", kl_penalty="reward", whiten_advantages="tokens", grade_truncated=True,
    length_measure="official", length_unit="response", prompt_format="raw", max_prompt_length=512,
)  # fmt: skip
PAPER = dict(
    profile="paper", kl_penalty="loss", whiten_advantages="none", grade_truncated=False,
    length_measure="tokens", length_unit="response", prompt_format="chat", max_prompt_length=0,
)  # fmt: skip


def test_an_official_runs_card_says_it_reproduces_the_official_update():
    from thrifty.card import render_card

    card = render_card(_facts(**OFFICIAL))
    intro, method = card.split("## Method")[0], card.split("## Method")[1].split("## Training data")[0]
    assert "length-penalised RLOO (Arora & Zanette, 2025) with the official code's update" in intro
    assert "- profile `official`: reproduces the update of the official code" in method
    assert "the per-token k1 estimate log π_old − log π_ref, summed from each token" in method
    assert "KL to the reference (β = 0.001)" in method
    assert "whitened over every response token of the rollout" in method and "graded too" in method
    assert "raw text, no chat template, cut to its first 512 tokens" in method and "| warmup steps | 6 |" in card

    overridden = render_card(_facts(**{**OFFICIAL, "whiten_advantages": "none"}))
    assert "reproduces" not in overridden and "profile `official`, with some of its settings overridden" in overridden
    assert "- advantages not whitened" in overridden

    paper = render_card(_facts(**PAPER))
    assert "- profile `paper`: the update the paper describes" in paper and "TRL's k3 estimate" in paper
    assert "a wrong or truncated one earns 0" in paper and "official code" not in paper.split("## Method")[1]


def test_the_token_whitened_ablations_card_names_it_and_old_cards_still_load(tmp_path):
    from dataclasses import asdict

    from thrifty import runs
    from thrifty.card import CardFacts, method_text, read_facts, render_card

    facts = _facts(**{**PAPER, "whiten_advantages": "tokens"})
    assert method_text(facts).startswith(
        "length-penalised RL (Arora & Zanette, 2025) with leave-one-out advantages whitened over every response "
        "token of the rollout: "
    )
    old = {k: v for k, v in asdict(facts).items() if k in ("base_model", "method", "hyperparameters", "prompts")}
    old.update(reward="length_penalized", alpha=0.2, advantage_estimator="batch")  # a card of an earlier thrifty
    runs.write_json(tmp_path / "thrifty_card.json", old)
    loaded = read_facts(tmp_path)
    assert isinstance(loaded, CardFacts) and loaded.profile is None
    card = render_card(loaded)
    assert "with leave-one-out advantages whitened over the rollout: " in card
    assert "profile" not in card and "KL to the reference" not in card
