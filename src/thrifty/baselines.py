"""The paper's baselines, data side (pure): what rejection sampling keeps for SFT, and the pairs DPO trains on.

Both start from the same scored samples -- ``thrifty eval`` records (``id``, ``response``, ``tokens``,
``finished``, ``correct``) of k samples per *training* prompt, drawn once because sampling is the expensive
part:

* SFT (rejection sampling): per prompt, the shortest correct, finished response.
* DPO: per prompt, chosen = the shortest correct response, rejected = the longest correct one (prompts whose
  correct responses all have the same length give no pair).

Ties are broken by sample index, so the result does not depend on record order. Rows come out in TRL's
conversational formats (``messages`` for ``SFTTrainer``; ``prompt``/``chosen``/``rejected`` for ``DPOTrainer``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping


def _correct_by_prompt(records: Iterable[Mapping]) -> dict[str, list[Mapping]]:
    groups: dict[str, list[Mapping]] = defaultdict(list)
    for r in records:
        if r.get("correct") and r.get("finished", True):
            groups[r["id"]].append(r)
    return {pid: sorted(rs, key=lambda r: (r["tokens"], r.get("sample", 0))) for pid, rs in groups.items()}


def shortest_correct(records: Iterable[Mapping]) -> dict[str, Mapping]:
    """``{prompt id: its shortest correct finished record}``; prompts with no correct response are absent.

    Example:
        >>> recs = [dict(id="a", sample=0, tokens=9, correct=True), dict(id="a", sample=1, tokens=4, correct=True),
        ...         dict(id="a", sample=2, tokens=2, correct=False), dict(id="b", sample=0, tokens=3, correct=False)]
        >>> {k: v["sample"] for k, v in shortest_correct(recs).items()}
        {'a': 1}
    """
    return {pid: rs[0] for pid, rs in _correct_by_prompt(records).items()}


def preference_pairs(records: Iterable[Mapping]) -> dict[str, tuple[Mapping, Mapping]]:
    """``{prompt id: (shortest correct, longest correct)}`` for prompts whose correct responses differ in length.

    Example:
        >>> recs = [dict(id="a", sample=0, tokens=9, correct=True), dict(id="a", sample=1, tokens=4, correct=True),
        ...         dict(id="b", sample=0, tokens=5, correct=True), dict(id="b", sample=1, tokens=5, correct=True)]
        >>> {k: (c["sample"], r["sample"]) for k, (c, r) in preference_pairs(recs).items()}
        {'a': (1, 0)}
    """
    return {pid: (rs[0], rs[-1]) for pid, rs in _correct_by_prompt(records).items() if rs[-1]["tokens"] > rs[0]["tokens"]}


def _user(question: str, template: str) -> list[dict]:
    return [{"role": "user", "content": template.format(question=question)}]


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def sft_rows(questions: Mapping[str, str], records: Iterable[Mapping], template: str) -> list[dict]:
    """Rejection-sampling SFT rows ``{"messages": [user, assistant]}``, one per prompt with a correct response."""
    return [
        {"messages": _user(questions[pid], template) + _assistant(r["response"])}
        for pid, r in sorted(shortest_correct(records).items())
    ]


def dpo_rows(questions: Mapping[str, str], records: Iterable[Mapping], template: str) -> list[dict]:
    """DPO rows ``{"prompt", "chosen", "rejected"}`` (conversational), chosen = shortest correct, rejected = longest."""
    return [
        {"prompt": _user(questions[pid], template), "chosen": _assistant(c["response"]), "rejected": _assistant(r["response"])}
        for pid, (c, r) in sorted(preference_pairs(records).items())
    ]
