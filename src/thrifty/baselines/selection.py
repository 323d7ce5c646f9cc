"""The paper's baselines, data side (pure): what rejection sampling keeps for SFT, and the pairs DPO trains on.

Both start from the same scored samples -- ``thrifty eval`` records (``id``, ``response``, ``tokens``,
``finished``, ``correct``) of k samples per *training* prompt, drawn once because sampling is the expensive
part:

* SFT (rejection sampling): per prompt, the shortest correct, finished response.
* DPO: per prompt, chosen = the shortest correct response, rejected = the longest correct one (prompts whose
  correct responses all have the same length give no pair).

Ties are broken by sample index, so the result does not depend on record order. Rows come out in TRL's
*standard* (plain text) formats -- ``prompt``/``completion`` for ``SFTTrainer``, ``prompt``/``chosen``/``rejected``
for ``DPOTrainer`` -- with the prompt exactly as the model saw it when sampling (chat template applied) and the
response exactly as it wrote it; TRL appends the EOS token. Not the conversational format: re-rendering an
assistant turn through a chat template can rewrite it (DeepSeek-R1's template drops everything before
``</think>``), which would train on text the model never produced.
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
    return {
        pid: (rs[0], rs[-1]) for pid, rs in _correct_by_prompt(records).items() if rs[-1]["tokens"] > rs[0]["tokens"]
    }


def sft_rows(prompts: Mapping[str, str], records: Iterable[Mapping]) -> list[dict]:
    """Rejection-sampling SFT rows ``{"prompt", "completion"}``, one per prompt with a correct response.

    ``prompts`` maps a prompt id to the exact prompt text the responses were sampled from.

    Example:
        >>> recs = [dict(id="a", sample=0, tokens=9, correct=True, response="long"),
        ...         dict(id="a", sample=1, tokens=4, correct=True, response="short")]
        >>> sft_rows({"a": "Q: 1+1? A: "}, recs)
        [{'prompt': 'Q: 1+1? A: ', 'completion': 'short'}]
    """
    return [
        {"prompt": prompts[pid], "completion": r["response"]} for pid, r in sorted(shortest_correct(records).items())
    ]


def dpo_rows(prompts: Mapping[str, str], records: Iterable[Mapping]) -> list[dict]:
    """DPO rows ``{"prompt", "chosen", "rejected"}``: chosen = the shortest correct response, rejected = the longest.

    Example:
        >>> recs = [dict(id="a", sample=0, tokens=9, correct=True, response="long"),
        ...         dict(id="a", sample=1, tokens=4, correct=True, response="short")]
        >>> dpo_rows({"a": "Q: 1+1? A: "}, recs)
        [{'prompt': 'Q: 1+1? A: ', 'chosen': 'short', 'rejected': 'long'}]
    """
    return [
        {"prompt": prompts[pid], "chosen": c["response"], "rejected": r["response"]}
        for pid, (c, r) in sorted(preference_pairs(records).items())
    ]
