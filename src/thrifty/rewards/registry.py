"""Group rewards by name: what a reward function sees (a whole :class:`Rollout`), and the registry of them.

A *group reward* is called once per rollout, on every response to every prompt of it -- gathered from all
processes -- because the paper's reward, and its peers', compare a response with the others to the same prompt.
It returns one float per response and nothing else: the trainer owns the rollout, the advantages and the update.

A reward is any callable ``reward(rollout) -> list[float]``, made by a factory registered under a name (one
defined in your own package is named ``your.module:name``; importing the module registers it)::

    @register_reward("shortest_wins")
    @dataclass(frozen=True)
    class ShortestWins:
        def __call__(self, rollout: Rollout) -> list[float]: ...

A reward whose effective setting moves during training (a warm-up, a schedule, adaptive targets) may define
``metrics(rollout) -> dict[str, float]``: the trainer logs them with the rollout's metrics as ``reward/<name>``.

A reward that keeps state across rollouts (a per-problem history, say) also defines ``state_dict() -> dict``
(JSON) and ``load_state_dict(state)``: the trainer saves that state in every checkpoint and restores it on
resume, without reading it. Every process computes the reward on the same whole rollout, so such state agrees
across processes by construction.
"""

from __future__ import annotations

import importlib
import inspect
import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Rollout:
    """Every scored response of one rollout, in the trainer's order (a group's responses need not be adjacent).

    Attributes:
        group_ids (`Sequence[Hashable]`): which prompt each response answers (equal ids = same group).
        correct (`Sequence[bool]`): whether each response's final answer is right.
        lengths (`Sequence[int]`): response lengths in tokens, the EOS token included.
        finished (`Sequence[bool]`): whether each response ended with EOS (False: cut at the generation limit).
        problem_ids (`Sequence[str]`, *optional*): each response's problem id, stable across rollouts (for
            rewards that remember problems).
        step (`int`): the optimizer step the rollout was drawn at (for schedules and warm-ups).
        columns (`Mapping[str, Sequence]`): the training set's other columns, one value per response (e.g. a
            target length written into the prompt).
        training (`bool`): False for an evaluation rollout (a reward that remembers problems should not learn
            from it).
    """

    group_ids: Sequence[Hashable]
    correct: Sequence[bool]
    lengths: Sequence[int]
    finished: Sequence[bool]
    problem_ids: Sequence[str] | None = None
    step: int = 0
    columns: Mapping[str, Sequence] = field(default_factory=dict)
    training: bool = True

    def __post_init__(self):
        n = len(self.group_ids)
        sizes = {"correct": len(self.correct), "lengths": len(self.lengths), "finished": len(self.finished)}
        if self.problem_ids is not None:
            sizes["problem_ids"] = len(self.problem_ids)
        sizes.update({f"columns[{k!r}]": len(v) for k, v in self.columns.items()})
        wrong = {k: v for k, v in sizes.items() if v != n}
        if wrong:
            raise ValueError(f"a rollout needs one entry per response: {n} group ids, but {wrong}")

    def __len__(self) -> int:
        return len(self.group_ids)


@runtime_checkable
class GroupReward(Protocol):
    """``reward(rollout) -> list[float]``: one reward per response of the rollout."""

    def __call__(self, rollout: Rollout) -> list[float]: ...


@runtime_checkable
class StatefulReward(GroupReward, Protocol):
    """A group reward with state that must survive checkpoints (saved and restored by the trainer, never read)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@runtime_checkable
class PromptedReward(GroupReward, Protocol):
    """A group reward whose target is written into the prompt (L1's token budget): for each training row the
    trainer draws the row's targets once, ``prompt_columns(rng) -> {column: value}``, adds them to the row as
    columns (the reward reads them back in :attr:`Rollout.columns`), and appends ``instruction(columns)`` to the
    row's question."""

    def prompt_columns(self, rng: random.Random) -> dict[str, Any]: ...

    def instruction(self, columns: Mapping[str, Any]) -> str: ...


REWARDS: dict[str, Callable[..., GroupReward]] = {}
"""Registered group rewards: name -> factory (a class or function taking the reward's parameters)."""


def register_reward(name: str):
    """Class or function decorator: register a group-reward factory under ``name``."""

    def register(factory):
        if name in REWARDS and REWARDS[name] is not factory:
            raise ValueError(f"a reward called {name!r} is already registered ({REWARDS[name]!r})")
        REWARDS[name] = factory
        return factory

    return register


def reward_parameters(name: str) -> list[str]:
    """The parameters the reward ``name``'s factory takes."""
    return list(inspect.signature(reward_factory(name)).parameters)


def reward_default(name: str, parameter: str) -> Any:
    """The default value of the reward ``name``'s ``parameter``, or None when it has none (or no such parameter)."""
    found = inspect.signature(reward_factory(name)).parameters.get(parameter)
    return None if found is None or found.default is inspect.Parameter.empty else found.default


def make_reward(name: str, **params) -> GroupReward:
    """The reward registered as ``name``, made with ``params``; a clear ``ValueError`` for an unknown name or
    parameter."""
    factory = reward_factory(name)
    signature = inspect.signature(factory).parameters
    takes = ", ".join(signature) or "no parameters"
    unknown = sorted(set(params) - set(signature))
    if unknown:
        raise ValueError(f"reward {name!r} takes {takes}; not {', '.join(unknown)}")
    missing = [p for p, v in signature.items() if v.default is inspect.Parameter.empty and p not in params]
    if missing:
        raise ValueError(f"reward {name!r} needs {', '.join(missing)} (give it in --reward_kwargs); it takes {takes}")
    return factory(**params)


def reward_factory(name: str) -> Callable[..., GroupReward]:
    """The factory registered as ``name`` (a class, for a dataclass reward); a clear ``ValueError`` otherwise."""
    return lookup(REWARDS, name, "reward")


def lookup(registry: Mapping[str, Any], name: str, what: str) -> Any:
    """``registry[name]``; ``package.module:name`` imports the module first, so that what it defines outside
    thrifty registers itself; a clear ``ValueError`` naming what is registered otherwise."""
    if name not in registry and ":" in name:
        module, name = name.split(":", 1)
        importlib.import_module(module)
    if name not in registry:
        raise ValueError(f"unknown {what} {name!r}; registered: {', '.join(registry)}")
    return registry[name]


def groups(group_ids: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """``{group id: indices of its responses}``, groups in order of first appearance.

    Example:
        >>> groups(["a", "b", "a"])
        {'a': [0, 2], 'b': [1]}
    """
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(group_ids):
        members[g].append(i)
    return dict(members)


def kept_groups(values: Sequence, group_ids: Sequence[Hashable]) -> list[bool]:
    """Which responses belong to a group whose ``values`` are not all equal: the groups DAPO's dynamic sampling
    keeps (``values`` = whether each response is right; thrifty's ``--dynamic_sampling reward`` passes the rewards,
    which for a length reward still differ in a group that is all right).

    Example:
        >>> kept_groups([1, 1, 0, 1, 0, 0], ["a", "a", "b", "b", "c", "c"])
        [False, False, True, True, False, False]
    """
    keep = [False] * len(values)
    for members in groups(group_ids).values():
        varied = len({values[i] for i in members}) > 1
        for i in members:
            keep[i] = varied
    return keep


def check_aligned(method: str, **columns: Sequence) -> None:
    """A clear ``ValueError`` unless every list given has one entry per response (named by its keyword).

    Example:
        >>> check_aligned("kimi", correct=[1, 0], lengths=[3])
        Traceback (most recent call last):
        ...
        ValueError: kimi: correct, lengths need one entry per response; got 2, 1
    """
    sizes = {name: len(values) for name, values in columns.items()}
    if len(set(sizes.values())) > 1:
        got = ", ".join(map(str, sizes.values()))
        raise ValueError(f"{method}: {', '.join(sizes)} need one entry per response; got {got}")


def is_number(value) -> bool:
    """An int or a float, not a bool (YAML's ``yes`` is not a weight)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
