"""The DeepSeek-R1-Distill path with the paper's real tokenizer (../shared/tokenizers/deepseek-r1-distill-qwen, see
its PROVENANCE.md): the exact prompt ids of the paper's chat prompt and of the official raw one, EOS and
``</think>`` accounting on real token ids, what the chat template does to an assistant turn and what the SFT baseline
trains on instead, and -- slow -- ``thrifty tiny-model --tokenizer`` / ``eval`` / ``baseline`` / ``train`` end to end
on a tiny random Qwen2 that carries that tokenizer.

The expected ids are written from the tokenizer's pieces (the special tokens' ids, and the plain text encoded without
special tokens), never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from helpers import ParityVerifierPool, flags
from thrifty import runs
from thrifty.cli import main
from thrifty.data.prompts import OFFICIAL_PROMPT_TEMPLATE, PAPER_PROMPT_TEMPLATE, build_prompt, raw_prompt


REPO = Path(__file__).resolve().parents[1]
TOKENIZER_DIR = Path(
    os.environ.get("THRIFTY_DEEPSEEK_TOKENIZER", REPO.parent / "shared" / "tokenizers" / "deepseek-r1-distill-qwen")
)
TOKENIZER_SHA256 = "e20ddafc659ba90242154b55275402edeca0715e5dbb30f56815a4ce081f4893"
"""tokenizer.json's sha256 in shared/tokenizers/PROVENANCE.md: the tests run on that file and no other."""

BOS, EOS, USER, ASSISTANT, THINK, END_THINK = 151646, 151643, 151644, 151645, 151648, 151649
"""DeepSeek-R1-Distill-Qwen's special token ids (PROVENANCE.md, "Verification")."""

THINKING = "Okay, so Janet gets 16 eggs, eats 3 and bakes with 4: 16 - 3 - 4 = 9, and 9 x $2 = $18.\n"
ANSWER = "\n\nShe makes \\boxed{18} dollars every day."
RESPONSE = THINKING + "</think>" + ANSWER
"""A response as DeepSeek-R1 writes it after the prompt's ``<think>\\n``: thinking, ``</think>``, the answer."""


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    if not (TOKENIZER_DIR / "tokenizer.json").is_file():
        pytest.fail(f"DeepSeek-R1-Distill tokenizer not found in {TOKENIZER_DIR} (set THRIFTY_DEEPSEEK_TOKENIZER)")
    digest = hashlib.sha256((TOKENIZER_DIR / "tokenizer.json").read_bytes()).hexdigest()
    assert digest == TOKENIZER_SHA256, f"{TOKENIZER_DIR}/tokenizer.json is not the file PROVENANCE.md describes"
    return AutoTokenizer.from_pretrained(TOKENIZER_DIR)


@pytest.fixture(scope="module")
def question(benchmarks_dir) -> str:
    """GSM8K's first question (it has a typographic apostrophe: "Janet’s ducks")."""
    with open(benchmarks_dir / "gsm8k_test.jsonl", encoding="utf-8") as handle:
        return json.loads(handle.readline())["question"]


def plain(tokenizer, text: str) -> list[int]:
    """``text``'s ids without special tokens: the independent pieces the expected lists are built from."""
    return tokenizer.encode(text, add_special_tokens=False)


@pytest.fixture(scope="module")
def deepseek_model(tmp_path_factory, tokenizer) -> Path:
    """A tiny random Qwen2 with the DeepSeek tokenizer, built by the library function (the CLI's is tested slow)."""
    from thrifty.organism.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("deepseek-tiny")
    build_tiny_model(out, hidden_size=16, num_layers=1, num_heads=2, tokenizer=TOKENIZER_DIR)
    return out


# --------------------------------------------------------------------------------------------- the tokenizer
def test_the_special_tokens_are_deepseeks(tokenizer):
    assert len(tokenizer) == 151_665
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (BOS, EOS, EOS)
    names = ["<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]
    assert tokenizer.convert_tokens_to_ids(names) == [USER, ASSISTANT, THINK, END_THINK]
    assert tokenizer("hi")["input_ids"] == [BOS, *plain(tokenizer, "hi")]  # the tokenizer itself adds BOS


def test_the_papers_prompt_is_bos_user_text_assistant_think_newline(tokenizer, question):
    from thrifty.generation.backend import encode_prompts

    text = PAPER_PROMPT_TEMPLATE.format(question=question)
    prompt = build_prompt(question, tokenizer)
    assert prompt == "<｜begin▁of▁sentence｜><｜User｜>" + text + "<｜Assistant｜><think>\n"
    (ids,) = encode_prompts(tokenizer, [prompt])  # what thrifty eval (hf and vllm) feeds the model
    newline = plain(tokenizer, "\n")
    assert newline == [198]
    assert ids == [BOS, USER, *plain(tokenizer, text), ASSISTANT, THINK, *newline]
    assert ids.count(BOS) == 1 and tokenizer.decode(plain(tokenizer, text)) == text
    # TRL renders a conversational training prompt the same way: RL rollouts start from the same ids
    chat = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
    assert chat["input_ids"] == ids


def test_the_official_raw_prompt_has_bos_once_and_no_think(tokenizer, question):
    text = PAPER_PROMPT_TEMPLATE.format(question=question)
    prompt = raw_prompt(question, OFFICIAL_PROMPT_TEMPLATE, tokenizer)
    assert prompt == "<｜User｜>" + text + "<｜Assistant｜>"  # the template's written BOS left to the tokenizer
    ids = tokenizer(prompt)["input_ids"]  # as TRL tokenizes a string prompt
    assert ids == [BOS, USER, *plain(tokenizer, text), ASSISTANT]
    assert ids.count(BOS) == 1 and THINK not in ids
    # the official code tokenizes its template, BOS written in it, without special tokens: the same ids
    official = OFFICIAL_PROMPT_TEMPLATE.format(question=question)
    assert tokenizer(official, add_special_tokens=False)["input_ids"] == ids
    assert tokenizer(official)["input_ids"][:2] == [BOS, BOS]  # what dropping the written BOS avoids


def test_a_response_ending_in_eos_is_finished_and_counts_it_as_vllm_does(tokenizer):
    from transformers import GenerationConfig

    from thrifty.generation.backend import completion_from_ids, eos_token_ids

    eos_ids = eos_token_ids(tokenizer, GenerationConfig(bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS))
    assert eos_ids == [EOS]
    generated = [*plain(tokenizer, THINKING), END_THINK, *plain(tokenizer, ANSWER), EOS]
    padded = generated + [EOS, EOS]  # transformers pads a finished row of a batch with the pad id (= EOS)
    done = completion_from_ids(padded, eos_ids, tokenizer)
    # vLLM's len(output.token_ids) of a response stopped by EOS includes the EOS
    assert (done.text, done.tokens, done.finished) == (RESPONSE, len(generated), True)
    cut = completion_from_ids(generated[:-1], eos_ids, tokenizer)  # the limit came first
    assert (cut.text, cut.tokens, cut.finished) == (RESPONSE, len(generated) - 1, False)


def test_thinking_is_counted_up_to_and_including_end_of_thinking(tokenizer):
    from thrifty.lengths import end_of_thinking_id, official_length, thinking_split

    thinking, answer = plain(tokenizer, THINKING), plain(tokenizer, ANSWER)
    generated = [*thinking, END_THINK, *answer, EOS]
    assert end_of_thinking_id(tokenizer) == END_THINK
    assert thinking_split(generated, END_THINK) == (len(thinking) + 1, len(answer) + 1)
    assert thinking_split(thinking, END_THINK) == (len(thinking), 0)  # cut before </think>: all thinking
    # the official count: prompt and response re-tokenised, BOS once, no EOS (here canonical tokens: no change)
    prompt = [BOS, USER, *plain(tokenizer, "What is 9 x 2?"), ASSISTANT]
    assert official_length(tokenizer, prompt, generated) == len(prompt) + len(generated) - 1


# --------------------------------------------------------------------------------------------- the chat template
def test_the_chat_template_drops_the_thinking_of_an_assistant_turn(tokenizer, question):
    text = PAPER_PROMPT_TEMPLATE.format(question=question)
    conversation = [{"role": "user", "content": text}, {"role": "assistant", "content": RESPONSE}]
    rendered = tokenizer.apply_chat_template(conversation, tokenize=False)
    assert rendered == (
        "<｜begin▁of▁sentence｜><｜User｜>" + text + "<｜Assistant｜>" + ANSWER + "<｜end▁of▁sentence｜>"
    )
    assert THINKING not in rendered and "</think>" not in rendered and "<think>" not in rendered


def test_the_sft_baseline_trains_on_the_prompt_as_sampled_and_the_response_as_generated(
    tokenizer, question, deepseek_model, tmp_path
):
    """finetune.py's rows (prompt as the model saw it, response as it wrote it) through TRL's own tokenization:
    the thinking and ``</think>`` stay, BOS once, EOS at the end, the loss on the response and EOS only."""
    from datasets import Dataset
    from trl import SFTTrainer

    from thrifty.baselines.finetune import SFTBaselineConfig, trl_prompt
    from thrifty.baselines.selection import sft_rows
    from thrifty.generation.backend import encode_prompts

    sampled = build_prompt(question, tokenizer)
    records = [dict(id="p0", sample=0, tokens=40, correct=True, finished=True, response=RESPONSE)]
    rows = sft_rows({"p0": trl_prompt(sampled, tokenizer)}, records)
    config = SFTBaselineConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", max_steps=1)
    trainer = SFTTrainer(
        model=str(deepseek_model), args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
    )
    row = trainer.train_dataset[0]
    (prompt_ids,) = encode_prompts(tokenizer, [sampled])
    response_ids = [*plain(tokenizer, THINKING), END_THINK, *plain(tokenizer, ANSWER), EOS]
    assert row["input_ids"] == prompt_ids + response_ids
    assert row["labels"] == [-100] * len(prompt_ids) + response_ids  # the loss: response and EOS only
    assert row["input_ids"].count(BOS) == 1


# --------------------------------------------------------------------------------------------- the tiny model
def test_the_tiny_model_takes_the_tokenizers_ids_and_saves_it_beside_itself(deepseek_model, tokenizer, question):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    config = AutoConfig.from_pretrained(deepseek_model)
    assert config.vocab_size == 152_064 >= len(tokenizer) and config.tie_word_embeddings
    assert (config.bos_token_id, config.eos_token_id, config.pad_token_id) == (BOS, EOS, EOS)
    generation = GenerationConfig.from_pretrained(deepseek_model)
    assert (generation.bos_token_id, generation.eos_token_id, generation.pad_token_id) == (BOS, EOS, EOS)
    saved = AutoTokenizer.from_pretrained(deepseek_model)  # as every thrifty command loads it: from the model
    assert saved.chat_template == tokenizer.chat_template and saved.get_vocab() == tokenizer.get_vocab()
    for text in (build_prompt(question, tokenizer), RESPONSE, "  two spaces\tand a tab"):
        assert saved(text)["input_ids"] == tokenizer(text)["input_ids"]
        assert saved.decode(plain(tokenizer, text)) == text
    assert (config.hidden_size, config.num_hidden_layers) == (16, 1)  # tied: 152,064 x 16 embeddings, stored once


def test_the_tiny_models_vocabulary_must_hold_the_tokenizer(tmp_path):
    from thrifty.organism.tiny import build_tiny_model

    with pytest.raises(ValueError, match="vocab_size 151,000 is smaller than the tokenizer's 151,665 tokens"):
        build_tiny_model(tmp_path / "m", hidden_size=16, tokenizer=TOKENIZER_DIR, vocab_size=151_000)
    with pytest.raises(FileNotFoundError, match="--tokenizer ./no/such/tokenizer: no such folder"):
        build_tiny_model(tmp_path / "m", tokenizer="./no/such/tokenizer")
    assert not (tmp_path / "m").exists()


# --------------------------------------------------------------------------------------------- end to end (slow)
PROBLEMS = [
    {"question": "What is 3 + 4?", "answer": "7"},
    {"question": "Janet has 9 eggs and sells them for $2 each. How many dollars does she make?", "answer": "18"},
]
"""The training prompts of the end-to-end runs (a local jsonl, the paper's template applied to each question)."""

HIDDEN = 32
EOS_PROBABILITY = 0.15
"""The CLI-built model's EOS rate at temperature 1: about 9 in 10 of its 16-token responses end with EOS, at varied
lengths."""


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory) -> Path:
    """``thrifty tiny-model --tokenizer ...`` as a user runs it."""
    out = tmp_path_factory.mktemp("cli") / "deepseek-tiny"
    options = flags(tokenizer=TOKENIZER_DIR, out=out, hidden_size=HIDDEN, eos_probability=EOS_PROBABILITY)
    assert main(["tiny-model", *options]) == 0
    return out


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in PROBLEMS), encoding="utf-8")
    return path


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _changed(before: dict, after: dict) -> bool:
    import torch

    shared = before.keys() & after.keys()
    assert shared, "no weight names in common"
    return any(not torch.equal(before[k], after[k]) for k in shared)


def _logprob(model_dir: Path, prompt_ids: list[int], ids: list[int]) -> float:
    """log p(ids | prompt_ids) under the model saved in ``model_dir``."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + ids])).logits[0, len(prompt_ids) - 1 : -1]
    return torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(ids)[:, None]).sum().item()


@pytest.mark.slow
def test_cli_tiny_model_eval(cli_model, tokenizer, benchmarks_dir, tmp_path, capsys):
    from thrifty.organism.tiny import PADDED_VOCAB_SIZE

    config = json.loads((cli_model / "config.json").read_text())
    assert (config["vocab_size"], config["hidden_size"], config["eos_token_id"]) == (PADDED_VOCAB_SIZE, HIDDEN, EOS)
    assert json.loads((cli_model / "generation_config.json").read_text())["eos_token_id"] == EOS

    argv = flags(model=cli_model, benchmark="gsm8k", data_dir=benchmarks_dir, limit=2, samples=2, max_new_tokens=16)
    argv += flags(temperature=1.0, backend="hf", out=tmp_path / "eval", verify_workers=1)  # T=1: EOS at its rate
    assert main(["eval", *argv]) == 0
    folder = tmp_path / "eval" / "gsm8k"
    records = runs.read_jsonl(folder / runs.SAMPLES)
    assert len(records) == 4 and len({(r["id"], r["sample"]) for r in records}) == 4
    for r in records:
        assert r["prompt"] == build_prompt(r["question"], tokenizer)
        assert r["prompt"].count("<｜begin▁of▁sentence｜>") == 1 and r["prompt"].endswith("<｜Assistant｜><think>\n")
        assert 1 <= r["tokens"] <= 16 and (r["finished"] or r["tokens"] == 16)
        assert r["thinking_tokens"] + r["answer_tokens"] == r["tokens"]
    assert any(r["finished"] for r in records)  # the model ends responses with DeepSeek's EOS, 151643
    summary = json.loads((folder / runs.SUMMARY).read_text())
    assert summary["mean_tokens"] == pytest.approx(sum(r["tokens"] for r in records) / 4)
    assert summary["truncation_rate"] == pytest.approx(sum(not r["finished"] for r in records) / 4)


def _solved(record: dict, tokenizer) -> dict:
    """``record`` as if the model had solved its problem: a short thinking, ``</think>``, the gold answer boxed,
    EOS; its verdicts dropped, so the harness checks it again with the real verifier."""
    from thrifty.eval.harness import VERDICT_FIELDS

    response = f"Okay, let me work it out.\n</think>\n\nThe answer is \\boxed{{{record['gold']}}}."
    ids = [*plain(tokenizer, response), EOS]
    thinking = ids.index(END_THINK) + 1
    kept = {k: v for k, v in record.items() if k not in (*VERDICT_FIELDS, "verdicts")}
    lengths = dict(tokens=len(ids), thinking_tokens=thinking, answer_tokens=len(ids) - thinking)
    return {**kept, "response": response, "finished": True, **lengths}


@pytest.mark.slow
def test_cli_sft_baseline_trains_on_the_thinking(cli_model, prompts_file, tokenizer, tmp_path, capsys):
    out, samples = tmp_path / "sft", tmp_path / "samples"
    common = flags(model=cli_model, prompts=prompts_file, samples=2, max_new_tokens=16, output_dir=out)
    common += flags(samples_dir=samples, verify_workers=1)
    assert main(["baseline", "sample", *common]) == 0
    path = samples / runs.SAMPLED_SET / runs.SAMPLES
    records = runs.read_jsonl(path)
    assert len(records) == 4 and all(r["prompt"].endswith("<｜Assistant｜><think>\n") for r in records)
    # a random model solves nothing: sample 0 of each prompt is replaced by a correct response with its thinking
    records = [_solved(r, tokenizer) if r["sample"] == 0 else r for r in records]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    train = flags(max_steps=2, per_device_train_batch_size=2, learning_rate=1e-2, lr_scheduler_type="constant")
    train += flags(use_cpu=True, report_to="none", save_strategy="no", seed=0)
    assert main(["baseline", "sft", *common, *train]) == 0
    assert f"sft baseline saved to {out}" in capsys.readouterr().out
    rescored = {(r["id"], r["sample"]): r for r in runs.read_jsonl(path)}
    assert all(rescored[(r["id"], 0)]["correct"] for r in records)  # math-verify found the boxed gold answers
    info = json.loads((out / runs.BASELINE).read_text())
    assert (info["method"], info["rows"]) == ("sft", 2)
    assert _changed(_weights(cli_model), _weights(out))

    prompt = next(r for r in records if r["sample"] == 0)
    (prompt_ids,) = tokenizer([prompt["prompt"]], add_special_tokens=False)["input_ids"]
    thinking = [*plain(tokenizer, "Okay, let me work it out.\n"), END_THINK]
    assert _logprob(out, prompt_ids, thinking) > _logprob(cli_model, prompt_ids, thinking) + 1.0  # learned it


def _spy_prompt_ids(monkeypatch) -> list[list[list[int]]]:
    """The prompt ids of each rollout, as the trainer tokenized them for generation (after any truncation)."""
    from thrifty.rl.trainer import ThriftyTrainer

    calls = []
    original = ThriftyTrainer._tokenize_prompts

    def spy(self, prompts):
        tokenized = original(self, prompts)
        calls.append([list(ids) for ids in tokenized[0]])
        return tokenized

    monkeypatch.setattr(ThriftyTrainer, "_tokenize_prompts", spy)
    return calls


def _train(model: Path, prompts: Path, out: Path, *extra: str) -> int:
    """Two updates on one rollout: 2 prompts x 4 responses of at most 16 tokens."""
    options = dict(model_name_or_path=model, prompts=prompts, output_dir=out, max_steps=2, num_generations=4)
    options.update(per_device_train_batch_size=4, steps_per_generation=2, max_completion_length=16)
    options.update(learning_rate=1e-3, use_cpu=True, report_to="none", save_strategy="no", verify_workers=1, seed=0)
    return main(["train", *flags(**options), *extra])


def _check_trained(run: Path, base: Path, tokenizer) -> list[dict]:
    """The run saved a model that reloads, with the tokenizer, and whose weights moved; its rollout metrics."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert _changed(_weights(base), _weights(run))
    assert AutoModelForCausalLM.from_pretrained(run).config.eos_token_id == EOS
    assert AutoTokenizer.from_pretrained(run)(RESPONSE)["input_ids"] == tokenizer(RESPONSE)["input_ids"]
    rollout = [r for r in runs.read_jsonl(run / runs.METRICS) if "tokens/mean" in r]
    assert rollout and 1 <= rollout[0]["tokens/mean"] <= 16
    # thrifty's count of the generated tokens (EOS included) is TRL's
    assert rollout[0]["tokens/mean"] == pytest.approx(rollout[0]["completions/mean_length"])
    return rollout


@pytest.mark.slow
def test_cli_train_paper_profile_rolls_out_from_the_chat_template(
    cli_model, prompts_file, tokenizer, tmp_path, monkeypatch
):
    monkeypatch.setattr("thrifty.rl.run.VerifierPool", ParityVerifierPool)  # random text: stand-in verdicts
    seen = _spy_prompt_ids(monkeypatch)
    assert _train(cli_model, prompts_file, tmp_path / "run") == 0
    args = json.loads((tmp_path / "run" / runs.RUN_ARGS).read_text())
    assert (args["profile"], args["prompt_format"]) == ("paper", "chat")
    expected = {
        (BOS, USER, *plain(tokenizer, PAPER_PROMPT_TEMPLATE.format(question=p["question"])), ASSISTANT, THINK, 198)
        for p in PROBLEMS
    }
    assert len(seen[0]) == 8 and {tuple(ids) for ids in seen[0]} == expected
    assert all(tokenizer.decode(ids).endswith("<｜Assistant｜><think>\n") for ids in seen[0])
    _check_trained(tmp_path / "run", cli_model, tokenizer)


@pytest.mark.slow
def test_cli_train_official_profile_rolls_out_from_the_raw_official_prompt(
    cli_model, prompts_file, tokenizer, tmp_path, monkeypatch
):
    import pandas as pd

    monkeypatch.setattr("thrifty.rl.run.VerifierPool", ParityVerifierPool)
    seen = _spy_prompt_ids(monkeypatch)
    run = tmp_path / "run"
    assert _train(cli_model, prompts_file, run, "--profile", "official", "--log_completions", "true") == 0
    args = json.loads((run / runs.RUN_ARGS).read_text())
    assert (args["profile"], args["prompt_format"], args["max_prompt_length"]) == ("official", "raw", 512)
    texts = {p["question"]: PAPER_PROMPT_TEMPLATE.format(question=p["question"]) for p in PROBLEMS}
    expected = {(BOS, USER, *plain(tokenizer, text), ASSISTANT) for text in texts.values()}
    assert len(seen[0]) == 8 and {tuple(ids) for ids in seen[0]} == expected
    assert all(ids.count(BOS) == 1 and THINK not in ids for ids in seen[0])
    # what the user sees with --log_completions: the raw prompt text, the template's written BOS left to the tokenizer
    logged = pd.read_parquet(run / "completions" / "completions_00001.parquet")
    assert set(logged["prompt"]) == {raw_prompt(q, OFFICIAL_PROMPT_TEMPLATE, tokenizer) for q in texts}
    assert not any("<think>" in prompt for prompt in logged["prompt"])
    rollout = _check_trained(run, cli_model, tokenizer)
    # --length_measure official (the profile's): the re-tokenised prompt + response, so at least the prompt
    assert rollout[0]["tokens/measured_mean"] >= min(map(len, expected))
