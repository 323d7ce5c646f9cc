"""Shared fixtures: the real benchmark files beside the clone, and a tiny model built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
BENCHMARKS_DIR = Path(os.environ.get("THRIFTY_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    if not (BENCHMARKS_DIR / "math500.jsonl").is_file():
        pytest.fail(f"benchmark files not found in {BENCHMARKS_DIR} (set THRIFTY_BENCHMARKS to their folder)")
    return BENCHMARKS_DIR


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from thrifty.organism.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("tiny-model")
    build_tiny_model(out, seed=0)
    return out


@pytest.fixture(scope="session")
def verifier_pool():
    from thrifty.verify import VerifierPool

    with VerifierPool(workers=2) as pool:
        yield pool
