"""The transformers backend: determinism, token counting, and that model-side sampling defaults do not leak in."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import DEEPSEEK_TOKENIZER, with_many_eos
from thrifty.generation import SamplingParams
from thrifty.generation.hf import HFBackend, resolve_model_path


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    return HFBackend(str(tiny_model_dir))


def test_same_seed_same_samples_and_counts_are_consistent(backend):
    params = SamplingParams(temperature=1.0, max_new_tokens=30)
    first = backend.generate(["abc", "a longer prompt"], 3, params, seeds=7)
    assert first == backend.generate(["abc", "a longer prompt"], 3, params, seeds=7)
    assert [len(c) for c in first] == [3, 3]
    for completion in (c for group in first for c in group):
        assert completion.finished or completion.tokens == 30
        # character tokenizer: one token per character, plus the EOS token when there is one (a random model
        # also emits special tokens such as <|pad|>, which count as tokens but are not text)
        assert len(completion.text) + completion.finished <= completion.tokens <= 30


@pytest.mark.parametrize(
    "field, value", [("repetition_penalty", 1.5), ("top_k", 3), ("min_p", 0.5), ("typical_p", 0.3)]
)
def test_model_generation_config_does_not_change_sampling(backend, field, value):
    params = SamplingParams(temperature=0.8, max_new_tokens=25)
    reference = backend.generate(["hello"], 4, params, seeds=1)
    setattr(backend.model.generation_config, field, value)
    try:
        assert backend.generate(["hello"], 4, params, seeds=1) == reference
    finally:
        setattr(backend.model.generation_config, field, None)


def test_greedy_is_deterministic_without_a_seed(backend):
    params = SamplingParams(temperature=0.0, max_new_tokens=12)
    assert backend.generate(["xyz"], 2, params, seeds=1) == backend.generate(["xyz"], 2, params, seeds=2)


def test_gguf_paths(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"")
    assert resolve_model_path(str(gguf)) == (str(tmp_path), "m.gguf")
    assert resolve_model_path("org/model", "m.gguf") == ("org/model", "m.gguf")
    with pytest.raises(ValueError, match="not both"):
        resolve_model_path(str(gguf), "other.gguf")
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        resolve_model_path(str(tmp_path / "missing.gguf"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -1}, "temperature must be a finite number >= 0"),
        ({"temperature": float("nan")}, "temperature must be a finite number >= 0"),  # not silently greedy
        ({"temperature": float("inf")}, "temperature must be a finite number >= 0"),
        ({"top_p": 0}, "top_p must be in"),
        ({"top_p": float("nan")}, "top_p must be in"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
    ],
)
def test_sampling_params_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingParams(**kwargs)


def test_saved_tiny_tokenizer_round_trips_through_auto_tokenizer(tiny_model_dir):
    """AutoTokenizer must load exactly the tokenizer that was saved: one token per character, whitespace kept."""
    from transformers import AutoTokenizer

    from thrifty.organism.tiny import build_char_tokenizer

    text = "<|im_start|>user\n12 + 34\n\n  x<|im_end|>\n"
    built, loaded = build_char_tokenizer(), AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = loaded(text, add_special_tokens=False)["input_ids"]
    assert ids == built(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) - len("<|im_start|>") - len("<|im_end|>") + 2
    assert loaded.decode(ids) == text
    assert loaded.eos_token == "<|im_end|>" and loaded.pad_token == "<|pad|>"


def test_cpu_attention_and_shared_prefill_sample_exactly_what_plain_generate_does(tiny_model_dir, monkeypatch):
    """On CPU the backend swaps in GQA-aware attention (no KV-head copies under a padding mask) and runs each
    prompt through the model once for its n samples; neither may change a single token. The tiny model has
    grouped KV heads (4 query heads, 2 KV heads) and prompts of different lengths, so rows are left-padded."""
    import thrifty.generation.hf as hf

    fast = HFBackend(str(tiny_model_dir))
    assert fast.model.config._attn_implementation == hf.CPU_ATTENTION
    assert fast.model.config.num_attention_heads > fast.model.config.num_key_value_heads

    monkeypatch.setattr(hf, "_use_cpu_attention", lambda model: None)
    plain = HFBackend(str(tiny_model_dir))
    monkeypatch.setattr(plain, "_shared_prefill", lambda ids, n: None)  # this instance only
    assert plain.model.config._attn_implementation == "sdpa"

    prompts = ["1+1", "a much longer prompt: 123 + 456 = ?", "xy"]
    cache = fast._shared_prefill(hf.encode_prompts(fast.tokenizer, prompts), 3)
    assert cache is not None and cache.get_seq_length() == max(len(p) for p in prompts) - 1  # one token per character
    for params in (
        SamplingParams(temperature=1.0, max_new_tokens=30),
        SamplingParams(temperature=0.0, max_new_tokens=30),
    ):
        assert fast.generate(prompts, 3, params, seeds=11) == plain.generate(prompts, 3, params, seeds=11)


def test_a_completion_keeps_its_ids_up_to_the_first_eos(tiny_model_dir, tmp_path):
    """What the thinking split is counted on: the response's ids, as many as its tokens, the EOS last when finished
    (the padding of a batch's shorter rows dropped), decoding to its text."""
    backend = HFBackend(str(with_many_eos(tiny_model_dir, tmp_path / "many-eos")))
    params = SamplingParams(temperature=1.0, max_new_tokens=20)
    completions = [c for group in backend.generate(["abc", "a longer prompt"], 6, params, 3) for c in group]
    assert {c.finished for c in completions} == {True, False}  # both kinds are checked
    for c in completions:
        assert len(c.ids) == c.tokens
        ends = [i for i, token in enumerate(c.ids) if token in backend.eos_ids]
        assert ends == ([c.tokens - 1] if c.finished else [])
        assert backend.tokenizer.decode(list(c.ids[: c.tokens - c.finished]), skip_special_tokens=True) == c.text


DEEPSEEK = DEEPSEEK_TOKENIZER


@pytest.mark.skipif(not DEEPSEEK.is_dir(), reason=f"the DeepSeek-R1-Distill tokenizer is not at {DEEPSEEK}")
def test_deepseek_thinking_and_answer_tokens_from_generated_ids():
    """DeepSeek-R1-Distill's generated ids, through the engines' shared ``completion_from_ids``: thinking up to and
    including ``</think>`` (151649), the answer and its EOS (151643, also the padding) after it."""
    from transformers import AutoTokenizer

    from thrifty.eval.harness import response_lengths
    from thrifty.generation import completion_from_ids
    from thrifty.lengths import end_of_thinking_id

    tokenizer = AutoTokenizer.from_pretrained(DEEPSEEK)
    thought = tokenizer("Let me think. 1+1=2.", add_special_tokens=False)["input_ids"]  # 11 tokens
    answer = tokenizer("\n\nThe answer is \\boxed{2}.", add_special_tokens=False)["input_ids"]  # 9 tokens
    end = end_of_thinking_id(tokenizer)
    assert (end, tokenizer.eos_token_id) == (151649, 151643)
    done = completion_from_ids([*thought, end, *answer, 151643, 151643], [151643], tokenizer)
    assert done.text == "Let me think. 1+1=2.</think>\n\nThe answer is \\boxed{2}."
    assert response_lengths([], done, end) == {"tokens": 22, "thinking_tokens": 12, "answer_tokens": 10}
    cut = completion_from_ids(thought, [151643], tokenizer)  # still thinking at the token limit
    assert response_lengths([], cut, end) == {"tokens": 11, "thinking_tokens": 11, "answer_tokens": 0}
