"""A model organism of overthinking: column addition, a tiny Qwen2, and a verbose SFT'd "reasoning model".

The task: add two ``d``-digit numbers; the level is ``d`` (1..4). A trace works the
columns right to left, ``digit+digit[+carry]=sum`` per column, then states the result and boxes it::

    6+1=7;2+9=11;7+8+1=16;4+3+1=8>8617 \\boxed{8617}

That trace is the shortest correct *column work* (the oracle: ``oracle_tokens`` counts its characters plus
EOS): the shortest answer that is right by construction; the necessary work grows with difficulty. The base
model is trained (plain next-token SFT) on *verbose* traces:

* the first pass is sloppy on long numbers: it forgets an incoming carry with probability
  ``0.15 · (digits − 1)`` (never on level 1, where there is none; 45 % per carry on level 4) -- one
  systematic slip, so it survives low-temperature sampling as real errors do;
* then 0–3 ``check`` passes (0 with probability 0.4, else 1, 2 or 3 alike; independent of difficulty:
  overthinking) redo every column correctly and end in ``ok`` or, when they disagree with the current
  result, ``fix`` and adopt the new result.

So most checks are redundant, but on hard problems they catch real errors: a policy that drops all of them
loses accuracy there, and a length penalty must learn *where* checking pays.

And it has *intuition*: with probability :data:`SHORTCUT_RATE`, the same at every level (the data does not
adapt), a trace skips the written column work. Its default, ``mental`` form writes each column's sum without
its operands, ``~7;11;16;8>8617 \\boxed{8617}``; the ``exact`` form states the sum at once, ``>8617
\\boxed{8617}``. The SFT data's shortcuts are always right; whether the model's are depends on how well a tiny
transformer adds digits it has not written down -- no rule makes them wrong, so their accuracy falls with
difficulty only as far as the model's capacity does (mental: errors compound over columns; exact: a 4-layer
model barely manages one digit, see docs/FIDELITY.md). That makes a shorter-than-oracle answer possible, risky
where it matters, and a length penalty a real trade-off. ``shortcut_rate=0`` is the organism without it.

With the character tokenizer one token is one character, so lengths below are exact token counts (plus one
for EOS). :func:`behaviour` reads back from any response which of these a model did.

This module owns the task, its traces and its problems (each knowing its oracle length); the base model is
:mod:`thrifty.organism.base`. Pure: no model, no files.
"""

from __future__ import annotations

import random

from thrifty.data import Problem


LEVELS = (1, 2, 3, 4)
PROMPT_TEMPLATE = "{question}"
"""The organism's prompt is the bare question: the paper's preamble would only add characters to every step."""

CARRY_SLIP_PER_DIGIT = 0.15
CHECK_WEIGHTS = (0.4, 0.2, 0.2, 0.2)
"""Probabilities of 0, 1, 2, 3 checks in a base-model trace that does the column work."""
SHORTCUT_RATE = 0.3
"""Probability that a base-model trace answers at once, without column work or checks (at every level)."""
SHORTCUT = "shortcut"
"""The behaviour label of an answer given without column work; column work with ``k`` checks is ``columns+k``."""


def digits_for_level(level: int) -> int:
    if level not in LEVELS:
        raise ValueError(f"organism level must be one of {LEVELS}, got {level!r}")
    return level


# --------------------------------------------------------------------------------------------- traces
def _columns(a: int, b: int, digits: int, rng: random.Random | None = None, slip_rate: float = 0.0) -> tuple[str, int]:
    """Column steps for ``a + b`` right to left; with ``rng``, each incoming carry is forgotten with ``slip_rate``."""
    steps, carry, result_digits = [], 0, []
    for i in range(digits):
        da, db = a // 10**i % 10, b // 10**i % 10
        if carry and rng is not None and rng.random() < slip_rate:
            carry = 0
        total = da + db + carry
        steps.append(f"{da}+{db}+1={total}" if carry else f"{da}+{db}={total}")
        carry, digit = divmod(total, 10)
        result_digits.append(str(digit))
    if carry:
        result_digits.append(str(carry))
    return ";".join(steps), int("".join(reversed(result_digits)))


def minimal_trace(a: int, b: int) -> str:
    """The shortest correct trace for ``a + b``: the column steps, the result, the boxed answer."""
    steps, result = _columns(a, b, len(str(max(a, b))))
    return f"{steps}>{result} \\boxed{{{result}}}"


SHORTCUTS = ("mental", "exact")
"""The shortcut's forms: ``mental`` (the default: ``~7;11;16;8>8617``, each column's sum written without its
operands) or ``exact`` (``>8617``, the sum at once)."""
SHORTCUT_MARKS = {"mental": "~", "exact": ">"}
"""How each form begins: what a response prefix writes to force it."""


def shortcut_trace(a: int, b: int, kind: str = "mental") -> str:
    r"""An answer without the written column work. ``mental``: the sum of each column, right to left, without
    writing its operands, then the result (``~7;11;16;8>8617 \boxed{8617}`` for ``4726+3891``); ``exact``: the
    result at once (``>8617 \boxed{8617}``). Right in the SFT data; the model's are as right as its capacity to
    add digits it has not written down."""
    if kind not in SHORTCUTS:
        raise ValueError(f"shortcut kind must be one of {SHORTCUTS}, got {kind!r}")
    if kind == "exact":
        return f">{a + b} \\boxed{{{a + b}}}"
    steps, result = _columns(a, b, len(str(max(a, b))))
    sums = ";".join(step.split("=")[1] for step in steps.split(";"))
    return f"~{sums}>{result} \\boxed{{{result}}}"


def verbose_trace(
    a: int,
    b: int,
    rng: random.Random,
    checks: int | None = None,
    shortcut_rate: float = SHORTCUT_RATE,
    shortcut: str = "mental",
) -> str:
    """A base-model trace: with probability ``shortcut_rate`` the :func:`shortcut_trace`; otherwise a sloppy first
    pass, then ``checks`` correct re-computations (drawn from :data:`CHECK_WEIGHTS`; a given ``checks`` asks for
    column work with that many).

    A check that disagrees with the current result ends in ``fix`` and replaces it; otherwise ``ok``.
    """
    if not 0 <= shortcut_rate <= 1:
        raise ValueError(f"shortcut_rate must be in [0, 1], got {shortcut_rate!r}")
    if checks is None and shortcut_rate and rng.random() < shortcut_rate:
        return shortcut_trace(a, b, shortcut)
    digits = len(str(max(a, b)))
    checks = rng.choices(range(len(CHECK_WEIGHTS)), CHECK_WEIGHTS)[0] if checks is None else checks
    steps, result = _columns(a, b, digits, rng, CARRY_SLIP_PER_DIGIT * (digits - 1))
    parts = [f"{steps}>{result}"]
    for _ in range(checks):
        steps, again = _columns(a, b, digits)
        parts.append(f"check {steps}>{again} {'ok' if again == result else 'fix'}")
        result = again
    return " ".join(parts) + f" \\boxed{{{result}}}"


def oracle_tokens(question: str) -> int:
    """Tokens of the minimal correct response to ``question`` (``"a+b"``): its characters plus EOS."""
    a, b = (int(x) for x in question.split("+"))
    return len(minimal_trace(a, b)) + 1


def count_checks(text: str) -> int:
    return text.count("check ")


def behaviour(response: str) -> str:
    r"""What a response did: :data:`SHORTCUT` (it begins as a shortcut does, ``~`` or ``>``: no written column
    work) or ``columns+k`` (column work, then ``k`` checks).

    Example:
        >>> behaviour(">8617 \boxed{8617}"), behaviour("~7;11;16;8>8617 \boxed{8617}")
        ('shortcut', 'shortcut')
        >>> behaviour("3+4=7>7 check 3+4=7>7 ok \boxed{7}")
        'columns+1'
    """
    return SHORTCUT if response.lstrip()[:1] in SHORTCUT_MARKS.values() else f"columns+{count_checks(response)}"


FORCED = dict.fromkeys(SHORTCUT_MARKS.values(), SHORTCUT)
"""The behaviour each response prefix forces: evaluating with a shortcut's first character already written
measures that shortcut's skill on every problem."""


# --------------------------------------------------------------------------------------------- problems
def sample_problem(rng: random.Random, level: int) -> tuple[int, int]:
    digits = digits_for_level(level)
    low, high = (10 ** (digits - 1) if digits > 1 else 0), 10**digits - 1
    return rng.randint(low, high), rng.randint(low, high)


def level_size(level: int) -> int:
    """How many distinct questions a level has (level 1: 10 × 10 single digits)."""
    digits = digits_for_level(level)
    return (9 * 10 ** (digits - 1) if digits > 1 else 10) ** 2


def make_problems(
    n_per_level: int, seed: int, exclude: set[str] = frozenset(), prefix: str = "organism"
) -> list[Problem]:
    """Up to ``n_per_level`` distinct problems per level, none of whose questions is in ``exclude``.

    A level with fewer unused questions than that (level 1 has only 100) gets all that are left, in random order.
    """
    rng = random.Random(seed)
    problems: list[Problem] = []
    for level in LEVELS:
        digits = digits_for_level(level)
        if level_size(level) <= 4 * n_per_level:  # small level: enumerate instead of rejection sampling
            low = 10 ** (digits - 1) if digits > 1 else 0
            pool = [
                (a, b) for a in range(low, 10**digits) for b in range(low, 10**digits) if f"{a}+{b}" not in exclude
            ]
            rng.shuffle(pool)
            pairs = pool[:n_per_level]
        else:
            seen: set[tuple[int, int]] = set()
            pairs = []
            while len(pairs) < n_per_level:
                a, b = sample_problem(rng, level)
                if (a, b) not in seen and f"{a}+{b}" not in exclude:
                    seen.add((a, b))
                    pairs.append((a, b))
        problems += [
            Problem(f"{prefix}-{level}-{i}", f"{a}+{b}", str(a + b), level, oracle_tokens(f"{a}+{b}"))
            for i, (a, b) in enumerate(pairs)
        ]
    return problems


TEST_SEED, TEST_PER_LEVEL = 1234, 100


def round_robin(problems: list[Problem]) -> list[Problem]:
    """``problems`` taken in turn from each level (1, 2, 3, 4, 1, 2, ...; a level that runs out is skipped), each
    level's in their order: so any first ``n`` of them cover the levels alike, as ``--limit n`` takes them.

    Example:
        >>> [p.id for p in round_robin([Problem(i, "1+1", "2", level) for i, level in
        ...     [("a", 1), ("b", 1), ("c", 2), ("d", 3)]])]
        ['a', 'c', 'd', 'b']
    """
    by_level = [[p for p in problems if p.level == level] for level in sorted({p.level for p in problems})]
    return [group[i] for i in range(max(map(len, by_level), default=0)) for group in by_level if i < len(group)]


def eval_problems(n_per_level: int = TEST_PER_LEVEL) -> list[Problem]:
    """The held-out organism benchmark (fixed seed): what ``load_benchmark("organism")`` returns, in
    :func:`round_robin` order over the levels, so that ``--limit`` evaluates every level alike.

    Level 1 keeps half of its 100 questions for training, so it has at most 50 test problems.
    """
    problems = make_problems(n_per_level, TEST_SEED, prefix="organism-test")
    kept = [p for p in problems if p.level != 1 or int(p.id.rsplit("-", 1)[1]) < min(n_per_level, level_size(1) // 2)]
    return round_robin(kept)


def train_problems(n_per_level: int, seed: int = 0) -> list[Problem]:
    """RL training prompts, disjoint from :func:`eval_problems`, ``n_per_level`` per level.

    Level 1 has only 50 questions left after the test split; they are repeated so every level is equally
    frequent in training.
    """
    held_out = {p.question for p in eval_problems()}
    problems = make_problems(n_per_level, seed, exclude=held_out, prefix="organism-train")
    balanced = []
    for level in LEVELS:
        mine = [p for p in problems if p.level == level]
        balanced += [mine[i % len(mine)] for i in range(n_per_level)]
    return balanced
