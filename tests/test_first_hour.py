"""A researcher's first hour: a model card on every trained model, errors with a next step, quiet logs, a start
line, sweep overrides, `thrifty --version`, the Python API, and the paper's reward as a drop-in TRL reward."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from helpers import TINY_RL, flags
from thrifty import runs
from thrifty.cli import main


REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------- version, help
def test_version_is_printed(capsys):
    from thrifty import __version__

    for flag in ("--version", "-V"):
        assert main([flag]) == 0
        assert capsys.readouterr().out.strip() == f"thrifty {__version__}"


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["train"], "--model_name_or_path"),
        (["eval"], "--model"),
        (["generate"], "--model"),
        (["baseline", "sft"], "--model"),
        (["sweep"], "--recipe"),
    ],
)
def test_help_says_required_not_an_empty_default(capsys, argv, flag):
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{flag} "))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  -"))
    entry = " ".join(" ".join(lines[start:end]).split())
    assert entry.endswith("(required)") and "(default" not in entry, entry


@pytest.mark.slow
def test_the_python_api_is_lazy():
    code = (
        "import sys, thrifty\n"
        "assert not {'torch', 'transformers', 'trl'} & set(sys.modules), 'import thrifty loaded the engines'\n"
        "from thrifty import EvalArguments, SweepArguments, evaluate, load_benchmark, load_recipe, summarize, train\n"
        "from thrifty import make_length_penalty_reward, write_card, write_report\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr
    import thrifty

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        thrifty.nothing  # noqa: B018


# --------------------------------------------------------------------------------------------- errors
def _one_line(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith(f"thrifty {argv[0]}: error: ")]
    return line


def test_a_missing_organism_base_names_the_command_that_builds_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    recipe = REPO / "recipes" / "organism" / "alpha_0.2.yaml"
    line = _one_line(capsys, ["train", "--config", str(recipe)])
    assert "--model_name_or_path runs/organism/base: no such file or folder" in line
    assert "thrifty organism --out runs/organism/base" in line


def test_a_mistyped_local_path_is_not_asked_of_the_hub(tmp_path, monkeypatch):
    from thrifty.generation.loading import check_model_source

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "tiny-model").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="--model runs/tiny-modle: no such file or folder .not a hub id"):
        check_model_source("runs/tiny-modle")
    assert check_model_source("org/name") == "org/name"  # no local folder "org": a hub id


def test_an_unfinished_or_weightless_model_folder_is_refused(tiny_model_dir, tmp_path):
    import shutil

    from thrifty.generation.loading import check_model_source

    half = shutil.copytree(tiny_model_dir, tmp_path / "half")
    runs.write_json(half / runs.RUN_STARTED, {"organism_base": {"seed": 0}})
    with pytest.raises(FileNotFoundError, match=f"unfinished run .*thrifty organism --out {half}"):
        check_model_source(str(half))
    runs.write_json(half / runs.RUN_DONE, {"organism_base": {"seed": 0}})
    assert check_model_source(str(half)) == str(half)
    (half / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="has a config.json but no weights"):
        check_model_source(str(half))


def test_a_killed_organism_build_is_refused_and_a_finished_one_loads(tmp_path, monkeypatch):
    from thrifty.generation.loading import check_model_source
    from thrifty.organism import base

    config = base.OrganismConfig(hidden_size=32, num_layers=1, num_heads=2, sft_steps=2, batch_size=4, warmup_steps=1)
    out = tmp_path / "base"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(base, "_sft_rows", killed)
        with pytest.raises(KeyboardInterrupt):
            base.build_base_model(out, config, progress=False)
    assert not (out / "model.safetensors").exists()  # the untrained weights never reach the folder
    with pytest.raises(FileNotFoundError, match=f"unfinished run .*build it again: thrifty organism --out {out}"):
        check_model_source(str(out), "--model_name_or_path")
    base.build_base_model(out, config, progress=False)
    assert check_model_source(str(out)) == str(out)

    cached = base.cached_base_model(config, cache_dir=str(tmp_path / "cache"))
    (cached / "model.safetensors").unlink()  # a finished cache entry that lost its weights is rebuilt, not used
    assert base.cached_base_model(config, cache_dir=str(tmp_path / "cache")) == cached
    assert check_model_source(str(cached)) == str(cached)


def _raise_runtime_error(argv):
    raise RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED when calling cublasGemmEx")


def test_an_unexpected_runtime_error_shows_its_last_frames(monkeypatch, capsys):
    monkeypatch.setattr("thrifty.cli._tiny_model", _raise_runtime_error)
    assert main(["tiny-model"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "_raise_runtime_error" in err
    assert "thrifty tiny-model: error: RuntimeError: CUBLAS_STATUS_EXECUTION_FAILED" in err
    assert "unexpected" in err and "THRIFTY_DEBUG=1" in err
    monkeypatch.setenv("THRIFTY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="CUBLAS"):
        main(["tiny-model"])


def test_out_of_memory_is_one_line_with_the_next_step(monkeypatch, capsys):
    import torch

    def oom(argv):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("thrifty.cli._tiny_model", oom)
    line = _one_line(capsys, ["tiny-model"])
    assert "the GPU ran out of memory (CUDA out of memory. Tried to allocate 2.00 GiB)" in line
    assert "--per_device_train_batch_size" in line and "--batch_size" in line and "--vllm_gpu_memory" in line


def test_thriftys_own_runtime_errors_stay_one_line():
    from thrifty.cli import is_unexpected
    from thrifty.rl.trainer import _scored_by_thrifty

    with pytest.raises(RuntimeError) as raised:
        _scored_by_thrifty("x")()
    assert not is_unexpected(raised.value)
    try:
        raise RuntimeError("from a dependency")
    except RuntimeError as error:
        assert is_unexpected(error)


# --------------------------------------------------------------------------------------------- warnings
def test_only_the_known_harmless_warnings_are_filtered(monkeypatch):
    from thrifty._warnings import KNOWN_HARMLESS, filter_known_warnings

    monkeypatch.setattr(sys, "warnoptions", [])
    monkeypatch.delenv("THRIFTY_SHOW_WARNINGS", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filter_known_warnings()
        for name in ("gradient_checkpointing_enable", "is_gradient_checkpointing", "gradient_checkpointing"):
            warnings.warn(f"`{name}` is deprecated and will be removed in v6. Use `x` instead.", FutureWarning)
        warnings.warn("`foo` is deprecated and will be removed in v6.", FutureWarning)
        warnings.warn("`gradient_checkpointing_enable` is deprecated and will be removed in v6.", UserWarning)
    assert [str(w.message) for w in caught] == [
        "`foo` is deprecated and will be removed in v6.",
        "`gradient_checkpointing_enable` is deprecated and will be removed in v6.",
    ]
    assert all(why for _, _, why in KNOWN_HARMLESS)


# --------------------------------------------------------------------------------------------- a trained folder
@pytest.mark.slow
def test_a_trained_folder_has_thriftys_model_card_a_start_line_and_no_warning_wall(
    tiny_model_dir, tmp_path, caplog, monkeypatch
):
    from thrifty.card import CARD, CITATION, refresh_card

    monkeypatch.setattr(sys, "warnoptions", [])
    run = tmp_path / "run"
    options = dict(model_name_or_path=tiny_model_dir, output_dir=run, prompts_per_level=8, **TINY_RL)
    argv = ["train", *flags(**options, max_completion_length=16, learning_rate=1e-4, save_steps=2, max_steps=2)]
    with warnings.catch_warnings(record=True) as caught, caplog.at_level("INFO"):
        warnings.simplefilter("always")
        assert main(argv) == 0
    walls = [w for w in caught if "gradient_checkpointing" in str(w.message)]
    assert not walls, f"{len(walls)} known-harmless warnings shown"
    starts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("thrifty train: ")]
    assert len(starts) == 1
    assert (
        "32 prompts (organism), reward length_penalized α=0.2, estimator rloo, 4 samples x 4 prompts = 16 "
        in starts[0]
    )
    assert starts[0].endswith(f"2 updates per rollout, 2 steps, lr 0.0001 -> {run}")

    card = (run / CARD).read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["library_name"] == "transformers" and {"thrifty", "reasoning", "length-penalty"} <= set(
        header["tags"]
    )
    assert "base_model" not in header and "datasets" not in header  # a local base, a registered benchmark
    for text in (
        f"Fine-tuned from `{tiny_model_dir}` (a local model)",
        "length-penalised RLOO (Arora & Zanette, 2025)",
        "- reward: `length_penalized`, α = 0.2",
        "- advantage estimator: `rloo`",
        "- prompts: `organism`: 32 prompts",
        "| learning rate | 0.0001 |",
        "| optimizer steps | 2 |",
        "| samples per prompt | 4 |",
        "| KL coefficient β | 0.001 |",
        "| clip ε | 0.2 |",
        "| rollout temperature | 1 |",
        "| max completion length (tokens) | 16 |",
        "| updates per rollout | 2 |",
        CITATION,
        "Not evaluated yet",
    ):
        assert text in card, text
    from thrifty import __version__

    assert f"by thrifty {__version__}" in card
    assert "[None]" not in card and "DeepSeekMath" not in card and "GRPO" not in card

    # evaluation results appear once there are some in <folder>/eval/<benchmark>/summary.json
    summary = {"n_problems": 5, "samples_per_problem": 2, "accuracy": 0.4, "accuracy_se": 0.1, "mean_tokens": 12.5}
    (run / "eval" / "organism").mkdir(parents=True)
    runs.write_json(run / "eval" / "organism" / runs.SUMMARY, {**summary, "temperature": 0.6, "max_new_tokens": 16})
    card = refresh_card(run).read_text()
    assert "| organism | 5 | 2 | 0.400 ± 0.100 | 12.5 | 0.6 | 16 |" in card and "Not evaluated yet" not in card


def test_a_hub_base_and_hub_data_go_into_the_hub_header(tmp_path):
    from types import SimpleNamespace

    from thrifty.card import render_card, rl_facts

    config = SimpleNamespace(
        learning_rate=5e-6, max_steps=200, num_generations=8, generation_batch_size=256, steps_per_generation=16,
        gradient_accumulation_steps=8, beta=1e-3, epsilon=0.2, temperature=1.0, max_completion_length=32768,
        loss_type="grpo", lr_scheduler_type="constant_with_warmup", seed=0,
    )  # fmt: skip
    facts = rl_facts(
        config, "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "length_penalized", {"alpha": 0.4}, "rloo",
        "AI-MO/NuminaMath-CoT", "train", 3200,
    )  # fmt: skip
    card = render_card(facts)
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["base_model"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    assert header["datasets"] == ["AI-MO/NuminaMath-CoT"] and "license" not in header
    assert "`AI-MO/NuminaMath-CoT` (split `train`): 3,200 prompts" in card and "α = 0.4" in card
    assert "| prompts per rollout | 32 |" in card and "| updates per rollout | 2 |" in card


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_a_baseline_folder_has_thriftys_model_card(tiny_model_dir, tmp_path, method):
    from thrifty.baselines.finetune import BaselineArguments, DPOBaselineConfig, SFTBaselineConfig, _fine_tune

    args = BaselineArguments(model=str(tiny_model_dir), prompts="organism", samples=4, temperature=1.0)
    config = (DPOBaselineConfig if method == "dpo" else SFTBaselineConfig)(
        output_dir=str(tmp_path / method), max_steps=1, per_device_train_batch_size=2, use_cpu=True,
        report_to="none", save_strategy="steps", save_steps=1,
    )  # fmt: skip
    row = (
        {"prompt": "1+2=", "completion": "3"}
        if method == "sft"
        else {"prompt": "1+2=", "chosen": "3", "rejected": "33"}
    )
    _fine_tune(method, args, config, [row, row])
    card = (tmp_path / method / "README.md").read_text()
    assert (
        f"Fine-tuned from `{tiny_model_dir}`" in card
        and f"{method.upper()} baseline of Arora & Zanette (2025)" in card
    )
    assert "| training rows | 2 |" in card and "| samples per prompt (sampled set) | 4 |" in card
    assert "arXiv:2502.04463" in card and "[None]" not in card and method in card.split("---")[1]


def test_push_to_hub_publishes_thriftys_card(tiny_model_dir, tmp_path, monkeypatch):
    """TRL's push_to_hub writes its card (create_model_card) right before it uploads the folder: thrifty's goes up."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    from thrifty.baselines.finetune import BaselineArguments, SFTBaselineConfig, with_thrifty_card
    from thrifty.card import baseline_facts

    uploaded = {}

    class Hub:
        def upload_folder(self, repo_id, folder_path, **kwargs):
            uploaded[repo_id] = (Path(folder_path) / "README.md").read_text()

    monkeypatch.setattr("transformers.trainer.hf_api", Hub)
    args = BaselineArguments(model=str(tiny_model_dir), prompts="organism")
    config = SFTBaselineConfig(output_dir=str(tmp_path / "sft"), use_cpu=True, report_to="none", max_steps=1)
    rows = Dataset.from_list([{"prompt": "1+2=", "completion": "3"}])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = with_thrifty_card(SFTTrainer)(
        model=str(tiny_model_dir), args=config, train_dataset=rows, processing_class=tokenizer
    )
    trainer.card = baseline_facts("sft", args, config, 1)
    trainer.hub_model_id = "me/thrifty-sft"  # a repo already made: nothing else is asked of the Hub
    trainer.push_to_hub()
    assert "the rejection-sampling SFT baseline of Arora & Zanette (2025)" in uploaded["me/thrifty-sft"]


# --------------------------------------------------------------------------------------------- sweep
def _sweep_recipe(path: Path, model_dir: Path) -> Path:
    recipe = dict(
        model_name_or_path=str(model_dir), output_dir="ignored", alpha=0.3, prompts="organism", prompts_per_level=8,
        use_cpu=True, per_device_train_batch_size=8, steps_per_generation=2, num_generations=4,
        max_completion_length=8, max_steps=2, save_steps=2, report_to="none", verify_workers=1, learning_rate=1e-4,
    )  # fmt: skip
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_sweep_splits_its_own_flags_from_training_overrides_and_checks_them(tiny_model_dir, tmp_path, capsys):
    from thrifty.sweep import split_overrides

    assert split_overrides(["--recipe", "r", "--max_steps", "5", "--skip_eval", "--bf16", "true"]) == (
        ["--recipe", "r", "--skip_eval"],
        ["--max_steps", "5", "--bf16", "true"],
    )
    recipe = _sweep_recipe(tmp_path / "r.yaml", tiny_model_dir)
    base = ["sweep", "--recipe", str(recipe), "--alphas", "0", "--out", str(tmp_path / "s")]
    line = _one_line(capsys, [*base, "--max_stepz", "5"])
    assert "training overrides --max_stepz 5 do not fit the recipe" in line and "max_stepz" in line
    assert "use --alphas for α" in _one_line(capsys, [*base, "--alpha", "0.3"])
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_sweep_overrides_retrain_and_evaluation_uses_the_recipes_length(tiny_model_dir, tmp_path):
    recipe = _sweep_recipe(tmp_path / "r.yaml", tiny_model_dir)
    argv = ["sweep", *flags(recipe=recipe, alphas="0.2", out=tmp_path / "s", limit=2, samples=1), "--max_steps", "1"]
    assert main(argv) == 0
    member = tmp_path / "s" / "alpha=0.2"
    assert max(r["step"] for r in runs.read_jsonl(member / runs.METRICS)) == 1  # --max_steps 1, not the recipe's 2
    assert json.loads((member / runs.RUN_DONE).read_text())["overrides"] == ["--max_steps", "1"]
    summary = json.loads((member / "eval" / "organism" / runs.SUMMARY).read_text())
    assert summary["max_new_tokens"] == 8  # the recipe's max_completion_length, not 32768
    assert "| organism | 2 | 1 |" in (member / "README.md").read_text()  # the card, refreshed with the results

    argv[argv.index("--max_steps") + 1] = "2"  # another override: retrained
    assert main(argv) == 0
    assert json.loads((member / runs.RUN_DONE).read_text())["overrides"] == ["--max_steps", "2"]


# --------------------------------------------------------------------------------------------- Python API
@pytest.mark.slow
def test_the_readme_python_example_runs(tiny_model_dir, tmp_path, monkeypatch):
    """The README's Python example, with toy settings in place of the organism base and its full run."""
    from thrifty import EvalArguments, evaluate, load_recipe, train

    monkeypatch.chdir(tmp_path)
    toy = flags(
        model_name_or_path=tiny_model_dir, max_steps=1, prompts_per_level=8, per_device_train_batch_size=8,
        num_generations=4, max_completion_length=8, report_to="none", save_strategy="no", verify_workers=1,
    )  # fmt: skip
    recipe = REPO / "recipes" / "organism" / "alpha_0.2.yaml"
    args, config, model_args = load_recipe(recipe, "--output_dir", "runs/api", *toy)
    out = train(args, config, model_args)
    summaries = evaluate(EvalArguments(model=str(out), benchmark="organism", limit=2, samples=1, max_new_tokens=4,
                                       verify_workers=1, out="runs/api/eval"))  # fmt: skip
    assert set(summaries) == {"organism"} and 0 <= summaries["organism"]["accuracy"] <= 1
    assert (out / "README.md").is_file()


# --------------------------------------------------------------------------------------------- the TRL reward
EOS = 2


def _ids(n: int, finished: bool = True) -> list[int]:
    return [7] * (n - 1) + [EOS if finished else 7]


def test_the_trl_reward_is_the_papers_equation_on_a_group_of_eight():
    from thrifty.rewards import make_length_penalty_reward

    reward = make_length_penalty_reward(alpha=0.2, num_generations=8, eos_token_id=EOS, verify_workers=1)
    correct = [True, False, True, True, True, False, True, False]
    lengths = [10, 50, 20, 30, 40, 8, 20, 40]
    finished = [True, True, True, True, False, True, True, True]  # the 5th is correct but cut at the limit
    completions = [[{"role": "assistant", "content": f"so \\boxed{{{5 if c else 6}}}"}] for c in correct]
    prompts = [[{"role": "user", "content": "2+3"}]] * 8
    rewards = reward(
        prompts,
        completions,
        completion_ids=[_ids(n, f) for n, f in zip(lengths, finished, strict=True)],
        answer=["5"] * 8,
    )
    # by hand: the correct finished lengths are 10, 20, 30, 20: mean 20, population std sqrt(50)
    std = math.sqrt(50)

    def by_hand(n):
        return 1 - 0.2 / (1 + math.exp(-(n - 20) / (std + 1e-7)))

    expected = [by_hand(10), 0.0, by_hand(20), by_hand(30), 0.0, 0.0, by_hand(20), 0.0]
    assert rewards == pytest.approx(expected)
    assert expected[0] == pytest.approx(0.96089, abs=1e-5) and expected[2] == pytest.approx(0.9)


def test_the_trl_reward_groups_by_prompt_and_refuses_incomplete_groups():
    from thrifty.rewards import IncompleteGroupError, make_length_penalty_reward

    reward = make_length_penalty_reward(alpha=0.2, num_generations=2, max_completion_length=30, verify_workers=1)
    prompts = ["a", "a", "b", "b"]
    completions = ["\\boxed{1}"] * 4
    ids = [_ids(10), _ids(20), _ids(5), _ids(30)]  # the last reached max_completion_length: truncated
    rewards = reward(prompts, completions, completion_ids=ids, answer=["1"] * 4)
    assert rewards == pytest.approx([1 - 0.2 / (1 + math.exp(1)), 1 - 0.2 / (1 + math.exp(-1)), 0.9, 0.0], abs=1e-6)
    with pytest.raises(IncompleteGroupError, match="1 incomplete group"):
        reward(prompts[:3], completions[:3], completion_ids=ids[:3], answer=["1"] * 3)
    with pytest.raises(ValueError, match="dataset column 'answer'.*columns: \\['solution'\\]"):
        reward(prompts, completions, completion_ids=ids, solution=["1"] * 4)
    with pytest.raises(ValueError, match="give eos_token_id"):
        make_length_penalty_reward(alpha=0.2)


@pytest.mark.slow
def test_a_plain_trl_grpo_trainer_trains_with_the_reward(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from thrifty.rewards import make_length_penalty_reward

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    seen = []
    reward = make_length_penalty_reward(
        alpha=0.2, num_generations=4, eos_token_id=tokenizer.eos_token_id, verify_workers=1
    )

    def length_penalty(prompts, completions, completion_ids=None, **kwargs):
        seen.append(len(prompts))
        return reward(prompts, completions, completion_ids=completion_ids, **kwargs)

    dataset = Dataset.from_list([{"prompt": f"{i}+{i}=", "answer": str(2 * i)} for i in range(8)])
    config = GRPOConfig(
        output_dir=str(tmp_path / "grpo"), use_cpu=True, bf16=False, per_device_train_batch_size=8,
        num_generations=4, max_completion_length=8, max_steps=1, report_to="none", save_strategy="no",
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=str(tiny_model_dir), reward_funcs=[length_penalty], args=config, train_dataset=dataset,
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    assert seen == [8] and trainer.state.global_step == 1
    assert any("rewards/length_penalty/mean" in entry for entry in trainer.state.log_history)
