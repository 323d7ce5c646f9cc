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
    with pytest.raises(FileNotFoundError, match="--model runs/tiny-modle: no such folder here .runs/ exists"):
        check_model_source("runs/tiny-modle")
    assert check_model_source("org/name") == "org/name"  # no local folder "org": a hub id
    # a folder ./org does not hide a hub model the local Hugging Face cache holds (e.g. downloaded before)
    from thrifty.generation import loading

    monkeypatch.setattr(loading, "_in_hub_cache", lambda model: model == "runs/cached-model")
    assert check_model_source("runs/cached-model") == "runs/cached-model"


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


class _Hub:
    """A stand-in for transformers' Hub client: records what ``upload_folder`` would upload, with the Hub's own
    pattern matching of the ignore patterns the trainer passed."""

    def __init__(self):
        self.uploads = []

    def __call__(self):  # transformers calls ``hf_api()`` for its client
        return self

    def upload_folder(self, repo_id, folder_path, ignore_patterns=None, run_as_future=False, **kwargs):
        from concurrent.futures import Future

        from huggingface_hub.utils import filter_repo_objects

        folder = Path(folder_path)
        files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
        kept = list(filter_repo_objects(files, ignore_patterns=ignore_patterns))
        self.uploads.append((repo_id, kept, (folder / "README.md").read_text() if "README.md" in kept else None))
        done = Future()
        done.set_result(None)
        return done if run_as_future else None


def _private_files(folder: Path) -> set[str]:
    """A held lock and unfinished writes in ``folder`` (as a run leaves them while it pushes)."""
    made = {runs.LOCK, f".README.md.x1{runs.TMP_SUFFIX}", f"eval/organism/.summary.json.x2{runs.TMP_SUFFIX}"}
    for name in made:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text('{"host": "lab-7", "command": "thrifty train"}')
    return made


def test_push_to_hub_publishes_thriftys_card(tiny_model_dir, tmp_path, monkeypatch):
    """TRL's push_to_hub writes its card (create_model_card) right before it uploads the folder: thrifty's goes up,
    the run's private files do not."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    from thrifty.baselines.finetune import BaselineArguments, SFTBaselineConfig, with_thrifty_card
    from thrifty.card import baseline_facts

    hub = _Hub()
    monkeypatch.setattr("transformers.trainer.hf_api", hub)
    args = BaselineArguments(model=str(tiny_model_dir), prompts="organism")
    config = SFTBaselineConfig(output_dir=str(tmp_path / "sft"), use_cpu=True, report_to="none", max_steps=1)
    rows = Dataset.from_list([{"prompt": "1+2=", "completion": "3"}])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = with_thrifty_card(SFTTrainer)(
        model=str(tiny_model_dir), args=config, train_dataset=rows, processing_class=tokenizer
    )
    trainer.card = baseline_facts("sft", args, config, 1)
    trainer.hub_model_id = "me/thrifty-sft"  # a repo already made: nothing else is asked of the Hub
    private = _private_files(tmp_path / "sft")
    trainer.push_to_hub()
    ((repo, files, card),) = hub.uploads
    assert repo == "me/thrifty-sft" and "the rejection-sampling SFT baseline of Arora & Zanette (2025)" in card
    assert "config.json" in files and not private & set(files), files
    import transformers.trainer

    assert transformers.trainer.hf_api is hub  # the client is the trainer's own again after the push


def _rl_trainer(model_dir: Path, out: Path, alpha: float, estimator: str):
    from transformers import AutoTokenizer

    from helpers import ParityVerifier, toy_problems
    from thrifty.rewards import make_reward
    from thrifty.rl import ThriftyTrainer, TrainConfig, build_dataset

    config = TrainConfig(
        output_dir=str(out), use_cpu=True, report_to="none", num_generations=4, per_device_train_batch_size=8,
        steps_per_generation=2, max_completion_length=8, max_steps=1, seed=3,
    )  # fmt: skip
    return ThriftyTrainer(
        model=str(model_dir),
        reward=make_reward("length_penalized", alpha=alpha),
        advantage_estimator=estimator,
        verifier=ParityVerifier(),
        args=config,
        train_dataset=build_dataset(toy_problems(8), "{question}"),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
    )


def test_the_rl_trainers_card_says_what_ran_and_its_pushes_keep_private_files(tiny_model_dir, tmp_path, monkeypatch):
    """ThriftyTrainer's own create_model_card (TRL calls it at checkpoints and before a push) writes thrifty's card
    from what the trainer knows; push_to_hub and a checkpoint push upload it without the lock or temporaries."""
    from thrifty.card import CARD, CARD_FACTS, read_facts

    out = tmp_path / "rl"
    trainer = _rl_trainer(tiny_model_dir, out, alpha=0.0, estimator="grpo")
    trainer.create_model_card(model_name="ignored", dataset_name="ignored", tags=["ignored"])
    card = (out / CARD).read_text()
    assert "# A model trained with RL on correctness alone (α = 0)" in card
    assert "with RL on correctness alone (α = 0) with GRPO's group-normalised advantages: every correct answer" in card
    assert "- reward: `length_penalized`, α = 0" in card and "- advantage estimator: `grpo` (" in card
    assert "length-penalised RLOO" not in card and "the shorter they are" not in card.split("## Method")[0]
    assert f"Fine-tuned from `{tiny_model_dir}` (a local model)" in card and "| samples per prompt | 4 |" in card
    assert "[None]" not in card and "DeepSeekMath" not in card
    facts = read_facts(out)
    assert (facts.reward, facts.alpha, facts.advantage_estimator) == ("length_penalized", 0, "grpo")
    assert facts.n_prompts == 8
    assert (out / CARD_FACTS).is_file()

    hub = _Hub()
    monkeypatch.setattr("transformers.trainer.hf_api", hub)
    trainer.hub_model_id, trainer.push_in_progress = "me/thrifty-rl", None  # as init_hf_repo leaves them
    private = _private_files(out)
    trainer.push_to_hub()
    checkpoint = out / "checkpoint-1"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text((out / "config.json").read_text())
    (checkpoint / f".reward_state.json.x3{runs.TMP_SUFFIX}").write_text("{}")
    trainer._push_from_checkpoint(str(checkpoint))
    assert len(hub.uploads) == 2
    for repo, files, uploaded_card in hub.uploads:
        assert repo == "me/thrifty-rl" and uploaded_card == (out / CARD).read_text()
        assert {"config.json", CARD, CARD_FACTS} <= set(files) and not private & set(files), files
        assert not any(name.endswith(runs.TMP_SUFFIX) for name in files), files


@pytest.mark.parametrize(
    ("reward", "alpha", "estimator", "headline", "title"),
    [
        ("length_penalized", 0.2, "rloo", "with length-penalised RLOO (Arora & Zanette, 2025): reinforcement "
         "learning that rewards correct answers more the shorter they are", "A model trained to reason efficiently"),
        ("length_penalized", 0.2, "grpo", "with length-penalised RL (Arora & Zanette, 2025) with GRPO's group-"
         "normalised advantages (the paper's ablation): reinforcement learning that rewards correct answers more",
         "A model trained to reason efficiently"),
        ("length_penalized", 0.0, "rloo", "with RL on correctness alone (α = 0) with leave-one-out (RLOO) "
         "advantages, not normalised: every correct answer earns the same reward, whatever its length",
         "A model trained with RL on correctness alone (α = 0)"),
        ("length_penalized", 0.4, "batch", "with length-penalised RL (Arora & Zanette, 2025) with leave-one-out "
         "advantages whitened over the rollout: ", "A model trained to reason efficiently"),
        ("shortest_wins", None, "grpo", "with RL on the `shortest_wins` reward with GRPO's group-normalised "
         "advantages. ",
         "A model trained with RL on the `shortest_wins` reward"),
    ],
)  # fmt: skip
def test_the_cards_headline_names_the_reward_alpha_and_estimator_that_ran(reward, alpha, estimator, headline, title):
    from thrifty.card import CardFacts, render_card

    facts = CardFacts("me/base", "rl", {}, "organism", reward=reward, alpha=alpha, advantage_estimator=estimator)
    card = render_card(facts)
    intro = card.split("## Method")[0]
    assert f"\n# {title}\n" in card and headline in intro, intro
    assert ("length-penalised RLOO" in intro) == (estimator == "rloo" and reward == "length_penalized" and alpha > 0)
    assert ("the paper's ablation" in intro) == (estimator == "grpo" and reward == "length_penalized" and alpha > 0)


def test_thrifty_eval_into_a_models_eval_folder_refreshes_its_card(tiny_model_dir, tmp_path, caplog):
    """The card tells the user to run ``thrifty eval --model <folder> --out <folder>/eval``: that shows the results."""
    import shutil

    from thrifty.card import CARD, CardFacts, write_card
    from thrifty.eval import EvalArguments, evaluate

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    write_card(model, CardFacts(str(tiny_model_dir), "rl", {}, "organism", reward="length_penalized", alpha=0.2))
    options = dict(model=str(model), benchmark="organism", limit=2, samples=1, max_new_tokens=4, verify_workers=1)
    evaluate(EvalArguments(**options, out=str(tmp_path / "elsewhere")))
    assert "Not evaluated yet" in (model / CARD).read_text()  # another folder's results are not this card's
    assert main(["eval", *flags(**options, out=model / "eval")]) == 0
    card = (model / CARD).read_text()
    assert "| organism | 2 | 1 |" in card and "Not evaluated yet" not in card

    (model / "eval" / "README.md").mkdir()  # a folder where a card is never written: no refresh, no error
    evaluate(EvalArguments(**options, out=str(model / "eval" / "README.md")))
    assert card == (model / CARD).read_text()


def test_a_card_that_cannot_be_refreshed_does_not_fail_the_evaluation(tmp_path, caplog):
    from thrifty.card import CARD, CARD_FACTS, refresh_card_of_eval

    (tmp_path / CARD_FACTS).write_text('{"base_model": "b", "method": "rl", "hyperparameters": {}, "prompts": "p"}')
    (tmp_path / CARD).mkdir()  # the card cannot be written
    with caplog.at_level("WARNING"):
        assert refresh_card_of_eval(tmp_path / "eval") is None
    assert any("could not refresh the model card" in r.getMessage() for r in caplog.records)
    assert refresh_card_of_eval(tmp_path / "results") is None and refresh_card_of_eval(tmp_path / "x" / "eval") is None


def test_the_lock_beside_a_card_records_no_token(tmp_path, monkeypatch):
    """The run folder's lock names the holder's command line; a token given on it is not written there."""
    argv = ["thrifty", "train", "--hub_token", "hf_secret1", "--push_to_hub", "true", "--HUB-TOKEN=hf_secret2",
            "--wandb_api_key=k3y", "--hub_token", "--output_dir", "runs/a"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with runs.folder_lock(tmp_path):
        holder = json.loads((tmp_path / runs.LOCK).read_text())
    assert holder["command"] == (
        "thrifty train --hub_token *** --push_to_hub true --HUB-TOKEN=*** --wandb_api_key=*** --hub_token "
        "--output_dir runs/a"
    )


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
    with pytest.raises(ValueError, match="give max_completion_length"):
        make_length_penalty_reward(alpha=0.2)


def _sigmoid_reward(z: float) -> float:
    """The paper's reward of a correct finished response ``z`` group standard deviations from the mean length."""
    return 1 - 0.2 / (1 + math.exp(-z))


def test_the_trl_reward_groups_by_position_so_adjacent_duplicate_rows_stay_two_groups():
    from thrifty.rewards import make_length_penalty_reward

    reward = make_length_penalty_reward(alpha=0.2, num_generations=2, max_completion_length=100, verify_workers=1)
    prompts = ["a", "a", "a", "a", "b", "b"]  # two dataset rows with the same text, adjacent (RepeatSampler)
    ids = [_ids(10), _ids(30), _ids(20), _ids(20), _ids(5), _ids(15)]
    answers = ["1"] * 6
    rewards = reward(prompts, ["\\boxed{1}"] * 6, completion_ids=ids, answer=answers)
    # by hand, groups {10, 30}, {20, 20}, {5, 15}: z = -1, 1; 0, 0; -1, 1 (population std 10, 0, 5)
    expected = [_sigmoid_reward(-1), _sigmoid_reward(1), 0.9, 0.9, _sigmoid_reward(-1), _sigmoid_reward(1)]
    assert rewards == pytest.approx(expected, abs=1e-6)
    separately = [
        reward(["a", "a"], ["\\boxed{1}"] * 2, completion_ids=ids[i : i + 2], answer=["1"] * 2) for i in (0, 2)
    ]
    assert rewards[:4] == pytest.approx(separately[0] + separately[1])
    # the documented fallback without num_generations groups by text: the two rows merge (mean 20, std sqrt(50))
    by_text = make_length_penalty_reward(alpha=0.2, max_completion_length=100, verify_workers=1)
    merged = by_text(prompts, ["\\boxed{1}"] * 6, completion_ids=ids, answer=answers)
    assert merged[0] == pytest.approx(_sigmoid_reward(-10 / math.sqrt(50)), abs=1e-6) != rewards[0]


class _Trainer:
    """What the reward sees of TRL's trainer: ``log_metric`` is its bound method, ``model.training`` its mode."""

    def __init__(self, training: bool):
        self.model = type("Model", (), {"training": training})()
        self.logged = {}

    def log_metric(self, name, value):
        self.logged[name] = value


def test_the_trl_reward_takes_evaluation_calls_with_num_generations_eval():
    from thrifty.rewards import IncompleteGroupError, make_length_penalty_reward

    reward = make_length_penalty_reward(
        alpha=0.2, num_generations=4, num_generations_eval=1, eos_token_id=EOS, verify_workers=1
    )
    prompts, completions = ["a", "b", "c"], ["\\boxed{1}", "\\boxed{2}", "\\boxed{1}"]
    ids = [_ids(10), _ids(20), _ids(30, finished=False)]
    evaluating = _Trainer(training=False)
    rewards = reward(prompts, completions, completion_ids=ids, answer=["1"] * 3, log_metric=evaluating.log_metric)
    assert rewards == pytest.approx([0.9, 0.0, 0.0])  # groups of one: a correct finished response is at its mean
    assert evaluating.logged == {"length_penalty/accuracy": pytest.approx(1 / 3)}
    assert reward(prompts, completions, completion_ids=ids, answer=["1"] * 3) == pytest.approx(rewards)  # mode unknown
    with pytest.raises(IncompleteGroupError, match="num_generations=4"):  # the same call while training
        reward(prompts, completions, completion_ids=ids, answer=["1"] * 3, log_metric=_Trainer(True).log_metric)

    # the mode decides G when both fit: 4 samples of one prompt are two groups of 2 in training, one of 4 in eval
    reward = make_length_penalty_reward(
        alpha=0.2, num_generations=2, num_generations_eval=4, eos_token_id=EOS, verify_workers=1
    )
    ids = [_ids(10), _ids(30), _ids(20), _ids(20)]
    call = {"completion_ids": ids, "answer": ["1"] * 4}
    training = reward(["a"] * 4, ["\\boxed{1}"] * 4, **call, log_metric=_Trainer(True).log_metric)
    evaluation = reward(["a"] * 4, ["\\boxed{1}"] * 4, **call, log_metric=_Trainer(False).log_metric)
    assert training == pytest.approx([_sigmoid_reward(-1), _sigmoid_reward(1), 0.9, 0.9], abs=1e-6)
    z = 10 / math.sqrt(50)  # one group of 4: mean 20, population std sqrt(50)
    assert evaluation == pytest.approx([_sigmoid_reward(-z), _sigmoid_reward(z), 0.9, 0.9], abs=1e-6)


def test_the_trl_reward_finishes_at_any_eos_id_and_zeroes_only_truncated_completions():
    from thrifty.rewards import make_length_penalty_reward

    second_eos = 3  # e.g. Qwen2.5-Instruct's 151643, in generation_config.eos_token_id beside the tokenizer's EOS
    prompts, completions, answers = ["a"] * 4, ["\\boxed{1}"] * 4, ["1"] * 4
    ids = [[7] * 7 + [second_eos], [7] * 9 + [EOS], [7] * 10, [7] * 4 + [second_eos]]  # the third: cut at 10
    by_limit = make_length_penalty_reward(alpha=0.2, max_completion_length=10, eos_token_id=EOS, verify_workers=1)
    by_ids = make_length_penalty_reward(alpha=0.2, eos_token_id=[EOS, second_eos], verify_workers=1)
    # by hand: the finished lengths are 8, 10, 5: mean 23/3, population std sqrt(114/27)
    mean, std = 23 / 3, math.sqrt(114 / 27)
    expected = [_sigmoid_reward((8 - mean) / std), _sigmoid_reward((10 - mean) / std), 0.0]
    expected.append(_sigmoid_reward((5 - mean) / std))
    for reward in (by_limit, by_ids):
        assert reward(prompts, completions, completion_ids=ids, answer=answers) == pytest.approx(expected, abs=1e-6)
    # the tokenizer's EOS alone misses the second: a finished completion would earn 0
    only_tokenizer_eos = make_length_penalty_reward(alpha=0.2, eos_token_id=EOS, verify_workers=1)
    assert only_tokenizer_eos(prompts, completions, completion_ids=ids, answer=answers)[0] == 0.0
    # at exactly the limit, the last id decides, as in TRL: a second EOS id there needs the full list
    at_limit = [[7] * 9 + [second_eos], [7] * 5 + [EOS]]
    both = make_length_penalty_reward(
        alpha=0.2, max_completion_length=10, eos_token_id=[EOS, second_eos], verify_workers=1
    )
    assert both(["a"] * 2, completions[:2], completion_ids=at_limit, answer=answers[:2])[0] > 0.8
    assert by_limit(["a"] * 2, completions[:2], completion_ids=at_limit, answer=answers[:2])[0] == 0.0


@pytest.mark.slow
def test_a_plain_trl_grpo_trainer_trains_and_evaluates_with_the_reward(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from thrifty.rewards import make_length_penalty_reward
    from thrifty.rewards.trl_reward import _training

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    seen = []
    dataset = Dataset.from_list([{"prompt": f"{i}+{i}=", "answer": str(2 * i)} for i in range(8)])
    config = GRPOConfig(
        output_dir=str(tmp_path / "grpo"), use_cpu=True, bf16=False, per_device_train_batch_size=8,
        per_device_eval_batch_size=8, num_generations=4, num_generations_eval=2, max_completion_length=8,
        max_steps=1, report_to="none", save_strategy="no",
    )  # fmt: skip
    reward = make_length_penalty_reward(  # the README's arguments
        alpha=0.2, num_generations=config.num_generations, num_generations_eval=config.num_generations_eval,
        max_completion_length=config.max_completion_length, eos_token_id=tokenizer.eos_token_id, verify_workers=1,
    )  # fmt: skip

    def length_penalty(prompts, completions, completion_ids=None, **kwargs):
        seen.append((len(prompts), _training(kwargs["log_metric"])))
        return reward(prompts, completions, completion_ids=completion_ids, **kwargs)

    trainer = GRPOTrainer(
        model=str(tiny_model_dir), reward_funcs=[length_penalty], args=config, train_dataset=dataset,
        eval_dataset=dataset.select(range(4)), processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    assert seen == [(8, True)] and trainer.state.global_step == 1
    assert any("rewards/length_penalty/mean" in entry for entry in trainer.state.log_history)
    metrics = trainer.evaluate()  # 4 prompts x num_generations_eval=2: groups of 2, not of 4
    assert seen[1:] == [(8, False)] and "eval_rewards/length_penalty/mean" in metrics
