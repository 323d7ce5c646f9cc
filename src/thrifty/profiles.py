"""The two training profiles, as data: the update the paper describes (``paper``) and the one its official code
runs (``official``), flag by flag. Pure and import-free, so the trainer, the model card and the report read one
table (docs/FIDELITY.md says where each value comes from)."""

from __future__ import annotations

from collections.abc import Mapping


PAPER_REWARDS = ("length_penalized", "arora")
"""The paper's reward under its two registered names (:mod:`thrifty.rewards.length_penalty`): what cards and reports
call the paper's method; any other ``--reward`` is a peer's."""


PROFILES = {
    "paper": {
        "kl_penalty": "loss",
        "whiten_advantages": "none",
        "grade_truncated": False,
        "length_measure": "tokens",
        "prompt_format": "chat",
        "max_prompt_length": 0,
    },
    "official": {
        "kl_penalty": "reward",
        "whiten_advantages": "tokens",
        "grade_truncated": True,
        "length_measure": "official",
        "prompt_format": "raw",
        "max_prompt_length": 512,
    },
}
"""What each ``--profile`` sets, for the flags left unset."""

PROFILE_TRAINING = {"paper": {}, "official": {"warmup_steps": 6, "max_completion_length": 32000}}
"""TRL settings a profile sets unless the recipe or the command line gives them: the official scheduler's
``min(ceil(0.03 x 200), 10)`` warmup steps and its generation cap."""

CHOICES = {
    "kl_penalty": ("loss", "reward"),
    "whiten_advantages": ("none", "tokens"),
    "grade_truncated": (False, True),
    "length_measure": ("tokens", "official"),
    "length_unit": ("response", "thinking"),
    "prompt_format": ("chat", "raw"),
}
"""The values each piece of the update takes."""

PIECE_NAMES = {
    ("kl_penalty", "reward"): "KL in the reward",
    ("kl_penalty", "loss"): "KL in the loss",
    ("whiten_advantages", "tokens"): "token-whitened",
    ("whiten_advantages", "none"): "not whitened",
    ("grade_truncated", True): "truncated graded",
    ("grade_truncated", False): "truncated = 0",
    ("length_measure", "official"): "official length",
    ("length_measure", "tokens"): "token length",
    ("length_unit", "thinking"): "thinking length",
    ("prompt_format", "raw"): "raw prompt",
    ("prompt_format", "chat"): "chat prompt",
}
"""How a piece set off its profile's value reads in a label."""


def departures(args: Mapping, skip: tuple[str, ...] = ()) -> list[str]:
    """The pieces of a run's update (its ``thrifty_args.json``) set otherwise than its profile sets them, as
    labels; none for a run recorded before profiles existed.

    Example:
        >>> departures({"profile": "paper", "kl_penalty": "reward", "whiten_advantages": "none"})
        ['KL in the reward']
        >>> departures({"profile": "official", **PROFILES["official"], "length_unit": "thinking"})
        ['thinking length']
    """
    profile = PROFILES.get(args.get("profile", ""))
    if profile is None:
        return []
    wanted = {**profile, "length_unit": "response"}
    return [
        PIECE_NAMES.get((name, args[name]), f"{name}={args[name]}")
        for name, value in wanted.items()
        if name in args and args[name] != value and name not in skip and name != "max_prompt_length"
    ]
