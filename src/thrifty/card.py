"""The model card of every model thrifty trains: ``README.md`` in its folder, written by thrifty, not by TRL.

TRL's card would say "fine-tuned version of [None]" for a local base, "trained with GRPO" citing DeepSeekMath, and
nothing of α. thrifty's says what the model is: its base model, the method as it was run (the paper's
length-penalised RLOO; its group-normalised ablation; correctness alone at α = 0; another reward; or the SFT / DPO
baseline), the reward and its α, the advantage estimator, how the update treats the KL, whitening, truncated
responses, lengths and prompts (and whether that is the paper's update or the official code's: ``--profile``), the
key hyperparameters, the training data, the thrifty version, the paper's citation, and the evaluation results
found in ``<folder>/eval/<benchmark>/`` (``thrifty eval --out <folder>/eval`` refreshes the card when it is done).
The Hub reads its YAML header (``base_model``, ``library_name``, ``tags``, ``datasets``, ``license``) and
``push_to_hub`` publishes this card, never the run's private files (:data:`NOT_PUBLISHED`: the folder lock, which
names the host and command, and unfinished writes).

:class:`CardFacts` is what a card states, :func:`render_card` the card (pure), :func:`write_card` and
:func:`refresh_card` the files (the facts are kept beside the card in :data:`CARD_FACTS`, so a card can be redone
when evaluations arrive); :class:`PrivateFilesStayLocal` keeps a trainer's uploads to the run's public files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thrifty import runs
from thrifty.profiles import PAPER_REWARDS, PROFILES


CARD = "README.md"
CARD_FACTS = "thrifty_card.json"
"""What the card in the same folder states, so that :func:`refresh_card` can redo it."""

CITATION = """@article{arora2025training,
  title   = {Training Language Models to Reason Efficiently},
  author  = {Arora, Daman and Zanette, Andrea},
  journal = {arXiv preprint arXiv:2502.04463},
  year    = {2025},
  url     = {https://arxiv.org/abs/2502.04463}
}"""

METHODS = {
    "rl": "length-penalised RLOO (Arora & Zanette, 2025): reinforcement learning that rewards correct answers more "
    "the shorter they are than the other correct answers to the same prompt",
    "sft": "the rejection-sampling SFT baseline of Arora & Zanette (2025): fine-tuned on the base model's own "
    "shortest correct response to each training prompt",
    "dpo": "the DPO baseline of Arora & Zanette (2025): preference-tuned on (shortest correct, longest correct) pairs "
    "of the base model's own responses to each training prompt",
}
"""The methods a card can name, by key (an RL run's own words come from :func:`method_text`)."""

ESTIMATORS = {
    "rloo": "REINFORCE leave-one-out, not normalised by the group: the paper's",
    "grpo": "GRPO's: minus the group's mean reward, over the group's reward std",
    "rloo-std": "leave-one-out, divided by the group's reward std (thrifty's former `grpo`: the Fig. 5 ablation "
    "as first run)",
    "reinforce++-baseline": "minus the group's mean reward, over the whole rollout's reward std "
    "(REINFORCE++-baseline)",
    "batch": "leave-one-out, whitened over the rollout's responses: an earlier thrifty's estimator, now "
    "`--whiten_advantages tokens`",
}
"""What the card says of an advantage estimator, by name (``batch``: for the cards of runs made when it existed)."""

UPDATE_FIELDS = (
    "profile",
    "kl_penalty",
    "whiten_advantages",
    "grade_truncated",
    "length_measure",
    "length_unit",
    "prompt_format",
    "max_prompt_length",
    "dynamic_sampling",
)
"""How an RL run's update was done (``thrifty train``'s flags of these names): :func:`rl_facts` takes each, and the
card states each one recorded (None: not recorded, as in the cards of older runs)."""

_UPDATE = ("kl_penalty", "whiten_advantages", "grade_truncated")
OFFICIAL_UPDATE = {name: PROFILES["official"][name] for name in _UPDATE}
"""What makes an update the official code's (Zanette-Labs/efficient-reasoning, OpenRLHF 0.5.4) rather than the one
the paper describes: ``--profile official``'s values of these flags. A card says the run reproduces the official
update only when all of them hold."""

PAPER_UPDATE = {name: PROFILES["paper"][name] for name in _UPDATE}
"""``--profile paper``'s values of the same flags: the update the paper describes."""

PAPER_URL = "https://arxiv.org/abs/2502.04463"

TAGS = ("thrifty", "reasoning", "length-penalty")

logger = logging.getLogger(__name__)

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass
class CardFacts:
    """What a model card states.

    Attributes:
        base_model (`str`): the model training started from: a hub id or a local path.
        method (`str`): a key of :data:`METHODS` (``rl``, ``sft`` or ``dpo``).
        hyperparameters (`dict`): label -> value, in the order shown.
        prompts (`str`): where the training prompts came from (a file, a hub dataset id, a benchmark).
        prompts_split (`str`, *optional*): the split of a hub dataset.
        n_prompts (`int`, *optional*): how many training prompts (or rows, for the baselines).
        reward (`str`, *optional*): the group reward's registered name (RL).
        alpha (`float`, *optional*): the length-penalty strength α (RL).
        reward_kwargs (`dict`, *optional*): the reward's other parameters.
        advantage_estimator (`str`, *optional*): the advantage estimator's registered name (RL).
        profile, kl_penalty, whiten_advantages, grade_truncated, length_measure, length_unit, prompt_format,
            max_prompt_length (*optional*): ``thrifty train``'s flags of these names (:data:`UPDATE_FIELDS`, RL);
            None where not recorded.
        license (`str`, *optional*): the license, when known (the base model's, read from a local base's card).
        thrifty_version (`str`): the thrifty version that trained the model.
    """

    base_model: str
    method: str
    hyperparameters: dict[str, Any]
    prompts: str
    prompts_split: str | None = None
    n_prompts: int | None = None
    reward: str | None = None
    alpha: float | None = None
    reward_kwargs: dict | None = None
    advantage_estimator: str | None = None
    profile: str | None = None
    kl_penalty: str | None = None
    whiten_advantages: str | None = None
    grade_truncated: bool | None = None
    length_measure: str | None = None
    length_unit: str | None = None
    prompt_format: str | None = None
    max_prompt_length: int | None = None
    dynamic_sampling: str | None = None
    license: str | None = None
    thrifty_version: str = field(default_factory=lambda: _version())

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")


def _version() -> str:
    from thrifty import __version__

    return __version__


def is_hub_id(name: str | None) -> bool:
    """Whether ``name`` reads as a Hugging Face Hub id (``org/name``) rather than a local path or a benchmark.

    Example:
        >>> is_hub_id("AI-MO/NuminaMath-CoT"), is_hub_id("runs/organism/base"), is_hub_id("organism")
        (True, False, False)
    """
    return bool(name) and _HUB_ID.fullmatch(name) is not None and not Path(name).expanduser().exists()


def base_license(base_model: str) -> str | None:
    """The ``license`` in a local base model's own card header, else None (a hub id's is not looked up)."""
    card = Path(base_model).expanduser() / CARD
    if not card.is_file():
        return None
    header = _front_matter(card.read_text(encoding="utf-8", errors="replace"))
    value = header.get("license") if isinstance(header, dict) else None
    return str(value) if value else None


def _front_matter(text: str) -> dict:
    import yaml

    if not text.startswith("---\n") or "\n---" not in text[4:]:
        return {}
    try:
        loaded = yaml.safe_load(text[4 : text.index("\n---", 4)])
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


# --------------------------------------------------------------------------------------------- facts of a run
def rl_facts(
    config, base_model: str, reward: str, reward_params: dict, advantage_estimator: str, prompts: str,
    prompts_split: str | None, n_prompts: int | None, *, profile: str | None = None, kl_penalty: str | None = None,
    whiten_advantages: str | None = None, grade_truncated: bool | None = None, length_measure: str | None = None,
    length_unit: str | None = None, prompt_format: str | None = None, max_prompt_length: int | None = None,
    dynamic_sampling: str | None = None,
) -> CardFacts:  # fmt: skip
    """The facts of a ``thrifty train`` run from its ``TrainConfig`` and what thrifty's arguments chose: the
    keyword-only ones are the flags of :data:`UPDATE_FIELDS` (``**{name: getattr(args, name) for name in
    UPDATE_FIELDS}``); a flag not given is not stated."""
    params = dict(reward_params)
    alpha = params.pop("alpha", None)
    per_rollout = getattr(config, "generation_batch_size", None)
    hyperparameters = {
        "learning rate": config.learning_rate,
        "optimizer steps": config.max_steps if config.max_steps and config.max_steps > 0 else None,
        "samples per prompt": config.num_generations,
        "responses per rollout": per_rollout,
        "prompts per rollout": per_rollout // config.num_generations if per_rollout else None,
        "updates per rollout": _updates_per_rollout(config),
        "KL coefficient β": config.beta,
        "clip ε": config.epsilon,
        "clip ε (upper)": getattr(config, "epsilon_high", None),
        "truncated responses left out of the loss": getattr(config, "mask_truncated_completions", None) or None,
        "rollout temperature": config.temperature,
        "max completion length (tokens)": config.max_completion_length,
        "loss": config.loss_type,
        "learning-rate schedule": getattr(config.lr_scheduler_type, "value", config.lr_scheduler_type),
        "warmup steps": getattr(config, "warmup_steps", None),
        "seed": config.seed,
    }
    return CardFacts(
        base_model=str(base_model),
        method="rl",
        hyperparameters={k: v for k, v in hyperparameters.items() if v is not None},
        prompts=str(prompts),
        prompts_split=prompts_split if is_hub_id(prompts) else None,
        n_prompts=n_prompts,
        reward=reward,
        alpha=alpha,
        reward_kwargs=params or None,
        advantage_estimator=advantage_estimator,
        profile=profile,
        kl_penalty=kl_penalty,
        whiten_advantages=whiten_advantages,
        grade_truncated=grade_truncated,
        length_measure=length_measure,
        length_unit=length_unit,
        prompt_format=prompt_format,
        max_prompt_length=max_prompt_length,
        dynamic_sampling=dynamic_sampling,
        license=base_license(str(base_model)),
    )


def _updates_per_rollout(config) -> float | None:
    steps, accumulation = getattr(config, "steps_per_generation", None), config.gradient_accumulation_steps
    if not steps:
        return 1
    updates = steps / accumulation
    return int(updates) if float(updates).is_integer() else updates


def baseline_facts(method: str, args, config, n_rows: int) -> CardFacts:
    """The facts of an SFT or DPO baseline from its ``BaselineArguments`` and TRL config."""
    hyperparameters = {
        "learning rate": config.learning_rate,
        "epochs": config.num_train_epochs,
        "training rows": n_rows,
        "batch size per device": config.per_device_train_batch_size,
        "gradient accumulation steps": config.gradient_accumulation_steps,
        "DPO β": getattr(config, "beta", None) if method == "dpo" else None,
        "samples per prompt (sampled set)": args.samples,
        "sampling temperature": args.temperature,
        "max sampled length (tokens)": args.max_new_tokens,
        "seed": config.seed,
    }
    return CardFacts(
        base_model=str(args.model),
        method=method,
        hyperparameters={k: v for k, v in hyperparameters.items() if v is not None},
        prompts=str(args.prompts),
        prompts_split=args.prompts_split if is_hub_id(args.prompts) else None,
        n_prompts=None,
        license=base_license(str(args.model)),
    )


# --------------------------------------------------------------------------------------------- the card
def evaluations(folder: str | Path) -> dict[str, dict]:
    """``{benchmark: summary}`` of the evaluations in ``folder/eval/<benchmark>/summary.json`` (sorted by name)."""
    found = {}
    for path in sorted(Path(folder).glob("eval/*/summary.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(summary, dict):
            found[path.parent.name] = summary
    return found


def _number(value, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def _with_se(summary: dict, key: str, digits: int) -> str:
    text = _number(summary.get(key), digits)
    se = summary.get(f"{key}_se")
    return f"{text} ± {_number(se, digits)}" if text != "-" and isinstance(se, (int, float)) else text


def _results_table(results: dict[str, dict]) -> list[str]:
    lines = [
        "| benchmark | problems | samples per problem | accuracy | mean tokens | temperature | max tokens |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in results.items():
        lines.append(
            f"| {name} | {s.get('n_problems', '-')} | {s.get('samples_per_problem', '-')} | "
            f"{_with_se(s, 'accuracy', 3)} | {_with_se(s, 'mean_tokens', 1)} | {s.get('temperature', '-')} | "
            f"{s.get('max_new_tokens', '-')} |"
        )
    return lines


def _header(facts: CardFacts) -> str:
    import yaml

    header: dict[str, Any] = {}
    if is_hub_id(facts.base_model):
        header["base_model"] = facts.base_model
    header["library_name"] = "transformers"
    if facts.license:
        header["license"] = facts.license
    header["tags"] = [*TAGS, *(["sft"] if facts.method == "sft" else ["dpo"] if facts.method == "dpo" else [])]
    if is_hub_id(facts.prompts):
        header["datasets"] = [facts.prompts]
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def _base_text(base_model: str) -> str:
    if is_hub_id(base_model):
        return f"[{base_model}](https://huggingface.co/{base_model})"
    return f"`{base_model}` (a local model)"


def _length_penalised(facts: CardFacts) -> bool:
    return facts.reward in PAPER_REWARDS and facts.alpha != 0


def _matches(facts: CardFacts, update: dict) -> bool:
    """Whether the run's flags are those of ``update`` (:data:`OFFICIAL_UPDATE`, :data:`PAPER_UPDATE`)."""
    return all(getattr(facts, name) == value for name, value in update.items())


def method_text(facts: CardFacts) -> str:
    """How the card's headline names the method: from the reward, α, advantage estimator and update actually used.

    Example:
        >>> facts = CardFacts("base", "rl", {}, "organism", reward="length_penalized", alpha=0.0,
        ...                   advantage_estimator="grpo")
        >>> method_text(facts).split(":")[0]
        "RL on correctness alone (α = 0) with GRPO's group-normalised advantages"
        >>> official = CardFacts("base", "rl", {}, "organism", reward="length_penalized", alpha=0.2,
        ...                      advantage_estimator="rloo", profile="official", **OFFICIAL_UPDATE)
        >>> method_text(official).split(" (the KL")[0]
        "length-penalised RLOO (Arora & Zanette, 2025) with the official code's update"
    """
    if facts.method != "rl":
        return METHODS[facts.method]
    penalised, estimator = _length_penalised(facts), facts.advantage_estimator
    whitened, kl_in_reward = facts.whiten_advantages == "tokens", facts.kl_penalty == "reward"
    if penalised and estimator == "rloo" and not whitened and not kl_in_reward:
        return METHODS["rl"]
    if penalised and estimator == "rloo" and _matches(facts, OFFICIAL_UPDATE):
        return (
            "length-penalised RLOO (Arora & Zanette, 2025) with the official code's update (the KL in the reward, "
            "advantages whitened over the rollout's tokens, truncated responses graded)"
            + METHODS["rl"][METHODS["rl"].index(":") :]
        )
    if penalised:
        name, why = "length-penalised RL (Arora & Zanette, 2025)", METHODS["rl"][METHODS["rl"].index(":") :]
    elif facts.reward in PAPER_REWARDS:
        name, why = (
            "RL on correctness alone (α = 0)",
            ": every correct answer earns the same reward, whatever its length",
        )
    else:
        name, why = f"RL on the `{facts.reward}` reward", ""
    if estimator == "rloo" and whitened:
        name += " with leave-one-out advantages whitened over every response token of the rollout"
    elif estimator == "rloo":
        name += " with leave-one-out (RLOO) advantages, not normalised"
    elif estimator == "grpo":
        name += " with GRPO's group-normalised advantages" + (" (the paper's ablation)" if penalised else "")
    elif estimator == "rloo-std":
        name += " with leave-one-out advantages divided by the group's reward std"
    elif estimator == "batch":
        name += " with leave-one-out advantages whitened over the rollout"
    elif estimator:
        name += f" with the `{estimator}` advantage estimator"
    if whitened and estimator != "rloo":
        name += ", then whitened over every response token of the rollout"
    if kl_in_reward:
        name += ", the KL penalty in the reward"
    return name + why


def title(facts: CardFacts) -> str:
    """The card's first heading: what the training aimed at."""
    if facts.method != "rl" or _length_penalised(facts):
        return "A model trained to reason efficiently"
    if facts.reward in PAPER_REWARDS:
        return "A model trained with RL on correctness alone (α = 0)"
    return f"A model trained with RL on the `{facts.reward}` reward"


def _profile_line(facts: CardFacts) -> str | None:
    """What the card says of ``--profile``: whether the update is the paper's or the official code's in full."""
    if facts.profile is None:
        return None
    if facts.profile == "official" and _matches(facts, OFFICIAL_UPDATE):
        return (
            "- profile `official`: reproduces the update of the official code (Zanette-Labs/efficient-reasoning, "
            "OpenRLHF 0.5.4): the per-token k1 KL in the reward, the advantages whitened over the rollout's tokens, "
            "truncated responses graded"
        )
    if facts.profile == "paper" and _matches(facts, PAPER_UPDATE):
        return "- profile `paper`: the update the paper describes"
    return f"- profile `{facts.profile}`, with some of its settings overridden: the update is as stated below"


def _update_lines(facts: CardFacts) -> list[str]:
    """How the update treated the KL, the advantages, truncated responses, lengths and prompts (what was recorded)."""
    beta = facts.hyperparameters.get("KL coefficient β")
    coefficient = f" (β = {beta:g})" if isinstance(beta, (int, float)) else ""
    kl = {
        "loss": f"- KL to the reference{coefficient}: TRL's k3 estimate, a term of the loss",
        "reward": f"- KL to the reference{coefficient}: the per-token k1 estimate log π_old − log π_ref, summed from "
        "each token to the end of its response and subtracted from the advantage (the official code's KL in the "
        "reward); the loss has no KL term",
    }
    whitening = {
        "none": "- advantages not whitened",
        "tokens": "- advantages whitened over every response token of the rollout, across all processes "
        "(token-weighted mean, population std), after the KL: the official code's whitening",
    }
    lengths = {
        "tokens": "generated tokens, EOS included",
        "official": "the official reward server's (prompt + response decoded, re-tokenised without special tokens, "
        "plus BOS)",
    }
    lines = [kl.get(facts.kl_penalty), whitening.get(facts.whiten_advantages)]
    if facts.length_measure in lengths or facts.length_unit == "thinking":
        unit = " of the thinking only (up to `</think>`)" if facts.length_unit == "thinking" else ""
        measure = f": {lengths[facts.length_measure]}" if facts.length_measure in lengths else ""
        lines.append(f"- length{unit}{measure}")
    if facts.prompt_format is not None or facts.max_prompt_length:
        form = {"chat": "through the chat template", "raw": "raw text, no chat template"}.get(facts.prompt_format)
        cut = f"cut to its first {facts.max_prompt_length} tokens" if facts.max_prompt_length else ""
        lines.append("- prompt: " + ", ".join(part for part in (form, cut) if part))
    if facts.dynamic_sampling and facts.dynamic_sampling != "none":
        what = "all right or all wrong" if facts.dynamic_sampling == "accuracy" else "whose rewards are all equal"
        lines.append(f"- dynamic sampling: groups {what} left out of the update (not refilled)")
    return [line for line in lines if line]


def _method_lines(facts: CardFacts) -> list[str]:
    if facts.method != "rl":
        return [f"- {METHODS[facts.method]}"]
    estimator = f"- advantage estimator: `{facts.advantage_estimator}`"
    if facts.advantage_estimator in ESTIMATORS:
        estimator += f" ({ESTIMATORS[facts.advantage_estimator]})"
    lines = [_profile_line(facts)] if facts.profile is not None else []
    lines.append(f"- reward: `{facts.reward}`" + (f", α = {facts.alpha:g}" if facts.alpha is not None else ""))
    if facts.reward_kwargs:
        lines.append(f"- reward parameters: `{json.dumps(facts.reward_kwargs)}`")
    lines.append(estimator)
    if facts.reward in PAPER_REWARDS:
        truncated = (
            "a wrong one earns 0; one cut at the length limit is graded too, as the official code grades it (its "
            "last token counted as EOS), and if correct is scored against its group's finished correct responses"
            if facts.grade_truncated
            else "a wrong or truncated one earns 0"
        )
        lines.append(
            "- a correct response earns 1 − α·σ((length − mean) / std), mean and std over the correct, finished "
            f"responses to the same prompt (α = 0: correctness alone); {truncated}"
        )
    return lines + _update_lines(facts)


def render_card(facts: CardFacts, results: dict[str, dict] | None = None) -> str:
    """The model card (Markdown with a Hub YAML header) stating ``facts`` and the evaluation ``results``."""
    lines = [_header(facts), f"# {title(facts)}", ""]
    lines.append(
        f"Fine-tuned from {_base_text(facts.base_model)} by thrifty {facts.thrifty_version} with "
        f"{method_text(facts)}. Paper: [Training Language Models to Reason Efficiently]({PAPER_URL})."
    )
    lines += ["", "## Method", "", *_method_lines(facts), "", "## Training data", ""]
    where = f"`{facts.prompts}`" + (f" (split `{facts.prompts_split}`)" if facts.prompts_split else "")
    count = f": {facts.n_prompts:,} prompts" if facts.n_prompts is not None else ""
    lines += [f"- prompts: {where}{count}", "", "## Hyperparameters", "", "| setting | value |", "|---|---|"]
    for name, value in facts.hyperparameters.items():
        lines.append(f"| {name} | {value:g} |" if isinstance(value, float) else f"| {name} | {value} |")
    lines += ["", "## Evaluation", ""]
    if results:
        lines += [
            *_results_table(results),
            "",
            "Accuracy and mean tokens over all samples (± one standard error where recorded), by `thrifty eval`.",
        ]
    else:
        lines.append("Not evaluated yet: `thrifty eval --model <this folder> --out <this folder>/eval`.")
    lines += ["", "## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join(lines)


def write_card(folder: str | Path, facts: CardFacts) -> Path:
    """Write ``folder/README.md`` from ``facts`` and the evaluations found in ``folder``; keep the facts beside it
    (:data:`CARD_FACTS`) for :func:`refresh_card`. Returns the card's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_json(folder / CARD_FACTS, asdict(facts))
    runs.write_atomic(folder / CARD, render_card(facts, evaluations(folder)))
    return folder / CARD


def read_facts(folder: str | Path) -> CardFacts | None:
    """The facts of the card in ``folder`` (:data:`CARD_FACTS`), or None when thrifty wrote none there."""
    path = Path(folder) / CARD_FACTS
    try:
        return CardFacts(**json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, TypeError, ValueError):
        return None


def refresh_card(folder: str | Path) -> Path | None:
    """Write the card of ``folder`` again with the evaluations now in it; None when thrifty wrote no card there."""
    facts = read_facts(folder)
    return None if facts is None else write_card(folder, facts)


def refresh_card_of_eval(out: str | Path) -> Path | None:
    """After ``thrifty eval --out <folder>/eval``: when ``<folder>`` holds a thrifty card (its :data:`CARD_FACTS`),
    write the card again with the results now there. Never raises (the evaluation is done and written): a failure
    is a warning. Returns the card's path, or None."""
    out = Path(out).resolve()
    if out.name != "eval" or not (out.parent / CARD_FACTS).is_file():
        return None
    try:
        return refresh_card(out.parent)
    except Exception as error:  # any failure: an unwritable folder, a damaged facts file, a full disk
        logger.warning("%s: could not refresh the model card with these results (%s)", out.parent / CARD, error)
        return None


# --------------------------------------------------------------------------------------------- pushing
NOT_PUBLISHED = (runs.LOCK, f"*/{runs.LOCK}", f".*{runs.TMP_SUFFIX}", f"*/.*{runs.TMP_SUFFIX}")
"""Upload ignore patterns of a run folder's private files: the folder lock (its holder's host and command line) and
:func:`thrifty.runs.write_atomic`'s unfinished temporaries, at any depth (a pattern's ``*`` spans folders)."""


class _IgnoringPrivateFiles:
    """An ``HfApi`` whose ``upload_folder`` also ignores :data:`NOT_PUBLISHED`; everything else is the api's."""

    def __init__(self, api):
        self._api = api

    def upload_folder(self, *args, ignore_patterns: list[str] | str | None = None, **kwargs):
        given = [ignore_patterns] if isinstance(ignore_patterns, str) else list(ignore_patterns or [])
        return self._api.upload_folder(*args, ignore_patterns=[*given, *NOT_PUBLISHED], **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._api, name)


@contextlib.contextmanager
def private_files_stay_local() -> Iterator[None]:
    """While the block runs, the uploads of transformers' ``Trainer`` (``push_to_hub`` and the checkpoint pushes of
    ``hub_strategy``) leave out :data:`NOT_PUBLISHED`. (``Trainer`` passes its own fixed ignore patterns to
    ``upload_folder`` and takes none from its caller, so its Hub client is wrapped for the block.)"""
    import transformers.trainer as module

    original = getattr(module, "hf_api", None)
    if original is None:  # a transformers whose Trainer uploads otherwise: say so rather than fail the push
        logger.warning("this transformers' Trainer cannot be kept from uploading %s", ", ".join(NOT_PUBLISHED))
        yield
        return
    module.hf_api = lambda: _IgnoringPrivateFiles(original())
    try:
        yield
    finally:
        module.hf_api = original


class PrivateFilesStayLocal:
    """Mixin for a transformers ``Trainer`` (put it first among the bases): ``push_to_hub`` and the checkpoint
    pushes upload the run folder without its private files (:data:`NOT_PUBLISHED`)."""

    def push_to_hub(self, *args, **kwargs):
        with private_files_stay_local():
            return super().push_to_hub(*args, **kwargs)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        with private_files_stay_local():
            return super()._push_from_checkpoint(checkpoint_folder)


class ThriftyModelCard(PrivateFilesStayLocal):
    """Mixin for a TRL trainer (put it first among the bases): thrifty's model card, :meth:`card_facts`, written to
    ``output_dir/README.md`` where TRL writes its own -- at every checkpoint and before ``push_to_hub`` uploads the
    folder, so both publish thrifty's card -- and pushes that leave the run's private files local."""

    card: CardFacts | None = None
    """What the card states; None: no card is written."""

    def card_facts(self) -> CardFacts | None:
        return self.card

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        """TRL's hook, writing thrifty's card instead (TRL's arguments are unused)."""
        facts = self.card_facts()
        if facts is not None and self.is_world_process_zero():
            write_card(self.args.output_dir, facts)
