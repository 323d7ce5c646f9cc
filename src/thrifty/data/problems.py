"""What thrifty evaluates and trains on: a :class:`Problem`, and a :class:`Benchmark` (a named set of them).

Types only; :mod:`thrifty.data.registry` knows which benchmarks exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One question with its reference answer.

    Attributes:
        id (`str`): stable identifier within its benchmark (e.g. MATH500's ``unique_id``, GSM8K's row index).
        question (`str`): the problem statement.
        gold (`str`): the reference final answer, as a string (LaTeX allowed).
        level (`int` or `None`): difficulty level where the benchmark has one (MATH500: 1-5).
        oracle_tokens (`int` or `None`): tokens of the shortest correct response, where that is known exactly
            (the organism's problems); evaluations then report length against this optimum.
    """

    id: str
    question: str
    gold: str
    level: int | None = None
    oracle_tokens: int | None = None


class BadRow(ValueError):
    """A row that cannot become a :class:`Problem`; the message says why."""


@dataclass(frozen=True)
class Benchmark:
    """A named set of problems and how it is evaluated.

    Attributes:
        name (`str`): what ``--benchmark`` (and ``--prompts``, with a training split) call it.
        load (`Callable[[str | None], list[Problem]]`): ``load(data_dir)`` -> the problems, in a fixed order;
            ``data_dir`` is a folder of local copies, or None for the Hugging Face Hub.
        default_samples (`int`): responses per problem unless ``--samples`` says otherwise (the paper's k).
        prompt_template (`str`, *optional*): its prompt, with a ``{question}`` slot; None = the paper's.
        generated (`bool`): made by code, so it loads with neither files nor network (a report can always show
            its questions).
        train (`Callable[[int], list[Problem]]`, *optional*): ``train(per_level)`` -> training prompts disjoint
            from ``load``'s, for benchmarks that have a training split.
        behaviour (`Callable[[str], str]`, *optional*): ``behaviour(response)`` -> a label of what the response
            did (the organism: ``shortcut`` or ``columns+k``), for benchmarks whose responses can be read that
            way; evaluations then account accuracy and tokens per behaviour.
        forced (`dict[str, str]`): the behaviour each response prefix forces (``{">": "shortcut"}``), to measure
            its skill on every problem with ``--response_prefix``.
    """

    name: str
    load: Callable[[str | None], list[Problem]]
    default_samples: int = 1
    prompt_template: str | None = None
    generated: bool = False
    train: Callable[[int], list[Problem]] | None = None
    behaviour: Callable[[str], str] | None = None
    forced: dict[str, str] = field(default_factory=dict)
