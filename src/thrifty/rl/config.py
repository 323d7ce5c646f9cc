"""What a training run is configured by: thrifty's method arguments and TRL's ``GRPOConfig`` with the paper pinned.

:class:`ThriftyArguments` names the group reward and the advantage estimator (both chosen from their registries,
:mod:`thrifty.rewards` and :mod:`thrifty.advantages`) and where the prompts come from; :class:`TrainConfig` is
TRL's config with every behaviour-changing default set to the paper's value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from trl import GRPOConfig

from thrifty.advantages import get_advantage
from thrifty.args import PromptArguments
from thrifty.rewards import reward_parameters


@dataclass
class ThriftyArguments(PromptArguments):
    """What thrifty adds to TRL's arguments: the method -- reward, its α, advantage estimator -- and the prompts."""

    reward: str = field(
        default="length_penalized",
        metadata={"help": "Group reward, by registered name (thrifty.rewards): length_penalized is the paper's."},
    )
    alpha: float = field(default=0.2, metadata={"help": "Length-penalty strength α in [0, 1); 0 = correctness only."})
    reward_kwargs: dict | str | None = field(
        default=None,
        metadata={"help": "The reward's other parameters, as a YAML mapping or a JSON string (α is --alpha)."},
    )
    advantage_estimator: str = field(
        default="rloo",
        metadata={
            "help": "rloo (the paper), grpo (normalised by the group's reward std) or batch (whitened over the "
            "rollout): the Fig. 5 ablation; any name registered in thrifty.advantages."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.alpha < 1:
            raise ValueError(f"--alpha must be in [0, 1), got {self.alpha}")
        for flag, check in (("reward", reward_parameters), ("advantage_estimator", get_advantage)):
            try:
                check(getattr(self, flag))
            except (ValueError, ImportError) as error:
                raise ValueError(f"--{flag}: {error}") from error
        if isinstance(self.reward_kwargs, str):
            try:
                self.reward_kwargs = json.loads(self.reward_kwargs)
            except json.JSONDecodeError as error:
                raise ValueError(f"--reward_kwargs must be a JSON object, got {self.reward_kwargs!r}") from error
        if self.reward_kwargs is not None and not isinstance(self.reward_kwargs, dict):
            raise ValueError(
                f"--reward_kwargs must be a mapping of parameter names to values, got {self.reward_kwargs!r}"
            )


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
