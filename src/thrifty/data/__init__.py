"""Problems in, prompts out: benchmarks, training prompt sets and prompt templates.

Owns reading rows (local JSONL/parquet files, ``save_to_disk`` folders or Hugging Face Hub datasets) and turning
them into :class:`Problem` records with a string gold answer and an id unique within their set, and knowing which
benchmarks exist. Does not generate, verify or score anything, except that :func:`load_training_prompts` asks
:mod:`thrifty.verify` whether an answer is checkable.

Modules: :mod:`~thrifty.data.problems` (the types, and what a row's values must be), :mod:`~thrifty.data.rows`
(a user's row -> a problem, for training and evaluation alike), :mod:`~thrifty.data.files` (row sources, bad rows,
unique ids), :mod:`~thrifty.data.public` (GSM8K, MATH500, AIME24, AMC23 and users' own files and datasets),
:mod:`~thrifty.data.registry` (which benchmarks exist, and their results folders; packages register theirs),
:mod:`~thrifty.data.prompts` (templates, and the prompt of a problem), :mod:`~thrifty.data.training` (training
prompt sets).
"""

from thrifty.data.problems import MAX_QUESTION_CHARS, BadRow, Benchmark, Problem, problem_key
from thrifty.data.prompts import (
    PAPER_PROMPT_TEMPLATE,
    PROMPT_STYLES,
    build_prompt,
    render_prompt,
    style_instruction,
    template_for,
    with_instruction,
)
from thrifty.data.public import gsm8k_gold, hub_alias
from thrifty.data.registry import (
    benchmark_label,
    benchmark_labels,
    benchmark_names,
    get_benchmark,
    load_benchmark,
    register_benchmark,
)
from thrifty.data.rows import SCHEMA_HINT, Columns
from thrifty.data.training import DropReport, load_training_prompts, training_problems


__all__ = [
    "MAX_QUESTION_CHARS",
    "PAPER_PROMPT_TEMPLATE",
    "PROMPT_STYLES",
    "SCHEMA_HINT",
    "BadRow",
    "Benchmark",
    "Columns",
    "DropReport",
    "Problem",
    "benchmark_label",
    "benchmark_labels",
    "benchmark_names",
    "build_prompt",
    "get_benchmark",
    "gsm8k_gold",
    "hub_alias",
    "load_benchmark",
    "load_training_prompts",
    "problem_key",
    "register_benchmark",
    "render_prompt",
    "style_instruction",
    "template_for",
    "with_instruction",
    "training_problems",
]
