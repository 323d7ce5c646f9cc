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
    "thrifty.rewards.length_penalty",
    "thrifty.rewards.registry",
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
