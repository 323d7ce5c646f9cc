"""The known harmless warnings of thrifty's dependencies, filtered in one place, each by its message.

Without this, a 200-step ``thrifty train`` prints about 300 copies of the same transformers deprecation notices
(three per rollout: TRL toggles gradient checkpointing around each generation through the old names, and every
``warnings.catch_warnings`` TRL enters resets Python's "once per location" memory). Only the messages listed in
:data:`KNOWN_HARMLESS` are hidden, never a whole category: any other ``FutureWarning`` still shows.
``THRIFTY_SHOW_WARNINGS=1`` (or ``python -W default``-style options given explicitly) shows them all again.
"""

from __future__ import annotations

import os
import sys
import warnings


KNOWN_HARMLESS: tuple[tuple[str, type[Warning], str], ...] = (
    (
        r"`(is_)?gradient_checkpointing(_enable|_disable|_kwargs)?` is deprecated and will be removed in v6",
        FutureWarning,
        "transformers 5 renamed gradient checkpointing to activation checkpointing and keeps the old names as "
        "aliases; TRL 1.16 (its GRPOTrainer around every rollout, its configs when they are built) still calls the "
        "old ones. The aliases do exactly what the new names do, so nothing changes but the name.",
    ),
    (
        r"'pin_memory' argument is set as true but no accelerator is found",
        UserWarning,
        "transformers' Trainer pins its data loader's memory by default (dataloader_pin_memory); on a machine "
        "without a GPU torch ignores the request and says so once per training run. Pinning only speeds up copies "
        "to a GPU, so on CPU nothing is lost.",
    ),
)
"""``(message regex, category, why it is harmless)``: the warnings :func:`filter_known_warnings` hides."""


def filter_known_warnings() -> None:
    """Hide the warnings of :data:`KNOWN_HARMLESS` (idempotent). Left alone when ``THRIFTY_SHOW_WARNINGS=1`` or
    when the interpreter was started with explicit warning options (``python -W ...``, ``PYTHONWARNINGS``)."""
    if os.environ.get("THRIFTY_SHOW_WARNINGS") == "1" or sys.warnoptions:
        return
    for message, category, _ in KNOWN_HARMLESS:
        warnings.filterwarnings("ignore", message=message, category=category)
