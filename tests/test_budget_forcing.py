"""Budget forcing (s1): the state machine by hand, then ``thrifty eval --thinking_budget/--min_thinking/
--answer_budget`` on a tiny model with the real DeepSeek-R1-Distill tokenizer and on the organism's character model
(hf backend; the vllm backend's agreement with it is tests/test_vllm.py's)."""

from __future__ import annotations

import json

import pytest

from test_deepseek import TOKENIZER_DIR, deepseek_model, tokenizer  # noqa: F401 -- fixtures
from thrifty import runs
from thrifty.generation.budget import BudgetForcing
from thrifty.lengths import thinking_split


END, EOS, CUE, WAIT = 9, 0, (7, 8), (5, 6)


def forcing(**settings) -> BudgetForcing:
    return BudgetForcing(end_id=END, eos_ids=frozenset({EOS}), cue=CUE, wait=WAIT, **settings)


def write(row, choices):
    """What the row writes when the model's successive choices are ``choices`` (asked only when no forced token is
    due), until it is done or they run out."""
    choices = iter(choices)
    while not row.done:
        if row.free() == 0:
            row.next(None)
        elif (token := next(choices, None)) is None:
            break
        else:
            row.next(token)
    return row.ids


# --------------------------------------------------------------------------------------------- the state machine
def test_the_end_of_thinking_is_forced_as_the_budgets_last_thinking_token_then_the_cue():
    row = forcing(thinking_budget=4).row()
    assert row.free() == 3
    ids = write(row, [1, 2, 3, 4, 4, 4, EOS])
    assert ids == [1, 2, 3, END, 7, 8, 4, 4, 4, EOS]
    assert row.forced == [3, 4, 5] and row.forced_end and row.done and not row.cut
    assert thinking_split(ids, END) == (4, 6)


def test_a_natural_end_within_the_budget_is_left_alone_and_the_answer_budget_cuts():
    row = forcing(thinking_budget=10, answer_budget=2).row()
    ids = write(row, [1, END, 3, 3, 3, 3])
    assert ids == [1, END, 3, 3] and row.forced == [] and not row.forced_end
    assert row.done and row.cut  # no EOS: unfinished, like a response cut at the generation limit


def test_the_answer_budget_counts_the_models_tokens_not_the_cue():
    row = forcing(thinking_budget=2, answer_budget=1).row()
    assert write(row, [1, 3, 3]) == [1, END, 7, 8, 3] and row.cut


def test_an_early_end_of_thinking_becomes_wait_until_the_minimum():
    row = forcing(min_thinking=4).row()
    ids = write(row, [END, END, 1, END, 2, 3])
    # END at 0 -> Wait (2 tokens), END at 2 -> Wait, 1, END at 5 >= 4 accepted
    assert ids == [5, 6, 5, 6, 1, END, 2, 3]
    assert row.waits == 2 and row.forced == [0, 1, 2, 3] and not row.forced_end
    assert thinking_split(ids, END)[0] >= 4


def test_a_wait_that_would_overrun_the_budget_is_not_written():
    long_wait = BudgetForcing(end_id=END, eos_ids=frozenset({EOS}), wait=(5, 6, 4), thinking_budget=5, min_thinking=4)
    row = long_wait.row()
    assert write(row, [1, 1, END, 2]) == [1, 1, END, 2] and row.waits == 0  # 2 + 3 Wait tokens > budget - 1
    row = forcing(thinking_budget=4, min_thinking=3).row()  # it fits exactly: the budget's end comes right after
    assert write(row, [1, END, 2]) == [1, 5, 6, END, 7, 8, 2] and row.waits == 1 and row.forced_end


def test_a_prompt_that_closed_the_thinking_leaves_only_the_answer_budget():
    row = forcing(thinking_budget=2, answer_budget=3, closed=True).row()
    assert write(row, [1, 2, 3, 4]) == [1, 2, 3] and row.forced == [] and row.cut
    spent = forcing(thinking_budget=3, spent=2).row()  # a response prefix already thought 2 tokens
    assert spent.free() == 0 and write(spent, [4]) == [END, 7, 8, 4]


def test_an_engine_feeding_chunks_writes_what_token_by_token_writes():
    for settings in ({"thinking_budget": 4}, {"min_thinking": 3, "answer_budget": 2}, {"thinking_budget": 6}):
        model = [END, 1, END, 2, 3, 4, 4, 4, 4, EOS]
        stepped = write(forcing(**settings).row(), model)
        chunked, choices = forcing(**settings).row(), iter(model)
        while not chunked.done:
            free, chunk = chunked.free(), []
            while free != 0 and (free is None or len(chunk) < free):  # as an engine: stop at a stop id or at free()
                chunk.append(next(choices))
                if chunk[-1] in chunked.stop_ids():
                    break
            chunked.feed(chunk)
        assert chunked.ids == stepped[: len(chunked.ids)] and len(chunked.ids) == len(stepped)


def test_an_engine_never_writes_forced_tokens_past_the_generation_limit():
    row = forcing(thinking_budget=3).row()
    row.feed([1, 2], limit=3)  # the end is due at 3 tokens: written; the cue would pass the limit
    assert row.ids == [1, 2, END] and row.forced_end and not row.done


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"thinking_budget": 0}, "--thinking_budget must be >= 1"),
        ({"answer_budget": 0}, "--answer_budget must be >= 1"),
        ({"thinking_budget": 3, "min_thinking": 3}, "--min_thinking 3 must be below --thinking_budget 3"),
        ({"min_thinking": -1}, "--min_thinking must be >= 1"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        forcing(**settings)


# --------------------------------------------------------------------------------------------- thrifty eval
def _eval(model, out, benchmark, data_dir=None, **extra):
    from thrifty.eval.harness import EvalArguments, evaluate

    settings = dict(limit=2, samples=4, max_new_tokens=24, temperature=1.0, verify_workers=1) | extra
    args = EvalArguments(model=str(model), benchmark=benchmark, data_dir=data_dir, out=str(out), **settings)
    summary = evaluate(args)[benchmark]
    folder = out / benchmark
    return runs.read_jsonl(folder / runs.SAMPLES), json.loads((folder / "config.json").read_text()), summary


@pytest.fixture(scope="module")
def thinker(tmp_path_factory, tokenizer) -> str:  # noqa: F811
    """A tiny random Qwen2 with the DeepSeek tokenizer that writes ``</think>`` at about one step in five."""
    from thrifty.organism.tiny import bias_towards_eos, build_tiny_model

    out = tmp_path_factory.mktemp("deepseek-thinker")
    model, _ = build_tiny_model(out, hidden_size=32, num_layers=1, num_heads=2, tokenizer=TOKENIZER_DIR)
    bias_towards_eos(model, tokenizer.convert_tokens_to_ids("</think>"), 0.2)
    model.save_pretrained(out)
    return str(out)


def test_deepseek_thinking_is_forced_to_end_at_the_budget_and_waits_until_the_minimum(
    thinker,
    benchmarks_dir,
    tokenizer,  # noqa: F811
    tmp_path,
):
    budget, minimum, answer = 8, 4, 5
    records, config, summary = _eval(
        thinker, tmp_path / "eval", "gsm8k", str(benchmarks_dir), thinking_budget=budget, min_thinking=minimum,
        answer_budget=answer,
    )  # fmt: skip
    assert (config["thinking_budget"], config["min_thinking"], config["answer_budget"]) == (budget, minimum, answer)
    cue = len(tokenizer.encode("\n\nFinal Answer:", add_special_tokens=False))
    wait = len(tokenizer.encode("Wait", add_special_tokens=False))
    assert any(r["forced_end"] for r in records) and any(r["waits"] for r in records)
    for r in records:
        assert r["thinking_tokens"] + r["answer_tokens"] == r["tokens"]  # forced tokens are billed tokens
        assert r["thinking_tokens"] <= budget
        if r["forced_end"]:  # the delimiter written as the budget's last thinking token, then s1's cue
            assert r["thinking_tokens"] == budget and "Final Answer:" in r["response"]
        assert r["forced_tokens"] == wait * r["waits"] + (1 + cue if r["forced_end"] else 0)
        if r["answer_tokens"]:  # the thinking ended: never before the minimum (the delimiter counted, as the budget)
            assert r["thinking_tokens"] >= minimum
        assert r["answer_tokens"] - (cue if r["forced_end"] else 0) <= answer
        assert r["response"].count("Wait") >= r["waits"]
    assert summary["forced_end_rate"] == pytest.approx(sum(r["forced_end"] for r in records) / len(records))
    assert summary["mean_forced_tokens"] == pytest.approx(sum(r["forced_tokens"] for r in records) / len(records))


def test_the_answer_is_generated_after_the_forced_text_as_if_it_were_the_prompts(deepseek_model, tokenizer):  # noqa: F811
    import torch

    from thrifty.data import build_prompt
    from thrifty.generation import SamplingParams
    from thrifty.generation.hf import HFBackend

    backend = HFBackend(str(deepseek_model))
    prompt = build_prompt("What is 1+1?", backend.tokenizer)
    end = tokenizer.convert_tokens_to_ids("</think>")
    cue = tuple(tokenizer.encode("\n\nFinal Answer:", add_special_tokens=False))
    setting = BudgetForcing(end_id=end, eos_ids=frozenset(backend.eos_ids), thinking_budget=6, cue=cue)
    [[forced]] = backend.generate([prompt], 1, SamplingParams(temperature=0, max_new_tokens=16), 0, forcing=setting)
    [[plain]] = backend.generate([prompt], 1, SamplingParams(temperature=0, max_new_tokens=16), 0)
    assert forced.forced_end and forced.forced == tuple(range(5, 6 + len(cue)))
    assert forced.ids[:5] == plain.ids[:5] and forced.ids[5] == end and forced.ids[6 : 6 + len(cue)] == cue
    written = 6 + len(cue)  # the thinking, the forced </think> and the cue: given to the model as a prompt
    seen = tokenizer.encode(prompt, add_special_tokens=False) + list(forced.ids[:written])
    with torch.inference_mode():
        again = backend.model.generate(
            torch.tensor([seen]), do_sample=False, max_new_tokens=16 - written, eos_token_id=backend.eos_ids,
            pad_token_id=backend.pad_id, top_k=None, top_p=None, temperature=None,
        )[0, len(seen) :].tolist()  # fmt: skip
    assert forced.ids[written:] == tuple(again)


def test_the_organism_is_forced_to_its_answer_marker(tiny_model_dir, tmp_path):
    records, config, _ = _eval(tiny_model_dir, tmp_path / "eval", "organism", thinking_budget=4, answer_budget=3)
    assert config["thinking_budget"] == 4 and "answer_cue" not in config
    assert sum(r["forced_end"] for r in records) >= len(records) // 2  # a random model seldom writes '>' itself
    for r in records:
        if r["forced_end"]:  # 3 of the model's tokens, '>' written for it (nothing after it: its answer comes next)
            assert r["response"][3] == ">" and r["forced_tokens"] == 1 and r["tokens"] <= 4 + 3
            assert r["thinking_tokens"] == 4  # counted on the end it budgets, though the tokenizer has no </think>
        else:  # it wrote '>' within its budget, or ended before
            assert (">" in r["response"][:4] or r["finished"]) and r["forced_tokens"] == 0


def test_the_forcer_leaves_sampling_alone_until_it_steps_in(tiny_model_dir):
    from thrifty.generation import SamplingParams
    from thrifty.generation.hf import HFBackend

    backend = HFBackend(str(tiny_model_dir))
    end = backend.tokenizer.convert_tokens_to_ids(">")
    setting = BudgetForcing(end_id=end, eos_ids=frozenset(backend.eos_ids), thinking_budget=12, answer_budget=6)
    params = SamplingParams(temperature=1.0, max_new_tokens=24)
    forced = [c for group in backend.generate(["7+1", "12+30"], 4, params, 3, forcing=setting) for c in group]
    plain = [c for group in backend.generate(["7+1", "12+30"], 4, params, 3) for c in group]
    assert any(c.forced_end for c in forced)
    for f, p in zip(forced, plain, strict=True):  # the same random stream per row: equal until the first forcing
        first = f.forced[0] if f.forced else len(f.ids)
        assert f.ids[:first] == p.ids[:first]
        assert first == len(f.ids) or first == 11  # the only step-in here: the end, as the 12th thinking token


def test_a_response_prefix_that_ends_the_thinking_leaves_nothing_to_budget(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="--response_prefix ends the thinking"):
        _eval(tiny_model_dir, tmp_path / "eval", "organism", thinking_budget=4, response_prefix=">")
    with pytest.raises(ValueError, match="--response_prefix already holds 4 thinking tokens"):
        _eval(tiny_model_dir, tmp_path / "eval2", "organism", thinking_budget=4, response_prefix="1+2=")
    records, _, _ = _eval(tiny_model_dir, tmp_path / "eval3", "organism", answer_budget=2, response_prefix=">")
    assert all(r["tokens"] <= 1 + 2 and not r["forced_tokens"] for r in records)  # only the answer is budgeted


def test_budget_flags_are_checked_before_anything_loads(tiny_model_dir, tmp_path):
    from thrifty.eval.harness import EvalArguments

    for extra, message in [
        ({"thinking_budget": 24}, "--thinking_budget 24 must be below --max_new_tokens 24"),
        ({"thinking_budget": 4, "min_thinking": 4}, "--min_thinking 4 must be below --thinking_budget 4"),
        ({"answer_cue": "So:"}, "--answer_cue is written after a forced end of thinking"),
        ({"answer_budget": 0}, "--answer_budget must be >= 1"),
        ({"min_thinking": 0}, "--min_thinking must be >= 1 \\(leave it out for no minimum\\)"),
        ({"no_thinking": True, "thinking_budget": 8}, "--no_thinking closes the thinking in the prompt"),
    ]:
        with pytest.raises(ValueError, match=message):
            EvalArguments(model=str(tiny_model_dir), max_new_tokens=24, out=str(tmp_path), **extra)
