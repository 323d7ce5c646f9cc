"""Is a model's response correct? Final-answer extraction and time-bounded equivalence.

This package owns one decision: given a response and a gold answer, is the response's final answer equivalent
to the gold one. It knows nothing about models, datasets or metrics.

Two modes:

* ``"math-verify"`` (default): the last ``\\boxed{...}`` of the response is compared with the gold answer by
  Hugging Face's `math-verify <https://github.com/huggingface/Math-Verify>`_ (LaTeX/sympy equivalence).
  A response without a boxed answer is incorrect.
* ``"paper-compat"``: the rules of the paper's official evaluation (Qwen2.5-Math-style answer extraction and
  ``math_equal``): last boxed answer, falling back to "the answer is ..." and then to the last number in the
  text; string match after normalisation; numbers compared exactly (fractions and decimals of any size, never as
  floats): integers must be equal, other numbers equal within a relative tolerance of 1e-4 (also against the
  gold divided or multiplied by 100, for percentages); otherwise symbolic equivalence (by math-verify here, by
  latex2sympy there). See docs/FIDELITY.md.

A gold answer is a ``str`` or a number (``int``, ``float``, ``Decimal``, ``Fraction``, written out exactly); a
``bool`` or any other type is a ``TypeError``.

Verdicts do not depend on timing. Each check -- extraction included -- has one budget, the pool's ``timeout``
(5 s), and a 4 GiB memory cap: it either finishes with its verdict or is reported as not finished
(``Verdict.timed_out``, and incorrect), never as a plain False because the machine was busy.

Modules: :mod:`~thrifty.verify.extract` (where a response commits to an answer; pure),
:mod:`~thrifty.verify.rules` (equivalence), :mod:`~thrifty.verify.pool` (the time- and memory-bounded worker
pool that runs both, and the simple API below). Batch verification goes through a :class:`VerifierPool` (a few
persistent workers, not a process per call).
"""

from thrifty.verify.extract import (
    MAX_ANSWER_CHARS,
    MODES,
    Mode,
    all_boxed_answers,
    extract_answer,
    extract_boxed_answer,
)
from thrifty.verify.pool import (
    DEFAULT_TIMEOUT,
    VERIFIER_VERSION,
    Verdict,
    VerifierPool,
    is_correct,
    verify_batch,
)


__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_CHARS",
    "MODES",
    "Mode",
    "VERIFIER_VERSION",
    "Verdict",
    "VerifierPool",
    "all_boxed_answers",
    "extract_answer",
    "extract_boxed_answer",
    "is_correct",
    "verify_batch",
]
