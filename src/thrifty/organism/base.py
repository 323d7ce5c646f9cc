"""The organism's base "reasoning model": a tiny Qwen2 SFT'd on verbose traces, built on a CPU in minutes and cached.

The only training here is that plain next-token SFT; RL on top of it is :mod:`thrifty.rl`'s, as for any model.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from thrifty import runs
from thrifty.organism.task import (
    LEVELS,
    PROMPT_TEMPLATE,
    SHORTCUT_RATE,
    SHORTCUTS,
    eval_problems,
    sample_problem,
    verbose_trace,
)
from thrifty.organism.tiny import build_tiny_model


logger = logging.getLogger(__name__)


@dataclass
class OrganismConfig:
    """How the base organism is built. The defaults take 5-7 minutes on 2 CPU cores."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    sft_steps: int = 700
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 100
    shortcut_rate: float = SHORTCUT_RATE
    """Share of SFT traces that answer at once (0: the organism without intuition)."""
    shortcut: str = "mental"
    """Its form: column sums without operands, or the sum at once (:data:`~thrifty.organism.task.SHORTCUTS`)."""
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.shortcut_rate <= 1:
            raise ValueError(f"shortcut_rate must be in [0, 1], got {self.shortcut_rate!r}")
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}, got {self.shortcut!r}")


def _sft_rows(
    tokenizer,
    rng: random.Random,
    batch_size: int,
    held_out: frozenset[str] = frozenset(),
    shortcut_rate: float = SHORTCUT_RATE,
    shortcut: str = "mental",
) -> list[tuple[list[int], list[int]]]:
    """``batch_size`` (token ids, loss mask) pairs of prompt + verbose trace + EOS, shortest first; no question
    in ``held_out`` (the evaluation split) is ever trained on."""
    rows = []
    while len(rows) < batch_size:
        a, b = sample_problem(rng, rng.choice(LEVELS))
        if f"{a}+{b}" in held_out:
            continue
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": PROMPT_TEMPLATE.format(question=f"{a}+{b}")}],
            tokenize=False,
            add_generation_prompt=True,
        )
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        response_ids = tokenizer(
            verbose_trace(a, b, rng, shortcut_rate=shortcut_rate, shortcut=shortcut), add_special_tokens=False
        )["input_ids"] + [tokenizer.eos_token_id]
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
        labels[i, : len(row)] = torch.tensor([t if m else -100 for t, m in zip(row, mask, strict=True)])
    return ids, attention, labels


def base_record(config: OrganismConfig) -> dict:
    """What a base organism is made from: the record of its build (:data:`thrifty.runs.RUN_STARTED` /
    :data:`thrifty.runs.RUN_DONE`), and the key of its cache entry."""
    return {"organism_base": asdict(config)}


def build_base_model(out_dir: str | Path, config: OrganismConfig | None = None, progress: bool = True) -> Path:
    """Build the base "reasoning model": a tiny Qwen2 SFT'd on verbose traces, saved with ``save_pretrained``.

    A plain next-token loop (AdamW, linear warmup then cosine decay) on freshly sampled traces of questions
    outside the evaluation split; the result
    loads with ``AutoModelForCausalLM.from_pretrained(out_dir)`` like any hub model. ``organism.json`` in
    ``out_dir`` records the config, the final loss and the build time.

    A build cut short is never mistaken for a base: the folder is marked started (:data:`thrifty.runs.RUN_STARTED`)
    before anything is written and finished (:data:`thrifty.runs.RUN_DONE`, after ``organism.json``) last, the
    random initial weights never reach ``out_dir``, and thrifty refuses to load a folder that was started and not
    finished (:func:`thrifty.generation.loading.check_model_source`), naming the command that builds it again.
    """
    import tempfile

    import torch
    from tqdm.auto import tqdm

    config = config or OrganismConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for marker in (runs.RUN_DONE, runs.ORGANISM_BUILD):  # the finish marks go first: a killed build has none
        (out / marker).unlink(missing_ok=True)
    runs.write_atomic(out / runs.RUN_STARTED, runs.record_text(base_record(config)))
    with tempfile.TemporaryDirectory() as scratch:  # the untrained model is saved there, never into out
        model, tokenizer = build_tiny_model(
            scratch,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            num_heads=config.num_heads,
            max_positions=1024,
            seed=config.seed,
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
        rows = _sft_rows(tokenizer, rng, config.batch_size, held_out, config.shortcut_rate, config.shortcut)
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
    runs.write_json(out / runs.ORGANISM_BUILD, record)
    runs.write_atomic(out / runs.RUN_DONE, runs.record_text(base_record(config)))  # last: the build is whole
    logger.info("base organism saved to %s (loss %.3f, %.0f s)", out, loss_value, record["sft_seconds"])
    return out


def cached_base_model(
    config: OrganismConfig | None = None, cache_dir: str | None = None, rebuild: bool = False
) -> Path:
    """The base organism built with ``config``, from the cache (:func:`thrifty.runs.cache_root`) or built into it.

    One folder per config (``organism-base-<fingerprint>``); a build cut short is redone, and so is one whose
    weights are gone; ``rebuild`` redoes a finished one.
    """
    config = config or OrganismConfig()
    record = base_record(config)
    path = runs.cache_root(cache_dir) / f"organism-base-{runs.fingerprint(record)}"
    if rebuild:
        with runs.folder_lock(path, wait=True):
            runs.clear_folder(path)
    elif runs.is_finished(path, record) and not (path / "model.safetensors").is_file():
        logger.warning("%s is marked finished but holds no weights (model.safetensors): rebuilding it", path)
        with runs.folder_lock(path, wait=True):
            (path / runs.RUN_DONE).unlink(missing_ok=True)
    # a cache entry several runs may need at once: a second one waits for the build, then reuses it
    runs.run_once(path, record, lambda: build_base_model(path, config), wait=True)
    return path
