"""A model organism of overthinking: column addition, a tiny Qwen2, and a verbose SFT'd "reasoning model".

The task: add two ``d``-digit numbers; the level is ``d`` (1..4). A trace works the
columns right to left, ``digit+digit[+carry]=sum`` per column, then states the result and boxes it::

    6+1=7;2+9=11;7+8+1=16;4+3+1=8>8617 \\boxed{8617}

That trace is the *minimal* correct one (the oracle: ``oracle_tokens`` counts its characters plus EOS); the
necessary work grows with difficulty. The base model is trained (plain next-token SFT) on *verbose* traces:

* the first pass is sloppy on long numbers: it forgets an incoming carry with probability
  ``0.15 · (digits − 1)`` (never on level 1, where there is none; 45 % per carry on level 4) -- one
  systematic slip, so it survives low-temperature sampling as real errors do;
* then 0–3 ``check`` passes (0 with probability 0.4, else 1, 2 or 3 alike; independent of difficulty:
  overthinking) redo every column correctly and end in ``ok`` or, when they disagree with the current
  result, ``fix`` and adopt the new result.

So most checks are redundant, but on hard problems they catch real errors: a policy that drops all of them
loses accuracy there, and a length penalty must learn *where* checking pays. With the character tokenizer
one token is one character, so lengths below are exact token counts (plus one for EOS).

This module owns the task, its traces and benchmark rows, and the base model's SFT; it does not touch RL.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .data import Problem

logger = logging.getLogger(__name__)

LEVELS = (1, 2, 3, 4)
PROMPT_TEMPLATE = "{question}"
"""The organism's prompt is the bare question: the paper's preamble would only add characters to every step."""

CARRY_SLIP_PER_DIGIT = 0.15
CHECK_WEIGHTS = (0.4, 0.2, 0.2, 0.2)
"""Probabilities of 0, 1, 2, 3 checks in a base-model trace."""


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


def verbose_trace(a: int, b: int, rng: random.Random, checks: int | None = None) -> str:
    """A base-model trace: a sloppy first pass, then ``checks`` (default: drawn from :data:`CHECK_WEIGHTS`) correct
    re-computations.

    A check that disagrees with the current result ends in ``fix`` and replaces it; otherwise ``ok``.
    """
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


# --------------------------------------------------------------------------------------------- problems
def sample_problem(rng: random.Random, level: int) -> tuple[int, int]:
    digits = digits_for_level(level)
    low, high = (10 ** (digits - 1) if digits > 1 else 0), 10**digits - 1
    return rng.randint(low, high), rng.randint(low, high)


def level_size(level: int) -> int:
    """How many distinct questions a level has (level 1: 10 × 10 single digits)."""
    digits = digits_for_level(level)
    return (9 * 10 ** (digits - 1) if digits > 1 else 10) ** 2


def make_problems(n_per_level: int, seed: int, exclude: set[str] = frozenset(), prefix: str = "organism") -> list[Problem]:
    """Up to ``n_per_level`` distinct problems per level, none of whose questions is in ``exclude``.

    A level with fewer unused questions than that (level 1 has only 100) gets all that are left, in random order.
    """
    rng = random.Random(seed)
    problems: list[Problem] = []
    for level in LEVELS:
        digits = digits_for_level(level)
        if level_size(level) <= 4 * n_per_level:  # small level: enumerate instead of rejection sampling
            low = 10 ** (digits - 1) if digits > 1 else 0
            pool = [(a, b) for a in range(low, 10**digits) for b in range(low, 10**digits) if f"{a}+{b}" not in exclude]
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
        problems += [Problem(f"{prefix}-{level}-{i}", f"{a}+{b}", str(a + b), level) for i, (a, b) in enumerate(pairs)]
    return problems


TEST_SEED, TEST_PER_LEVEL = 1234, 100


def eval_problems(n_per_level: int = TEST_PER_LEVEL) -> list[Problem]:
    """The held-out organism benchmark (fixed seed): what ``load_benchmark("organism")`` returns.

    Level 1 keeps half of its 100 questions for training, so it has at most 50 test problems.
    """
    problems = make_problems(n_per_level, TEST_SEED, prefix="organism-test")
    return [p for p in problems if p.level != 1 or int(p.id.rsplit("-", 1)[1]) < min(n_per_level, level_size(1) // 2)]


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


def write_problems(path: str | Path, problems: list[Problem]) -> Path:
    """Write problems as JSONL rows (``id, question, answer, level, oracle_tokens``) that thrifty loads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for p in problems:
            row = {"id": p.id, "question": p.question, "answer": p.gold, "level": p.level, "oracle_tokens": oracle_tokens(p.question)}
            f.write(json.dumps(row) + "\n")
    return path


# --------------------------------------------------------------------------------------------- base model
@dataclass
class OrganismConfig:
    """How the base organism is built. The defaults take about 5 minutes on 2 CPU cores."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    sft_steps: int = 700
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 100
    seed: int = 0


def _sft_rows(
    tokenizer, rng: random.Random, batch_size: int, held_out: frozenset[str] = frozenset()
) -> list[tuple[list[int], list[int]]]:
    """``batch_size`` (token ids, loss mask) pairs of prompt + verbose trace + EOS, shortest first; no question
    in ``held_out`` (the evaluation split) is ever trained on."""
    rows = []
    while len(rows) < batch_size:
        a, b = sample_problem(rng, rng.choice(LEVELS))
        if f"{a}+{b}" in held_out:
            continue
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPT_TEMPLATE.format(question=f"{a}+{b}")}], tokenize=False, add_generation_prompt=True
        )
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(verbose_trace(a, b, rng), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append((prompt_ids + response_ids, [0] * len(prompt_ids) + [1] * len(response_ids)))
    return sorted(rows, key=lambda row: len(row[0]))


def _collate(rows, pad_id: int):
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 outside the response)."""
    import torch

    batch_size, width = len(rows), max(len(ids) for ids, _ in rows)
    ids = torch.full((batch_size, width), pad_id)
    labels = torch.full((batch_size, width), -100)
    attention = torch.zeros((batch_size, width), dtype=torch.long)
    for i, (row, mask) in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        attention[i, : len(row)] = 1
        labels[i, : len(row)] = torch.tensor([t if m else -100 for t, m in zip(row, mask)])
    return ids, attention, labels


def build_base_model(out_dir: str | Path, config: OrganismConfig | None = None, progress: bool = True) -> Path:
    """Build the base "reasoning model": a tiny Qwen2 SFT'd on verbose traces, saved with ``save_pretrained``.

    A plain next-token loop (AdamW, linear warmup then cosine decay) on freshly sampled traces of questions
    outside the evaluation split; the result
    loads with ``AutoModelForCausalLM.from_pretrained(out_dir)`` like any hub model. ``organism.json`` in
    ``out_dir`` records the config and the final loss.
    """
    import torch
    from tqdm.auto import tqdm

    from .tiny import build_tiny_model

    config = config or OrganismConfig()
    out = Path(out_dir)
    (out / "organism.json").unlink(missing_ok=True)  # the "finished" marker goes first: a killed build is not reused
    model, tokenizer = build_tiny_model(
        out, hidden_size=config.hidden_size, num_layers=config.num_layers, num_heads=config.num_heads, max_positions=1024, seed=config.seed
    )
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01, betas=(0.9, 0.98))

    def schedule(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress_ = (step - config.warmup_steps) / max(1, config.sft_steps - config.warmup_steps)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress_))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    held_out = frozenset(p.question for p in eval_problems())
    model.train()
    start, loss_value = time.time(), float("nan")
    bar = tqdm(range(config.sft_steps), desc="SFT base organism", disable=not progress)
    for step in bar:
        # Two length-sorted micro-batches waste far less compute on padding than one mixed batch.
        rows = _sft_rows(tokenizer, rng, config.batch_size, held_out)
        targets = sum(sum(mask) for _, mask in rows)
        loss = 0.0
        for part in (rows[: len(rows) // 2], rows[len(rows) // 2 :]):
            ids, attention, labels = _collate(part, tokenizer.pad_token_id)
            weight = sum(sum(mask) for _, mask in part) / targets
            part_loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss * weight
            part_loss.backward()
            loss += part_loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = 0.9 * loss_value + 0.1 * loss.item() if step else loss.item()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss_value:.3f}")
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    record = {"config": asdict(config), "final_loss": loss_value, "sft_seconds": round(time.time() - start, 1)}
    (out / "organism.json").write_text(json.dumps(record, indent=2) + "\n")
    logger.info("base organism saved to %s (loss %.3f, %.0f s)", out, loss_value, record["sft_seconds"])
    return out


def base_model_is_built(out_dir: str | Path, config: OrganismConfig) -> bool:
    """True when ``out_dir`` holds a finished base organism built with exactly ``config`` (the demo's cache)."""
    meta = Path(out_dir) / "organism.json"
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("config") == asdict(config)
    except (OSError, json.JSONDecodeError):
        return False
