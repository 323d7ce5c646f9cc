"""The peers' methods through thrifty's one trainer: rewards chosen by name (listed in --help, errors naming the
choices), a recipe per method, prompts that carry L1's budget, dynamic sampling, and every method trained on the
organism through `thrifty train --reward NAME`."""

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from helpers import TINY_RL, flags
from test_rl import IDS, _inputs, _scorer
from thrifty import runs
from thrifty.data import Problem
from thrifty.rewards import REWARDS, PromptedReward, Rollout, kept_groups, make_reward, register_reward
from thrifty.rl import ThriftyArguments, load_recipe
from thrifty.rl.run import build_dataset


REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "recipes" / "zoo"
METHODS = (
    "arora",
    "kimi",
    "l1-exact",
    "l1-max",
    "shorterbetter",
    "dapo-overlong",
    "thinkprune",
    "laser",
    "laser-d",
    "hapo",
    "alp",
    "dler",
)
"""The issue's twelve methods, by registered name (``arora`` is the paper's ``length_penalized``)."""


def test_every_method_is_registered_with_a_recipe_for_the_organism_and_for_deepseek():
    assert set(METHODS) <= set(REWARDS)
    recipes = {p.stem: p for p in (ZOO / "organism").glob("*.yaml")}
    assert set(METHODS) <= set(recipes)
    for folder in ("organism", "deepseek-r1-distill-qwen-1.5b"):
        for path in sorted((ZOO / folder).glob("*.yaml")):
            args, config, _ = load_recipe(str(path), "--use_cpu", "true")  # GPU recipes say bf16
            assert args.reward in REWARDS, path
            assert Path(config.output_dir).name == path.stem, path  # runs/zoo/<model>/<method>
            make_reward(args.reward, **args.reward_params())  # the recipe's parameters make the reward
    deepseek = {p.stem for p in (ZOO / "deepseek-r1-distill-qwen-1.5b").glob("*.yaml")}
    assert deepseek == set(recipes)


def test_train_help_lists_every_registered_reward(capsys):
    from thrifty.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines at hyphens
    names = text.split("foryourown):", 1)[1].split(".", 1)[0].split(",")  # the --reward help's list
    assert names == list(REWARDS) and set(METHODS) <= set(names)


def test_unknown_reward_and_bad_or_missing_parameters_are_one_line(tmp_path, monkeypatch, capsys):
    from thrifty.cli import main

    assert main(["train", "--prompts", "organism", "--reward", "kimmi", "--output_dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "unknown reward 'kimmi'; registered: " in error[0] and "shorterbetter" in error[0]

    with pytest.raises(ValueError, match="--alpha: the reward 'dapo-overlong' has no α; its parameters .*max_length"):
        ThriftyArguments(prompts="organism", reward="dapo-overlong", alpha=0.1)
    with pytest.raises(ValueError, match="--reward kimi: takes .*; not nope"):
        ThriftyArguments(prompts="organism", reward="kimi", reward_kwargs={"nope": 1})

    monkeypatch.setattr("thrifty.rewards.registry.REWARDS", dict(REWARDS))

    @dataclass(frozen=True)
    class Needs:
        target: int

        def __call__(self, rollout):
            return [0.0] * len(rollout)

    register_reward("needs")(Needs)
    with pytest.raises(
        ValueError, match=r"--reward needs: needs target \(give it in --reward_kwargs\); it takes target"
    ):
        ThriftyArguments(prompts="organism", reward="needs")
    assert ThriftyArguments(prompts="organism", reward="needs", reward_kwargs={"target": 3}).alpha is None


def test_an_alpha_belongs_to_one_reward():
    """--alpha is the only way in (never reward_kwargs), and a recipe's α is not carried to another --reward."""
    from thrifty.rl.config import check_recipe_alpha

    with pytest.raises(ValueError, match="--reward_kwargs alpha: set it with --alpha"):
        ThriftyArguments(prompts="organism", reward="l1-exact", reward_kwargs={"alpha": 0.1})
    recipe = str(REPO / "recipes" / "organism" / "alpha_0.2.yaml")
    with pytest.raises(ValueError, match="alpha 0.2 for its reward 'length_penalized', and --reward shorterbetter"):
        check_recipe_alpha(["--config", recipe, "--reward", "shorterbetter"])
    with pytest.raises(ValueError, match="sets alpha 0.2"):
        load_recipe(recipe, "--reward=dler")
    check_recipe_alpha(["--config", recipe, "--reward", "shorterbetter", "--alpha", "2"])  # its own α: fine
    assert load_recipe(recipe, "--reward", "arora")[0].alpha == 0.2  # the same reward by its other name
    assert load_recipe(recipe, "--reward", "shorterbetter", "--alpha", "2")[0].reward_params() == {"alpha": 2.0}


def test_dynamic_sampling_needs_a_loss_divided_by_its_tokens():
    from thrifty.rl import ThriftyTrainer, TrainConfig

    config = TrainConfig(output_dir="unused", use_cpu=True, loss_type="grpo")
    with pytest.raises(ValueError, match="--dynamic_sampling reward needs a loss normalised by the tokens"):
        ThriftyTrainer(model="x", reward=make_reward("dler"), verifier=None, dynamic_sampling="reward", args=config)


def test_alpha_defaults_to_the_reward_s_own():
    assert ThriftyArguments(prompts="organism").alpha == 0.2  # the paper's
    assert ThriftyArguments(prompts="organism", alpha=0.4).reward_params() == {"alpha": 0.4}
    l1 = ThriftyArguments(prompts="organism", reward="l1-exact")
    assert l1.alpha == make_reward("l1-exact").alpha and l1.alpha != 0.2  # L1's α, not the paper's


# --------------------------------------------------------------------------------------------- dynamic sampling
def test_kept_groups_are_those_whose_values_differ():
    assert kept_groups([1, 1, 0, 1, 0, 0], ["a", "a", "b", "b", "c", "c"]) == [False, False, True, True, False, False]
    assert kept_groups([0.5, 0.5, 0.5], [1, 2, 1]) == [False, False, False]  # a lone response has nothing to compare
    assert kept_groups([0.9, 0.8, 0.9], [1, 2, 1]) == [False, False, False]


class FixedReward:
    def __init__(self, rewards):
        self.rewards = rewards

    def __call__(self, rollout):
        return list(self.rewards)


def _output(n=8, width=31):
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in IDS[:n]])
    return {"advantages": torch.zeros(n), "completion_mask": mask, "num_items_in_batch": mask.sum()}


@pytest.mark.parametrize("mode", ["accuracy", "reward"])
def test_dynamic_sampling_leaves_uniform_groups_out_of_the_estimator_and_the_loss(mode):
    """Group p: all right (accuracy mode drops it; its rewards differ by length, so reward mode keeps it); group q:
    all wrong (both drop it). The kept group's advantages are the estimator's on it alone."""
    correct = [True] * 4 + [False] * 4
    rewards = [0.9, 0.8, 1.0, 0.7] + [0.0] * 4
    ids = [i if i[-1] == 7 else i[:-1] + [7] for i in IDS]  # all finished: group p is all right
    trainer = _scorer(correct, FixedReward(rewards), "reinforce++-baseline")
    trainer.dynamic_sampling = mode
    trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, ids)
    output = _output()
    advantages = trainer._advantages(output)
    if mode == "accuracy":
        assert advantages.tolist() == [0.0] * 8
        assert output["tool_mask"].sum() == 0 and output["num_items_in_batch"] == 0
        assert trainer.logged["dynamic_sampling/dropped"] == 1.0
    else:
        want = trainer.estimator.sequence(rewards[:4], [0] * 4)  # the batch std over the kept group only
        assert advantages[:4].tolist() == pytest.approx(want) and advantages[4:].tolist() == [0.0] * 4
        assert output["tool_mask"][:, 0].tolist() == [1] * 4 + [0] * 4
        assert output["num_items_in_batch"] == output["completion_mask"][:4].sum()
        assert trainer.logged["dynamic_sampling/dropped"] == 0.5


def test_without_dynamic_sampling_nothing_is_masked():
    trainer = _scorer([True, False] * 4, FixedReward([1.0, 0.0] * 4))
    trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    output = _output()
    trainer._advantages(output)
    assert "tool_mask" not in output and "dynamic_sampling/dropped" not in trainer.logged


# --------------------------------------------------------------------------------------------- L1's prompts
@dataclass(frozen=True)
class Budgeted:
    """A PromptedReward: a budget per training row, written into its prompt."""

    def __call__(self, rollout):
        return [float(t) for t in rollout.columns["target_length"]]

    def prompt_columns(self, rng: random.Random) -> dict:
        return {"target_length": rng.randint(10, 99)}

    def instruction(self, columns) -> str:
        return f" [think {columns['target_length']}]"


def test_a_prompted_reward_writes_each_row_s_budget_into_its_prompt_and_columns(monkeypatch):
    monkeypatch.setattr("thrifty.data.prompts._template_ignored_noted", False)  # logged once: restored after
    assert isinstance(Budgeted(), PromptedReward) and not isinstance(make_reward("arora"), PromptedReward)
    problems = [Problem("a", "1+2", "3"), Problem("b", "4+5", "9", messages=(("system", "S"), ("user", "4+5")))]
    data = build_dataset(problems, "Q: {question}", reward=Budgeted(), seed=3)
    budgets = data["target_length"]
    assert budgets == build_dataset(problems, "Q: {question}", reward=Budgeted(), seed=3)["target_length"]
    assert budgets != build_dataset(problems * 20, "Q: {question}", reward=Budgeted(), seed=4)["target_length"][:2]
    assert data[0]["prompt"] == [{"role": "user", "content": f"Q: 1+2 [think {budgets[0]}]"}]
    assert data[1]["prompt"][-1]["content"] == f"4+5 [think {budgets[1]}]" and data[1]["prompt"][0]["content"] == "S"
    with pytest.raises(ValueError, match="problem 'c' has no user message to append"):
        build_dataset([Problem("c", "x", "1", messages=(("system", "S"),))], "{question}", reward=Budgeted())
    raw = build_dataset(problems[:1], "<Q>{question}<A>", prompt_format="raw", reward=Budgeted(), seed=3)
    assert raw[0]["prompt"] == f"<Q>1+2 [think {budgets[0]}]<A>"
    assert "target_length" not in build_dataset(problems, "{question}")[0]


def test_l1_rewards_get_their_budget_into_prompts_and_back_from_the_rollout():
    reward = make_reward("l1-max")
    data = build_dataset([Problem(str(i), f"{i}+1", str(i + 1)) for i in range(50)], "{question}", reward=reward)
    budgets = data["target_length"]
    assert len(set(budgets)) > 10 and all(
        f"Think for maximum {b} tokens." in r["prompt"][0]["content"] for b, r in zip(budgets, data, strict=True)
    )
    rollout = Rollout([0, 0], [True, True], [10, 10**6], [True, True], columns={"target_length": budgets[:1] * 2})
    short, long = reward(rollout)
    assert short > long


def test_eval_writes_l1_s_budget_into_the_prompt_and_records_it(tiny_model_dir, tmp_path):
    from thrifty.eval.harness import EvalArguments, evaluate

    with pytest.raises(ValueError, match="give --prompt_budget N"):
        EvalArguments(model=str(tiny_model_dir), prompt_style="l1-exact")
    with pytest.raises(ValueError, match="add --prompt_style l1-exact or l1-max"):
        EvalArguments(model=str(tiny_model_dir), prompt_budget=50)
    with pytest.raises(ValueError, match="--prompt_style must be one of paper, chain-of-draft, concise, l1-exact"):
        EvalArguments(model=str(tiny_model_dir), prompt_style="short")
    out = tmp_path / "eval"
    args = EvalArguments(
        model=str(tiny_model_dir), benchmark="organism", limit=2, samples=1, max_new_tokens=4, out=str(out),
        prompt_style="l1-max", prompt_budget=40, verify_workers=1,
    )  # fmt: skip
    evaluate(args)
    folder = out / "organism"
    records = runs.read_jsonl(folder / "samples.jsonl")
    assert records and all("+" in r["question"] and "Think" not in r["question"] for r in records)
    assert all(r["question"] + " Think for maximum 40 tokens." in r["prompt"] for r in records)
    assert json.loads((folder / "config.json").read_text())["prompt_budget"] == 40
    assert json.loads((folder / "summary.json").read_text())["prompt_style"] == "l1-max"


# --------------------------------------------------------------------------------------------- every method
@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(p.stem for p in (ZOO / "organism").glob("*.yaml")))
def test_every_method_trains_on_the_organism_through_the_cli(method, tiny_model_dir, tmp_path):
    """Its organism recipe, at toy scale (2 steps, 16 responses per rollout, 16-token responses), through
    `thrifty train --config recipes/zoo/organism/<method>.yaml`."""
    from thrifty.cli import main

    recipe = ZOO / "organism" / f"{method}.yaml"
    toy = dict(TINY_RL, max_completion_length=16, max_steps=2, save_strategy="no", prompts_per_level=8)
    out = tmp_path / "run"
    argv = ["train", "--config", str(recipe), *flags(model_name_or_path=tiny_model_dir, output_dir=out, **toy)]
    assert main(argv) == 0
    args = json.loads((out / runs.RUN_ARGS).read_text())
    assert args["reward"] == load_recipe(str(recipe))[0].reward
    rollout = [r for r in runs.read_jsonl(out / runs.METRICS) if "accuracy" in r]
    assert rollout and f"rewards/{args['reward']}/mean" in rollout[0]
    assert (out / "model.safetensors").is_file()
    if args["dynamic_sampling"] != "none":  # dapo-overlong, dler: the groups left out are logged
        assert all("dynamic_sampling/dropped" in r for r in rollout)


def test_a_reward_s_moving_settings_are_logged_with_the_rollout():
    """Kimi's weight is 0 in its warm-up, ThinkPrune's limit follows its rounds, LASER-D's targets and HAPO's memory
    show as reward/<name>."""
    logged = []
    for step in (0, 5, 12):
        trainer = _scorer([True, False] * 4, make_reward("kimi", warmup_steps=10))
        trainer.state.global_step = step
        trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
        logged.append(trainer.logged["reward/weight"])
    assert logged == [0.0, 0.0, 1.0]
    thinkprune = make_reward("thinkprune", limits=[30, 20], steps_per_limit=4)
    rollout = Rollout([0, 0], [True, True], [10, 25], [True, True], step=5)
    assert thinkprune.metrics(rollout) == {"limit": 20} and thinkprune(rollout) == [1.0, 0.0]
    hapo = make_reward("hapo")
    trainer = _scorer([True] * 8, hapo)
    trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    assert trainer.logged["reward/problems_remembered"] == 2  # id-p and id-q
    laser = make_reward("laser-d", lower_bound=5, upper_bound=30, interval=5)
    trainer = _scorer([True] * 8, laser)
    trainer._calculate_rewards(_inputs(), ["p"] * 4 + ["q"] * 4, ["x"] * 8, IDS)
    assert {k for k in trainer.logged if k.startswith("reward/target/")} == {"reward/target/high"}


@pytest.mark.parametrize(
    ("style", "text"),
    [("chain-of-draft", " Think step by step, but only keep a minimum draft for each thinking step, with 5 words at "
      "most."), ("concise", " Be concise.")],
)  # fmt: skip
def test_eval_asks_for_brevity_in_the_prompt_style_named(style, text, tiny_model_dir, tmp_path):
    from thrifty.eval.harness import EvalArguments, evaluate

    with pytest.raises(ValueError, match="--prompt_budget is the budget of an L1 prompt"):
        EvalArguments(model=str(tiny_model_dir), prompt_style=style, prompt_budget=10)
    out = tmp_path / "eval"
    args = EvalArguments(
        model=str(tiny_model_dir), benchmark="organism", limit=2, samples=1, max_new_tokens=4, out=str(out),
        prompt_style=style, verify_workers=1,
    )  # fmt: skip
    evaluate(args)
    records = runs.read_jsonl(out / "organism" / "samples.jsonl")
    assert records and all(r["question"] + text in r["prompt"] for r in records)
    config = json.loads((out / "organism" / "config.json").read_text())
    assert (config["prompt_style"], config["prompt_budget"]) == (style, None)
