"""`thrifty baseline`: one sampled set shared by SFT and DPO, TRL trains on what thrifty.baselines selects, and
the generation cutoff is run for real."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from helpers import flags
from thrifty import runs
from thrifty.baselines.finetune import (
    BaselineArguments,
    DPOBaselineConfig,
    SFTBaselineConfig,
    load_baseline_recipe,
    sample_training_set,
    train_baseline,
    trl_prompt,
)
from thrifty.cli import main
from thrifty.generation import SamplingParams, load_backend


REPO = Path(__file__).resolve().parents[1]


def _args(model, tmp_path, **overrides):
    values = dict(
        model=str(model),
        prompts="organism",
        prompts_per_level=2,
        samples=2,
        max_new_tokens=6,
        samples_dir=str(tmp_path / "samples"),
        sample_batch_size=16,
        verify_workers=1,
    )
    return BaselineArguments(**{**values, **overrides})


def _config(cls, out, **overrides):
    values = dict(
        output_dir=str(out),
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        lr_scheduler_type="constant",
        seed=0,
    )
    return cls(**{**values, **overrides})


def _rewrite_set(samples_dir: Path, fn) -> None:
    """Replace each record of the sampled set by fn(record): a sampled set 'drawn earlier' with known contents."""
    path = samples_dir / runs.SAMPLED_SET / runs.SAMPLES
    records = [fn(record) for record in runs.read_jsonl(path)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _scored(correct: bool) -> dict:
    """A record's verdict fields as the harness writes them: every verifier's under ``verdicts``, the last on top."""
    from thrifty.verify import VERIFIER_VERSION

    verdict = {"correct": correct, "extracted": "7" if correct else None, "version": VERIFIER_VERSION}
    return {"verdicts": {"math-verify": verdict}, "correct": correct, "verifier": "math-verify"}


def _short_and_long(record):
    """Sample 0: a short correct trace; sample 1: a longer correct one (every prompt gives an SFT row and a pair)."""
    text = "= 7" if record["sample"] == 0 else "check 3+4\nok\n= 7"
    return {
        **record,
        "response": text,
        "tokens": len(text),
        "finished": True,
        **_scored(True),
    }


def _logprob(model_dir, prompt: str, completion: str) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logits = model(ids).logits[0, len(p) - 1 : -1]
    return torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(c)[:, None]).sum().item()


def test_sampled_set_is_drawn_once_and_shared(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    from thrifty.data import build_prompt
    from thrifty.organism.task import train_problems

    args = _args(tiny_model_dir, tmp_path)
    prompts, records, summary = sample_training_set(args, str(tmp_path / "sft"))
    assert len(prompts) == 8 and len(records) == 16 and summary["n_problems"] == 8  # 2 per level, 2 samples each
    assert {r["id"] for r in records} == set(prompts) and all("correct" in r for r in records)
    pid = records[0]["id"]
    question = next(p.question for p in train_problems(2) if p.id == pid)
    assert prompts[pid] == build_prompt(question, AutoTokenizer.from_pretrained(tiny_model_dir), "{question}")

    path = tmp_path / "samples" / "train-prompts" / "samples.jsonl"
    before = path.stat().st_mtime_ns
    again = sample_training_set(args, str(tmp_path / "dpo"))  # DPO beside SFT: same set, nothing generated
    assert again[1] == records and path.stat().st_mtime_ns == before

    with pytest.raises(ValueError, match="different settings"):  # another temperature is another set, refused
        sample_training_set(_args(tiny_model_dir, tmp_path, temperature=0.5), str(tmp_path / "sft"))


def test_sft_and_dpo_train_on_the_selected_responses_and_are_reused(tmp_path, tiny_model_dir):
    args = _args(tiny_model_dir, tmp_path)
    prompts, _, _ = sample_training_set(args, str(tmp_path / "sft"))
    _rewrite_set(tmp_path / "samples", _short_and_long)
    prompt = next(iter(prompts.values()))
    short, long = "= 7", "check 3+4\nok\n= 7"

    def sft_config(lr=3e-3):
        return _config(SFTBaselineConfig, tmp_path / "sft", max_steps=40, learning_rate=lr)

    sft = train_baseline("sft", args, sft_config())
    info = json.loads((sft / "baseline.json").read_text())
    assert info["method"] == "sft" and info["rows"] == 8 and info["config"]["learning_rate"] == 3e-3
    greedy = load_backend("hf", str(sft)).generate([prompt], 1, SamplingParams(0.0, 1.0, 30), seeds=0)[0][0]
    assert (greedy.text, greedy.finished) == (short, True)  # it learned the shortest correct response, then EOS

    dpo = train_baseline("dpo", args, _config(DPOBaselineConfig, tmp_path / "dpo"))
    assert json.loads((dpo / "baseline.json").read_text())["rows"] == 8

    def margin(model):
        return _logprob(model, prompt, short) - _logprob(model, prompt, long)

    assert margin(dpo) > margin(tiny_model_dir) + 0.1  # prefers the shortest correct over the longest

    weights = sft / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    train_baseline("sft", args, sft_config())  # finished, same settings: reused
    assert weights.stat().st_mtime_ns == mtime
    train_baseline("sft", args, sft_config(lr=1e-3))
    assert weights.stat().st_mtime_ns != mtime  # another learning rate: retrained
    mtime = weights.stat().st_mtime_ns
    _rewrite_set(tmp_path / "samples", lambda r: {**r, "response": r["response"] + " "})
    train_baseline("sft", args, sft_config(lr=1e-3))
    assert weights.stat().st_mtime_ns != mtime  # same settings, other samples (e.g. a rebuilt base): retrained


def test_nothing_correct_is_a_clear_error(tmp_path, tiny_model_dir):
    args = _args(tiny_model_dir, tmp_path)
    sample_training_set(args, str(tmp_path / "sft"))
    _rewrite_set(tmp_path / "samples", lambda r: {**r, **_scored(False)})
    with pytest.raises(RuntimeError, match="nothing to sft on"):
        train_baseline("sft", args, _config(SFTBaselineConfig, tmp_path / "sft"))
    with pytest.raises(RuntimeError, match="nothing to dpo on"):
        train_baseline("dpo", args, _config(DPOBaselineConfig, tmp_path / "dpo"))


def test_multi_process_fine_tuning_reads_a_finished_sampled_set_only(tmp_path, tiny_model_dir, monkeypatch):
    args = _args(tiny_model_dir, tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="draw it first with one process"):
        sample_training_set(args, str(tmp_path / "sft"))
    monkeypatch.setenv("WORLD_SIZE", "1")
    drawn = sample_training_set(args, str(tmp_path / "sft"))
    monkeypatch.setenv("WORLD_SIZE", "2")  # every rank of `accelerate launch` now reads the same set
    assert sample_training_set(args, str(tmp_path / "dpo"))[:2] == drawn[:2]
    with pytest.raises(RuntimeError, match="scored with --verifier math-verify, not paper-compat"):
        sample_training_set(_args(tiny_model_dir, tmp_path, verifier="paper-compat"), str(tmp_path / "sft"))


def test_trl_prompt_drops_the_bos_a_bos_adding_tokenizer_would_repeat(tiny_model_dir):
    """TRL tokenizes plain-text rows with special tokens; the harness sampled without them."""
    from transformers import AutoTokenizer

    class BosTokenizer:  # DeepSeek-R1-Distill-like: the chat template writes BOS and tokenizing adds one too
        bos_token, bos_token_id = "<s>", 1

        def __call__(self, text):
            return {"input_ids": [1] + [ord(c) for c in text]}

    class NoBosTokenizer(BosTokenizer):
        def __call__(self, text):
            return {"input_ids": [ord(c) for c in text]}

    assert trl_prompt("<s>User: 1+1", BosTokenizer()) == "User: 1+1"
    assert trl_prompt("<s>User: 1+1", NoBosTokenizer()) == "<s>User: 1+1"  # nothing added: keep the template's
    tiny = AutoTokenizer.from_pretrained(tiny_model_dir)  # no BOS at all: unchanged
    assert trl_prompt("<|im_start|>user\n1+1", tiny) == "<|im_start|>user\n1+1"


def test_cli_sample_then_cutoff_for_real(tmp_path, tiny_model_dir, benchmarks_dir, capsys):
    # the DPO recipe (with DPO-only keys such as beta) serves `sample` too
    common = flags(config=REPO / "recipes" / "organism" / "dpo.yaml", model=tiny_model_dir, prompts_per_level=1)
    common += flags(samples=2, max_new_tokens=4, output_dir=tmp_path / "dpo", samples_dir=tmp_path / "samples")
    common += flags(verify_workers=1)
    assert main(["baseline", "sample", *common]) == 0
    assert "sampled set: 8 responses" in capsys.readouterr().out
    assert (tmp_path / "samples" / "train-prompts" / "summary.json").is_file()

    cutoff = flags(model=tiny_model_dir, benchmark="gsm8k", data_dir=benchmarks_dir, limit=2, samples=1)
    assert main(["baseline", "cutoff", *cutoff, *flags(limits="5,3", out=tmp_path / "b", verify_workers=1)]) == 0
    for limit in (3, 5):
        summary = json.loads((tmp_path / "b" / f"cutoff={limit}" / "eval" / "gsm8k" / "summary.json").read_text())
        assert summary["max_new_tokens"] == limit and 0 < summary["mean_tokens"] <= limit
        assert (
            json.loads((tmp_path / "b" / f"cutoff={limit}" / "baseline.json").read_text())["max_new_tokens"] == limit
        )


def test_cli_errors(tmp_path, tiny_model_dir, capsys):
    assert main(["baseline"]) == 2 and "say which baseline" in capsys.readouterr().err
    inside = flags(
        prompts="organism", model=tiny_model_dir, output_dir=tmp_path / "sft", samples_dir=tmp_path / "sft" / "samples"
    )
    assert main(["baseline", "sft", *inside]) == 2
    assert "must not be inside --output_dir" in capsys.readouterr().err
    assert main(["baseline", "cutoff", "--model", str(tiny_model_dir), "--limits", "0,5"]) == 2
    assert "--limits must be positive" in capsys.readouterr().err


def test_baseline_recipes_use_known_keys():
    import dataclasses

    for method, config in (("sft", SFTBaselineConfig), ("dpo", DPOBaselineConfig)):
        known = {f.name for cls in (BaselineArguments, config) for f in dataclasses.fields(cls)}
        paths = [
            REPO / "recipes" / "organism" / f"{method}.yaml",
            *(REPO / "recipes").glob(f"deepseek-r1-distill-qwen-*/{method}.yaml"),
        ]
        assert len(paths) == 3
        for path in paths:
            recipe = yaml.safe_load(path.read_text())
            assert set(recipe) <= known, (path, set(recipe) - known)
            assert recipe["samples"] == 8 and recipe["temperature"] == 1.0
        args, config = load_baseline_recipe(method, paths[0], "--learning_rate", "1e-4")
        assert (
            isinstance(config, (SFTBaselineConfig, DPOBaselineConfig)[method == "dpo"])
            and config.learning_rate == 1e-4
        )
        assert args.prompts == "organism" and args.max_new_tokens == 256  # RL's generation limit
        sizes = {p.parent.name: yaml.safe_load(p.read_text()) for p in paths[1:]}
        assert all(
            r["samples_dir"].endswith("baseline-samples") and r["max_new_tokens"] == 32768 for r in sizes.values()
        )
