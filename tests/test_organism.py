"""The model organism: exact traces, an oracle that matches the tokenizer, errors that checks catch, splits."""

import json
import random
from statistics import fmean

import pytest

from thrifty import runs
from thrifty.organism.base import OrganismConfig, cached_base_model
from thrifty.organism.task import (
    FORCED,
    LEVELS,
    SHORTCUT,
    SHORTCUT_RATE,
    SHORTCUTS,
    behaviour,
    count_checks,
    eval_problems,
    minimal_trace,
    oracle_tokens,
    shortcut_trace,
    train_problems,
    verbose_trace,
)


def test_minimal_trace_by_hand():
    assert minimal_trace(4726, 3891) == "6+1=7;2+9=11;7+8+1=16;4+3+1=8>8617 \\boxed{8617}"
    assert minimal_trace(7, 5) == "7+5=12>12 \\boxed{12}"
    assert oracle_tokens("7+5") == len("7+5=12>12 \\boxed{12}") + 1


def test_oracle_counts_the_tokens_the_model_would_emit():
    from thrifty.organism.tiny import build_char_tokenizer

    tok = build_char_tokenizer()
    for p in eval_problems(5):
        a, b = map(int, p.question.split("+"))
        assert oracle_tokens(p.question) == len(tok(minimal_trace(a, b), add_special_tokens=False)["input_ids"]) + 1


def test_level_one_traces_are_never_wrong_and_without_checks_are_minimal():
    rng = random.Random(0)
    for a in range(10):
        for b in range(10):
            assert verbose_trace(a, b, rng, checks=0) == minimal_trace(a, b)


def test_checks_catch_first_pass_errors_on_hard_problems():
    rng = random.Random(1)
    pairs = [(rng.randint(1000, 9999), rng.randint(1000, 9999)) for _ in range(2000)]
    checked = [(a + b, verbose_trace(a, b, rng, checks=1)) for a, b in pairs]
    # without a check, a 4-digit first pass forgets some carry (45 % each) about half of the time
    errors = 0
    for _ in range(2000):
        a, b = rng.randint(1000, 9999), rng.randint(1000, 9999)
        errors += not verbose_trace(a, b, rng, checks=0).endswith(f"\\boxed{{{a + b}}}")
    assert 0.44 < errors / 2000 < 0.56
    # one check always ends on the right answer, and says "fix" exactly when it changed the result
    for total, trace in checked:
        assert trace.endswith(f"\\boxed{{{total}}}")
        first = int(trace.split(" check ")[0].rsplit(">", 1)[1])
        assert (" fix " in trace) == (first != total)


def test_overthinking_and_intuition_do_not_depend_on_difficulty():
    rng = random.Random(2)
    checks, shortcuts = [], []
    for digits in (1, 4):
        low = 10 ** (digits - 1) if digits > 1 else 0
        traces = [
            verbose_trace(rng.randint(low, 10**digits - 1), rng.randint(low, 10**digits - 1), rng) for _ in range(4000)
        ]
        shortcuts.append(fmean(behaviour(t) == SHORTCUT for t in traces))
        checks.append(fmean(count_checks(t) for t in traces if behaviour(t) != SHORTCUT))
    assert checks[0] == pytest.approx(1.2, abs=0.08) and checks[1] == pytest.approx(1.2, abs=0.08)
    assert shortcuts[0] == pytest.approx(SHORTCUT_RATE, abs=0.03) and shortcuts[1] == pytest.approx(
        SHORTCUT_RATE, abs=0.03
    )


def test_the_shortcut_skips_the_written_work_is_right_in_the_data_and_can_be_turned_off():
    assert shortcut_trace(4726, 3891) == "~7;11;16;8>8617 \\boxed{8617}"  # column sums, no operands
    assert shortcut_trace(4726, 3891, "exact") == ">8617 \\boxed{8617}"
    for kind in SHORTCUTS:
        for a, b in ((7, 5), (47, 38), (9999, 1), (4726, 3891)):
            trace = shortcut_trace(a, b, kind)
            assert trace.endswith(f"\\boxed{{{a + b}}}") and behaviour(trace) == SHORTCUT
            assert FORCED[trace[0]] == SHORTCUT  # its first character forces it
            assert len(trace) + 1 < oracle_tokens(f"{a}+{b}")  # shorter than the shortest column work
    assert behaviour(minimal_trace(4726, 3891)) == "columns+0"
    rng = random.Random(3)
    assert behaviour(verbose_trace(7, 5, rng, checks=2)) == "columns+2"  # explicit checks: column work
    assert not any(behaviour(verbose_trace(4726, 3891, rng, shortcut_rate=0)) == SHORTCUT for _ in range(500))
    assert all(behaviour(verbose_trace(4726, 3891, rng, shortcut_rate=1)) == SHORTCUT for _ in range(50))
    with pytest.raises(ValueError, match="shortcut_rate must be in"):
        verbose_trace(1, 2, rng, shortcut_rate=1.5)
    with pytest.raises(ValueError, match="shortcut kind must be one of"):
        shortcut_trace(1, 2, "guess")


def test_splits_are_disjoint_balanced_and_load_as_a_registered_benchmark():
    from thrifty.data import get_benchmark, load_benchmark, template_for, training_problems

    test, train = eval_problems(), train_problems(200)
    assert {p.level for p in test} == set(LEVELS)
    assert [sum(p.level == lvl for p in test) for lvl in LEVELS] == [50, 100, 100, 100]
    assert [sum(p.level == lvl for p in train) for lvl in LEVELS] == [200] * 4
    assert not {p.question for p in test} & {p.question for p in train}
    assert all(str(int(p.question.split("+")[0]) + int(p.question.split("+")[1])) == p.gold for p in test)
    assert load_benchmark("organism") == test and training_problems("organism", per_level=200) == train
    assert all(p.oracle_tokens == oracle_tokens(p.question) for p in test + train)
    assert template_for("organism") == "{question}" and get_benchmark("organism").generated


def test_base_model_builds_loads_and_is_cached_by_config(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import thrifty.organism.base as base

    built = []
    build = base.build_base_model
    monkeypatch.setattr(
        base, "build_base_model", lambda out, config: built.append(config) or build(out, config, False)
    )
    config = OrganismConfig(hidden_size=32, num_layers=1, num_heads=2, sft_steps=3, batch_size=4, warmup_steps=1)
    path = cached_base_model(config, cache_dir=tmp_path)
    AutoModelForCausalLM.from_pretrained(path)
    assert AutoTokenizer.from_pretrained(path).eos_token == "<|im_end|>"
    assert json.loads((path / runs.ORGANISM_BUILD).read_text())["config"]["sft_steps"] == 3
    assert cached_base_model(config, cache_dir=tmp_path) == path and len(built) == 1  # cached
    assert cached_base_model(config, cache_dir=tmp_path, rebuild=True) == path and len(built) == 2  # built anew
    other = OrganismConfig(hidden_size=32, num_layers=1, num_heads=2, sft_steps=4)
    assert cached_base_model(other, cache_dir=tmp_path) != path and built[-1] == other  # another config, another base
