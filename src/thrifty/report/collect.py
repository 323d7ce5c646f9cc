"""What a report is made of: every evaluated model found under run folders, and what each model is.

Every ``summary.json`` written by ``thrifty eval`` under a RUN_DIR is one (model, benchmark) result. The model
is named after the folder that holds the evaluation (``<model>/eval/<benchmark>/`` as written by ``thrifty
sweep``, ``thrifty baseline`` and ``thrifty demo``, or ``<eval out>/<benchmark>/`` for a bare ``thrifty
eval``); ``NAME=PATH`` names a RUN_DIR's only model yourself. What a model *is* comes from the files beside it:
``thrifty_args.json`` (an RL member: its α, advantage estimator, whitening and profile), ``baseline.json``
(sft, dpo, cutoff, or budget forcing: ``thrifty baseline budget``), else its name (``--base``, default "base", is
the reference model); an evaluation whose responses were begun for the model (``--response_prefix``, a forced
behaviour) is ``forced``, and one that controlled the length at inference time (:func:`inference_settings`) is
``budget`` under a thinking budget, else ``prompting`` (NoThinking, a prompt style). A training run not evaluated
yet (a ``metrics.jsonl`` and no evaluation) is a model without summaries: its training is reported, with how to
evaluate it. How a model was trained comes from :func:`training_settings`. Reads files only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from thrifty import runs
from thrifty.profiles import PAPER_REWARDS, departures


logger = logging.getLogger(__name__)

SEED_FOLDER = "seed="
"""``thrifty demo --seeds`` repeats its models in ``OUT/seed=N/``: reported on their own (``thrifty report
OUT/seed=N``), never mixed with the first seed's models of the same names."""
KIND_ORDER = ("base", "forced", "family", "ablation", "sft", "dpo", "cutoff", "budget", "prompting", "other")
ESTIMATOR_LABELS = {
    "grpo": "group-normalised",
    "rloo-std": "group-normalised",
    "batch": "token-whitened",
}
"""How an RL run's ablation reads in labels (the paper's Fig. 5 ablation); others: "<name> advantage". ``batch`` is
the leave-one-out advantage whitened over every response token of the rollout (``advantage_estimator: rloo`` with
``whiten_advantages: tokens``); a run of an earlier thrifty's ``batch`` estimator, which whitened over the
responses, reads :data:`LEGACY_BATCH_LABEL`."""
LEGACY_BATCH_LABEL = "batch-normalised"

INFERENCE_DEFAULTS = {
    "thinking_budget": None,
    "min_thinking": None,
    "answer_budget": None,
    "answer_cue": None,
    "no_thinking": False,
    "prompt_style": "paper",
    "prompt_budget": None,
}
"""``thrifty eval``'s settings that control the length at inference time (budget forcing, NoThinking, the prompt
style), each with the value that leaves the model alone; an evaluation records only those it changed."""
STYLE_LABELS = {"chain-of-draft": "Chain of Draft", "concise": "concise"}
"""How a ``--prompt_style`` reads in labels; L1's are "L1 prompt (N tokens)" / "L1-Max prompt (N tokens)"."""


def inference_settings(summary: dict, config: dict | None = None) -> dict:
    """The :data:`INFERENCE_DEFAULTS` settings an evaluation changed, from its summary (else its ``config.json``);
    {} for a plain evaluation.

    Example:
        >>> inference_settings({"thinking_budget": 16, "prompt_style": "paper", "no_thinking": False})
        {'thinking_budget': 16}
    """
    config = config or {}
    found = {key: summary.get(key, config.get(key, default)) for key, default in INFERENCE_DEFAULTS.items()}
    return {key: value for key, value in found.items() if value not in (INFERENCE_DEFAULTS[key], None)}


def inference_label(settings: dict) -> str:
    """How a model evaluated with inference-time ``settings`` (:func:`inference_settings`) reads in tables and
    legends.

    Example:
        >>> inference_label({"thinking_budget": 16}), inference_label({"no_thinking": True})
        ('budget forcing 16 tokens', 'NoThinking')
        >>> inference_label({"prompt_style": "l1-max", "prompt_budget": 64, "answer_budget": 8})
        'L1-Max prompt (64 tokens), answer ≤ 8 tokens'
    """
    parts = []
    if settings.get("thinking_budget") is not None:
        parts.append(f"budget forcing {settings['thinking_budget']} tokens")
    if settings.get("min_thinking") is not None:
        parts.append(f"thinking ≥ {settings['min_thinking']} tokens")
    style = settings.get("prompt_style", "paper")
    if style.startswith("l1-"):
        parts.append(f"{'L1' if style == 'l1-exact' else 'L1-Max'} prompt ({settings.get('prompt_budget')} tokens)")
    elif style != "paper":
        parts.append(STYLE_LABELS.get(style, style))
    if settings.get("no_thinking"):
        parts.append("NoThinking")
    if settings.get("answer_budget") is not None:
        parts.append(f"answer ≤ {settings['answer_budget']} tokens")
    if settings.get("answer_cue") is not None:
        parts.append(f"cue {settings['answer_cue']!r}")
    return ", ".join(parts)


@dataclass
class ModelRun:
    """One model's results, as found on disk."""

    name: str
    folder: Path
    named: bool = False  # named by the user (NAME=PATH): that name is its label
    kind: str = "other"
    alpha: float | None = None
    estimator: str | None = None  # RL runs: the advantage estimator, or the ablation ("batch": token-whitened)
    whitening: str | None = None  # RL runs: whiten_advantages ("tokens"), if any
    profile: str | None = None  # RL runs: the update's profile (paper, official), if recorded
    departures: list[str] = field(default_factory=list)  # RL runs: pieces set off their profile's values
    info: dict = field(default_factory=dict)
    summaries: dict[str, dict] = field(default_factory=dict)
    samples: dict[str, Path] = field(default_factory=dict)

    @property
    def metrics(self) -> Path:
        return self.folder / runs.METRICS

    def training(self) -> dict:
        """How this model was trained (:func:`training_settings`); {} for a model thrifty did not train."""
        return training_settings(self.folder)

    def label(self) -> str:
        """How the model is named in tables and legends."""
        if self.named:
            return self.name
        update = ([] if self.profile != "official" else ["official update"]) + self.departures
        if self.kind == "family":
            return ", ".join([f"α={self.alpha:g}", *update])
        if self.kind == "ablation":
            if self.estimator == "batch" and self.whitening != "tokens":
                return f"α={self.alpha:g}, {LEGACY_BATCH_LABEL}"
            estimator = ESTIMATOR_LABELS.get(self.estimator, f"{self.estimator} advantage")
            return ", ".join([f"α={self.alpha:g}", estimator, *update])
        if self.kind in ("sft", "dpo"):
            lr = self.info.get("config", {}).get("learning_rate")
            return f"{self.kind.upper()}" + (f" (lr {lr:g})" if lr is not None else "")
        if self.kind == "cutoff":
            return f"cutoff {self.info.get('max_new_tokens')} tokens"
        if self.kind in ("budget", "prompting"):
            label = inference_label(self.info) or self.name
            # a plain evaluation's settings name the method, not the model: two models under one setting differ
            return f"{label} ({self.name})" if self.info.get("evaluation") else label
        return self.name

    def sort_key(self):
        extra = {
            "family": self.alpha,
            "ablation": self.alpha,
            "cutoff": self.info.get("max_new_tokens"),
            "budget": self.info.get("thinking_budget"),
            "sft": self.info.get("config", {}).get("learning_rate"),
            "dpo": self.info.get("config", {}).get("learning_rate"),
        }
        return (KIND_ORDER.index(self.kind), extra.get(self.kind) or 0, self.name)


def _estimator(args: dict) -> str:
    """The advantage estimator an RL run's ``thrifty_args.json`` names (runs made before the estimator registry
    recorded ``advantage_normalization`` none/group/batch instead), or ``batch`` for the leave-one-out advantages
    whitened over the rollout's tokens (``advantage_estimator: rloo``, ``whiten_advantages: tokens``) -- the
    normalisation ablation, except in an official-profile run, whose update whitens so (an α family of its own).

    Example:
        >>> _estimator({"advantage_estimator": "rloo", "whiten_advantages": "tokens", "profile": "paper"})
        'batch'
        >>> _estimator({"advantage_estimator": "rloo", "whiten_advantages": "tokens", "profile": "official"})
        'rloo'
    """
    legacy = {"none": "rloo", "group": "rloo-std", "batch": "batch"}
    estimator = args.get("advantage_estimator") or legacy.get(args.get("advantage_normalization", "none"), "rloo")
    if estimator == "grpo" and "dynamic_sampling" not in args:  # recorded before grpo became GRPO's own
        estimator = "rloo-std"
    if estimator == "rloo" and args.get("whiten_advantages") == "tokens" and args.get("profile") != "official":
        return "batch"
    return estimator


def _classify(run: ModelRun, base: str) -> None:
    args_file, baseline_file = run.folder / runs.RUN_ARGS, run.folder / runs.BASELINE
    if args_file.is_file():
        args = runs.read_json_object(args_file)
        alpha = args.get("alpha")
        run.alpha, run.estimator = (None if alpha is None else float(alpha)), _estimator(args)
        run.whitening, run.profile = args.get("whiten_advantages"), args.get("profile")
        run.departures = departures(args, skip=("whiten_advantages",) if run.estimator == "batch" else ())
        run.kind = "family" if run.estimator == "rloo" else "ablation"
        if args.get("reward", "length_penalized") not in PAPER_REWARDS or run.alpha is None:
            run.kind = "other"  # a peer's method: named by its folder, beside the family
    elif baseline_file.is_file():
        run.info = runs.read_json_object(baseline_file)
        run.kind = run.info.get("method", "other")
    elif run.name == base:
        run.kind = "base"


def _classify_evaluation(run: ModelRun, summary: dict, settings_path: Path) -> None:
    """What an evaluation's own settings say of a model that no file beside it names (or of a budget-forcing
    baseline: the settings its label needs): a response begun for the model makes it ``forced``; a thinking
    budget ``budget``; NoThinking or a prompt style ``prompting`` (:func:`inference_settings`), unless thrifty
    trained the model (an L1 model evaluated with its own budget prompt stays that model)."""
    if run.kind not in ("other", "base", "budget"):
        return
    config = (runs.read_json_object(settings_path) or {}) if settings_path.is_file() else {}
    inference = inference_settings(summary, config)
    if run.kind == "budget":  # baseline.json names the method and budget; the rest (--answer_budget...) is here
        run.info = {**inference, **run.info}
    elif config.get("response_prefix"):
        run.kind, run.info = "forced", {"response_prefix": config["response_prefix"], "model": summary.get("model")}
    elif inference and not (run.folder / runs.RUN_ARGS).is_file():  # a trained model keeps its kind and name
        run.kind = "budget" if "thinking_budget" in inference else "prompting"
        run.info = {**inference, "model": summary.get("model"), "evaluation": True}


def _split_spec(spec: str) -> tuple[str, str]:
    """``"PATH"`` or ``"NAME=PATH"`` -> ``(name or "", path)``; names and paths may hold "=" (``alpha=0.2``), so the
    split is the first "=" after which an existing folder follows."""
    if Path(spec).exists():
        return "", spec
    for i, char in enumerate(spec):
        if char == "=" and Path(spec[i + 1 :]).is_dir():
            return spec[:i], spec[i + 1 :]
    return "", spec


def _read_summary(path: Path) -> dict | None:
    """An evaluation's summary, or None: for a file of that name that is no evaluation's (a demo's), silently; for
    one beside an evaluation's samples that is empty or damaged (an evaluation cut short), with a warning."""
    evaluation = (path.parent / runs.SAMPLES).exists()
    try:
        summary = runs.read_json_object(path)
    except ValueError as error:
        summary = {}
        if not evaluation:
            logger.warning("skipping %s", error)
    if "accuracy" in summary and "mean_tokens" in summary:
        return summary
    if evaluation:
        logger.warning(
            "skipping %s: not a finished evaluation's summary; run the same thrifty eval again to rewrite it", path
        )
    return None


def _skipped(parts: tuple[str, ...]) -> bool:
    """Whether a file at ``parts`` (relative to a run folder) belongs to no model of this report: checkpoints, the
    baselines' sampled set (training prompts, not an evaluation), another seed's repeat of the same models
    (``thrifty demo --seeds``: a report of its own)."""
    if any(p.startswith("checkpoint-") for p in parts) or (len(parts) > 1 and parts[-2] == runs.SAMPLED_SET):
        return True
    return any(p.startswith(SEED_FOLDER) for p in parts[:-1])


def _add_training_runs(root: Path, label: str, base: str, models: dict[str, ModelRun]) -> int:
    """Add every training run under ``root`` that holds no evaluation yet (a ``metrics.jsonl``, no summary) to
    ``models``; returns how many were added."""
    known = {run.folder.resolve() for run in models.values()}
    added = 0
    for metrics in sorted(root.rglob(runs.METRICS)):
        folder = metrics.parent
        if _skipped(metrics.relative_to(root).parts) or folder.resolve() in known:
            continue
        name = label or folder.resolve().name
        if name in models:
            raise ValueError(
                f"two models are both called {name!r} ({models[name].folder} and {folder}); name them with NAME=PATH"
            )
        run = models[name] = ModelRun(name=name, folder=folder, named=bool(label))
        _classify(run, base)
        added += 1
    return added


def collect_runs(paths: list[str], base: str = "base") -> dict[str, ModelRun]:
    """Find every evaluated model under ``paths``, and every training run not evaluated yet (no ``summaries``);
    ``{name: ModelRun}`` in report order."""
    models: dict[str, ModelRun] = {}
    for spec in paths:
        label, path = _split_spec(spec)
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"no such run folder: {spec}")
        found = 0
        for summary_path in sorted(root.rglob(runs.SUMMARY)):
            if _skipped(summary_path.relative_to(root).parts):
                continue
            summary = _read_summary(summary_path)
            if summary is None:
                continue
            holder = summary_path.parent.parent
            folder = holder.parent if holder.name == "eval" else holder
            name = label or folder.resolve().name
            run = models.get(name)
            if run is not None and run.folder != folder:
                raise ValueError(
                    f"two models are both called {name!r} ({run.folder} and {folder}); name them with NAME=PATH"
                )
            if run is None:
                run = models[name] = ModelRun(name=name, folder=folder, named=bool(label))
                _classify(run, base)
            benchmark = summary.get("benchmark", summary_path.parent.name)
            run.summaries[benchmark] = summary
            run.samples[benchmark] = summary_path.parent / runs.SAMPLES
            _classify_evaluation(run, summary, summary_path.parent / runs.EVAL_SETTINGS)
            found += 1
        found += _add_training_runs(root, label, base, models)
        if not found:
            raise FileNotFoundError(
                f"{path} holds no evaluation (no summary.json written by thrifty eval) and no training run "
                "(no metrics.jsonl written by thrifty train)"
            )
    if not models:
        raise ValueError("no run folders given: thrifty report RUN_DIR [RUN_DIR ...] --out DIR")
    labels: dict[str, list[str]] = {}
    for run in models.values():
        labels.setdefault(run.label(), []).append(run.name)
    clashes = {label: names for label, names in labels.items() if len(names) > 1}
    if clashes:
        raise ValueError(f"models would share a label in the report: {clashes}; name them with NAME=PATH")
    return dict(sorted(models.items(), key=lambda item: item[1].sort_key()))


def live_targets(models: dict[str, ModelRun]) -> dict[str, dict]:
    """``{label: evaluation settings}`` of the models to ask questions live: each model's first evaluation's
    ``config.json`` (model path, backend, prompt template, token limit). Cutoff, forced, budget-forcing and
    prompting runs are their base model with a shorter limit, a response begun for it, a thinking budget or
    another prompt, which a live answer would not apply, so they are left out."""
    targets = {}
    for run in models.values():
        if run.kind in ("cutoff", "forced", "budget", "prompting") or not run.samples:
            continue
        settings = next(iter(run.samples.values())).parent / runs.EVAL_SETTINGS
        if settings.is_file():
            targets[run.label()] = runs.read_json_object(settings)
    return targets


def _last_trainer_state(folder: Path) -> dict:
    """The ``trainer_state.json`` of the run's last checkpoint, or {}."""
    checkpoints = sorted(
        (p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    for checkpoint in reversed(checkpoints):
        try:
            state = runs.read_json_object(checkpoint / runs.TRAINER_STATE)
        except ValueError:
            continue  # torn by a kill: an earlier checkpoint's will do
        if state:
            return state
    return {}


def training_settings(folder: Path) -> dict:
    """How the model in ``folder`` was trained, from the files a training run leaves (each may be missing; {} for
    a folder that holds none): the method from ``thrifty_args.json`` (``alpha``, ``reward``, ``advantage_estimator``,
    ``prompts``...), TRL's config from ``train_config.json`` (``model_name_or_path``, ``learning_rate``,
    ``temperature`` -- the rollout temperature --, ``num_generations``, ``max_completion_length``, ``max_steps``,
    ``seed``...), else what ``run_started.json`` recorded (``thrifty demo``: ``base``, ``lr``, ``steps``,
    ``seed``); ``steps_done`` from the last checkpoint's ``trainer_state.json`` or ``metrics.jsonl``; and
    ``updates_per_rollout`` (``steps_per_generation / gradient_accumulation_steps``) where the config says. A
    baseline's ``baseline.json`` gives its ``method`` and fine-tuning config, and its sampled set's temperature,
    samples per prompt (``num_generations``) and token limit.
    """
    folder = Path(folder)
    settings: dict = {}

    def read(name: str) -> dict:
        try:
            return runs.read_json_object(folder / name) or {}
        except ValueError:
            return {}

    started = read(runs.RUN_STARTED)
    if started:
        renamed = {"base": "model_name_or_path", "lr": "learning_rate", "steps": "max_steps"}
        settings.update({renamed.get(k, k): v for k, v in started.items() if not isinstance(v, dict)})
    settings.update(read(runs.TRAIN_CONFIG))
    settings.update(read(runs.RUN_ARGS))
    baseline = read(runs.BASELINE)
    if baseline.get("method") in ("sft", "dpo"):  # fine-tuned on the base's samples of the training prompts
        sampled = baseline.get("sampled_set") or {}
        settings.update(baseline.get("config") or {})
        settings.update(method=baseline["method"], model_name_or_path=baseline.get("model"))
        settings.update(temperature=sampled.get("temperature"), num_generations=sampled.get("samples"))
        settings.update(max_completion_length=sampled.get("max_new_tokens"), prompts=sampled.get("benchmark"))
    state = _last_trainer_state(folder)
    if state.get("global_step") is not None:
        settings["steps_done"] = state["global_step"]
    metrics = folder / runs.METRICS
    if metrics.is_file():
        steps = [r["step"] for r in runs.read_jsonl(metrics) if isinstance(r.get("step"), int)]
        if steps:
            settings["steps_done"] = max(steps + [settings.get("steps_done", 0)])
    per_generation, accumulation = settings.get("steps_per_generation"), settings.get("gradient_accumulation_steps")
    if per_generation and accumulation:
        settings["updates_per_rollout"] = per_generation / accumulation
    return settings
