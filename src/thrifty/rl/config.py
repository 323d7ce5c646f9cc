"""What a training run is configured by: thrifty's method arguments and TRL's ``GRPOConfig`` with the paper pinned.

:class:`ThriftyArguments` names the group reward and the advantage estimator (both chosen from their registries,
:mod:`thrifty.rewards` and :mod:`thrifty.advantages`) and where the prompts come from; :class:`TrainConfig` is
TRL's config with every behaviour-changing default set to the paper's value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from trl import GRPOConfig

from thrifty import rewards
from thrifty.advantages import get_advantage
from thrifty.args import PromptArguments
from thrifty.data.prompts import OFFICIAL_PROMPT_TEMPLATE
from thrifty.data.registry import get_benchmark
from thrifty.profiles import CHOICES, PROFILE_TRAINING, PROFILES
from thrifty.rewards import LengthPenalized, make_reward, reward_default, reward_factory, reward_parameters
from thrifty.rl.trainer import DYNAMIC_SAMPLING


@dataclass
class ThriftyArguments(PromptArguments):
    """What thrifty adds to TRL's arguments: the method -- reward, its α, advantage estimator -- and the prompts."""

    reward: str = field(
        default="length_penalized",
        metadata={
            "help": "Group reward, by registered name (thrifty.rewards; your.module:name for your own): "
            + ", ".join(rewards.REWARDS)
            + ". length_penalized (= arora) is the paper's; recipes/zoo/ has one recipe per method."
        },
    )
    alpha: float | None = field(
        default=None,
        metadata={
            "help": "The reward's α (the paper's: length-penalty strength in [0, 1), default 0.2; 0 = correctness "
            "only). Default: the reward's own."
        },
    )
    reward_kwargs: dict | str | None = field(
        default=None,
        metadata={"help": "The reward's other parameters, as a YAML mapping or a JSON string (α is --alpha)."},
    )
    dynamic_sampling: str = field(
        default="none",
        metadata={
            "help": "Leave groups out of the update (DAPO's dynamic sampling, without refilling the batch): none; "
            "accuracy (groups all right or all wrong: DAPO); reward (groups whose rewards are all equal)."
        },
    )
    advantage_estimator: str = field(
        default="rloo",
        metadata={
            "help": "rloo (the paper), grpo (GRPO's: minus the group mean, over the group std; the Fig. 5 "
            "ablation), rloo-std (leave-one-out over the group std), reinforce++-baseline (minus the group mean, over "
            "the rollout's std); any name registered in thrifty.advantages."
        },
    )
    profile: str = field(
        default="paper",
        metadata={
            "help": "paper: the update the paper describes; official: the one the released models were trained with "
            "(Zanette-Labs/efficient-reasoning): it sets every flag below and warmup_steps 6, max_completion_length "
            "32000, unless given."
        },
    )
    kl_penalty: str | None = field(
        default=None,
        metadata={
            "help": "Where the KL to the reference (--beta) acts: loss (TRL's k3 term; paper) or reward (the "
            "official per-token k1 penalty, summed to go, in the advantages)."
        },
    )
    whiten_advantages: str | None = field(
        default=None,
        metadata={
            "help": "none (paper) or tokens (official: whitened over every response token of the rollout, after "
            "the KL)."
        },
    )
    grade_truncated: bool | None = field(
        default=None,
        metadata={
            "nargs": "?",
            "const": True,
            "help": "false (paper): a response cut at the limit earns 0; true (official): its last token counts as "
            "EOS, its answer is checked and a correct one is rewarded against its group's finished correct ones.",
        },
    )
    length_measure: str | None = field(
        default=None,
        metadata={
            "help": "tokens (paper: generated tokens, EOS included) or official (prompt + response decoded, "
            "re-tokenised without special tokens, plus BOS)."
        },
    )
    length_unit: str = field(
        default="response",
        metadata={"help": "What the reward measures: response (all of it) or thinking (up to </think>)."},
    )
    prompt_format: str | None = field(
        default=None,
        metadata={
            "help": "chat (paper: the template's text as a user turn through the chat template) or raw (official: "
            "the template is the whole prompt, default the official DeepSeek-R1 string, no <think> opened)."
        },
    )
    max_prompt_length: int | None = field(
        default=None,
        metadata={"help": "Cut prompts to their first N tokens (official: 512); 0 = never (paper)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.profile not in PROFILES:
            raise ValueError(f"--profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")
        chosen = [name for name in PROFILES[self.profile] if getattr(self, name) is None]
        for name in chosen:
            setattr(self, name, PROFILES[self.profile][name])

        def given(name: str) -> str:  # a value the user did not give is named as the profile's
            return f"--{name} {getattr(self, name)}" + (f" (of --profile {self.profile})" if name in chosen else "")

        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"--{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        if self.max_prompt_length < 0:
            raise ValueError(f"--max_prompt_length must be >= 0 (0 = no limit), got {self.max_prompt_length}")
        if self.advantage_estimator == "batch":
            raise ValueError(
                "--advantage_estimator batch is gone: whitening is its own step now. Use --advantage_estimator rloo "
                "--whiten_advantages tokens (the official code's whitening over every response token)"
            )
        if self.length_unit == "thinking" and self.length_measure == "official":
            raise ValueError(
                f"--length_unit thinking counts generated tokens, not {given('length_measure')}: add "
                "--length_measure tokens"
            )
        if self.dynamic_sampling not in DYNAMIC_SAMPLING:
            raise ValueError(
                f"--dynamic_sampling must be one of {', '.join(DYNAMIC_SAMPLING)}, got {self.dynamic_sampling!r}"
            )
        for flag, check in (("reward", reward_parameters), ("advantage_estimator", get_advantage)):
            try:
                check(getattr(self, flag))
            except (ValueError, ImportError) as error:
                raise ValueError(f"--{flag}: {error}") from error
        if self.alpha is None:  # the reward's own α, when it has one
            self.alpha = reward_default(self.reward, "alpha")
        elif "alpha" not in reward_parameters(self.reward):
            raise ValueError(
                f"--alpha: the reward {self.reward!r} has no α; its parameters "
                f"({', '.join(reward_parameters(self.reward))}) go in --reward_kwargs"
            )
        if self.alpha is not None and reward_factory(self.reward) is LengthPenalized and not 0 <= self.alpha < 1:
            raise ValueError(f"--alpha must be in [0, 1), got {self.alpha}")
        if isinstance(self.reward_kwargs, str):
            try:
                self.reward_kwargs = json.loads(self.reward_kwargs)
            except json.JSONDecodeError as error:
                raise ValueError(f"--reward_kwargs must be a JSON object, got {self.reward_kwargs!r}") from error
        if self.reward_kwargs is not None and not isinstance(self.reward_kwargs, dict):
            raise ValueError(
                f"--reward_kwargs must be a mapping of parameter names to values, got {self.reward_kwargs!r}"
            )
        if "alpha" in (self.reward_kwargs or {}):
            raise ValueError(
                "--reward_kwargs alpha: set it with --alpha (one α, recorded with the run as the one it trained with)"
            )
        if "grade_truncated" in (self.reward_kwargs or {}):
            raise ValueError(
                "--reward_kwargs grade_truncated: set it with --grade_truncated, so that the trainer also checks a "
                "truncated response as the official code does"
            )
        self.check_reward()
        if self.grade_truncated and "grade_truncated" not in reward_parameters(self.reward):
            raise ValueError(
                f"{given('grade_truncated')}: the reward {self.reward!r} has no rule for truncated responses (a "
                "grade_truncated parameter); add --grade_truncated false"
            )

    def reward_params(self) -> dict:
        """The parameters the reward is made with: ``--alpha`` (the reward's own α unless given), ``--grade_truncated``
        when set, and ``--reward_kwargs``."""
        alpha = getattr(self, "alpha", None)
        params = {} if alpha is None or "alpha" not in reward_parameters(self.reward) else {"alpha": alpha}
        if getattr(self, "grade_truncated", False):
            params["grade_truncated"] = True
        return {**params, **(self.reward_kwargs or {})}

    def check_reward(self) -> None:
        """Make the reward once, so a bad or missing parameter is one line now rather than an error at the first
        rollout (a registered class only: a factory function of your own may have effects)."""
        factory = reward_factory(self.reward)
        if isinstance(factory, type):
            try:
                make_reward(self.reward, **self.reward_params())
            except ValueError as error:
                message = str(error).replace(f"reward {self.reward!r} ", "", 1).removeprefix(f"{self.reward}: ")
                raise ValueError(f"--reward {self.reward}: {message}") from error

    def template(self) -> str:
        """The prompt template: ``--prompt_template``, else the prompt set's own, else the official raw prompt
        (``--prompt_format raw``) or the paper's."""
        if self.prompt_template is None and self.prompt_format == "raw" and get_benchmark(self.prompts) is None:
            return OFFICIAL_PROMPT_TEMPLATE
        return super().template()


@dataclass
class TrainConfig(GRPOConfig):
    """TRL's ``GRPOConfig`` with the paper's values as defaults, every behaviour-changing one pinned.

    TRL's own defaults differ and drift between releases (1.16: ``loss_type="dapo"``, ``scale_rewards="group"``,
    ``beta=0``, ``bf16=True``, ``use_bias_correction_kl=True``); a recipe that leaves a key out gets the
    paper's value, not TRL's.
    """

    learning_rate: float = field(default=5e-6, metadata={"help": "Paper: 5e-6 (1.5B), 2e-6 (7B)."})
    lr_scheduler_type: str = field(default="constant_with_warmup", metadata={"help": "Paper: warmup, then constant."})
    warmup_steps: float = field(default=0.05, metadata={"help": "Warmup steps (int) or fraction of steps (< 1)."})
    num_generations: int = field(default=8, metadata={"help": "Samples per prompt (paper: 8)."})
    temperature: float = field(default=1.0, metadata={"help": "Rollout temperature (paper: 1.0)."})
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    beta: float = field(default=1e-3, metadata={"help": "KL coefficient to the reference model (paper: 1e-3)."})
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range (paper: 0.2)."})
    importance_sampling_level: str = field(default="token", metadata={"help": "PPO ratio per token, as in the paper."})
    loss_type: str = field(default="grpo", metadata={"help": "Per-sequence token mean, then batch mean (OpenRLHF)."})
    scale_rewards: str = field(
        default="none",
        metadata={"help": "Unused by thrifty (advantages come from --advantage_estimator); kept at 'none'."},
    )
    mask_truncated_completions: bool = field(
        default=False, metadata={"help": "Truncated responses stay in the loss with reward 0, as in the paper."}
    )
    use_bias_correction_kl: bool = field(default=False, metadata={"help": "Plain k3 KL estimator, no IS reweighting."})
    num_iterations: int = field(default=1, metadata={"help": "Passes over each rollout (paper: 1)."})
    epsilon_high: float | None = field(
        default=None, metadata={"help": "Upper clip; None = epsilon (symmetric, as the paper)."}
    )
    top_entropy_quantile: float = field(default=1.0, metadata={"help": "Train on all tokens (1.0), as the paper."})
    entropy_coef: float = field(default=0.0, metadata={"help": "No entropy bonus, as the paper."})
    vllm_importance_sampling_correction: bool = field(
        default=False, metadata={"help": "TRL's vLLM/trainer mismatch correction; the paper has none."}
    )
    bf16: bool = field(default=False, metadata={"help": "bf16 mixed precision (GPU recipes set true)."})
    disable_dropout: bool = True
    logging_steps: float = 1
    report_to: str | list[str] = field(default="tensorboard", metadata={"help": "tensorboard, wandb, none, ..."})
    save_strategy: str = "steps"
    save_steps: float = field(
        default=50, metadata={"help": "Checkpoint every N steps; keep it a whole number of rollouts."}
    )
    log_completions: bool = False


def explicit_keys(argv: list[str], known: Iterable[str] = ()) -> set[str]:
    """The options a command line sets: its ``--name`` flags and the keys of its ``--config`` YAML recipe. A flag
    abbreviated as argparse allows (``--max_completion_len``) counts as the one option in ``known`` it begins.

    Example:
        >>> sorted(explicit_keys(["--alpha", "0.1", "--warmup_steps=3", "--max_comp", "9"], ["max_completion_length"]))
        ['alpha', 'max_completion_length', 'warmup_steps']
    """
    from pathlib import Path

    import yaml

    known = set(known)
    keys = set()
    for arg in argv:
        if not arg.startswith("--"):
            continue
        key = arg[2:].split("=", 1)[0].replace("-", "_")
        completions = [name for name in known if name.startswith(key)]
        keys.add(completions[0] if key not in known and len(completions) == 1 else key)
    if "--config" in argv[:-1]:
        keys |= set(yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text(encoding="utf-8")) or {})
    return keys - {"config"}


def check_recipe_alpha(argv: list[str]) -> None:
    """Refuse a recipe's α for another reward: a ``--config`` recipe that sets ``alpha`` for its reward, and a command
    line that names another ``--reward`` without its own ``--alpha``. Each reward's α means something else (the
    paper's 0.2 would be ShorterBetter's correctness bonus, L1's per-token rate), so it is not carried over.

    Example:
        >>> check_recipe_alpha(["--alpha", "0.1", "--reward", "kimi"])  # no recipe: nothing to carry over
    """
    from pathlib import Path

    import yaml

    def value(flag: str) -> str | None:
        for i, arg in enumerate(argv):
            if arg == flag and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
        return None

    path, reward = value("--config"), value("--reward")
    if path is None or reward is None or value("--alpha") is not None or not Path(path).is_file():
        return
    recipe = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    named = recipe.get("reward", "length_penalized")
    if "alpha" not in recipe or reward == named:
        return
    try:
        same = reward_factory(reward) is reward_factory(named)
    except (ValueError, ImportError):
        return  # an unknown name is reported by the argument check
    if not same:
        raise ValueError(
            f"{path} sets alpha {recipe['alpha']} for its reward {named!r}, and --reward {reward} has its own α: give "
            f"--alpha for it, or start from recipes/zoo/<model>/{reward}.yaml"
        )


def option_names(*dataclass_types) -> set[str]:
    """The option names of ``dataclass_types``' fields (what ``--name`` flags parse into)."""
    return {f.name for cls in dataclass_types for f in fields(cls)}


def apply_profile(args: ThriftyArguments, config: TrainConfig, explicit: Iterable[str] | None = None) -> None:
    """Set the TRL settings of ``args.profile`` (:data:`thrifty.profiles.PROFILE_TRAINING`) on ``config``, except
    those in ``explicit`` (given by the recipe or the command line: :func:`explicit_keys`). Without ``explicit``
    (a ``TrainConfig`` built in Python), a setting counts as given when it differs from ``TrainConfig``'s default.
    Done once per config: ``thrifty.rl.train`` applies it where the caller did not."""
    if explicit is None:
        defaults = TrainConfig.__dataclass_fields__
        explicit = {name for name in PROFILE_TRAINING[args.profile] if getattr(config, name) != defaults[name].default}
    explicit = set(explicit)
    for name, value in PROFILE_TRAINING[args.profile].items():
        if name not in explicit:
            setattr(config, name, value)
    config.thrifty_profile = args.profile
