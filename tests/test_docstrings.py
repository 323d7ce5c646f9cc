"""The examples in the pure modules' docstrings are executed, so the documentation cannot drift."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module", ["thrifty.reward", "thrifty.metrics", "thrifty.report", "thrifty.data", "thrifty.verify", "thrifty.baselines"]
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module in ("thrifty.reward", "thrifty.metrics", "thrifty.report", "thrifty.baselines"):
        assert result.attempted > 0
