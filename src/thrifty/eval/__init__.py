"""Evaluation: the harness (:mod:`~thrifty.eval.harness`: sample -> score -> summary, resumable; ``thrifty eval``)
and its metrics (:mod:`~thrifty.eval.metrics`: pass@k, lengths, the cutoff curve, behaviours; pure)."""

from thrifty.eval.harness import (
    CALL_FIELDS,
    EvalArguments,
    LazyBackend,
    evaluate,
    evaluate_benchmark,
    read_samples,
    record_verdicts,
    results_of,
    sample_settings,
)
from thrifty.eval.metrics import cutoff_curve, default_cutoffs, pass_at_k, summarize


__all__ = [
    "CALL_FIELDS",
    "EvalArguments",
    "LazyBackend",
    "cutoff_curve",
    "default_cutoffs",
    "evaluate",
    "evaluate_benchmark",
    "pass_at_k",
    "read_samples",
    "record_verdicts",
    "results_of",
    "sample_settings",
    "summarize",
]
