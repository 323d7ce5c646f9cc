"""Every module's docstring examples run and pass, so the documentation cannot drift; the pure modules, whose
examples are their specification, must have some."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import thrifty


MODULES = sorted(m.name for m in pkgutil.walk_packages(thrifty.__path__, "thrifty."))
WITH_EXAMPLES = {
    "thrifty.advantages",
    "thrifty.args",
    "thrifty.baselines.selection",
    "thrifty.data.prompts",
    "thrifty.eval.metrics",
    "thrifty.organism",
    "thrifty.report.tables",
    "thrifty.rewards.alp",
    "thrifty.rewards.dapo",
    "thrifty.rewards.dler",
    "thrifty.rewards.hapo",
    "thrifty.rewards.kimi",
    "thrifty.rewards.l1",
    "thrifty.rewards.laser",
    "thrifty.rewards.length_penalty",
    "thrifty.rewards.registry",
    "thrifty.rewards.shorterbetter",
    "thrifty.rewards.thinkprune",
    "thrifty.runs",
    "thrifty.verify.extract",
}


def test_the_module_list_is_the_package():
    assert set(MODULES) >= WITH_EXAMPLES and {"thrifty.cli", "thrifty.rl.trainer", "thrifty.organism.task"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module in WITH_EXAMPLES:
        assert result.attempted > 0


def test_the_readmes_new_method_example_plugs_in(monkeypatch):
    """The README's "Add a method" example runs as written and registers a reward and an estimator by name."""
    from pathlib import Path

    from thrifty.advantages import ADVANTAGES, get_advantage
    from thrifty.rewards import REWARDS, Rollout, make_reward

    monkeypatch.setattr("thrifty.rewards.registry.REWARDS", dict(REWARDS))
    monkeypatch.setattr("thrifty.advantages.ADVANTAGES", dict(ADVANTAGES))
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Add a method or a benchmark") :]
    exec(section.split("```python\n", 1)[1].split("```", 1)[0], {})
    rollout = Rollout(
        group_ids=[0, 0, 0, 1], correct=[True, True, False, True], lengths=[9, 5, 3, 7], finished=[True] * 4
    )
    rewards = make_reward("shortest_wins", bonus=0.5)(rollout)
    assert rewards == [1.0, 1.5, 0.0, 1.5]
    assert get_advantage("group_mean").sequence(rewards, rollout.group_ids) == pytest.approx([1 / 6, 2 / 3, -5 / 6, 0])
