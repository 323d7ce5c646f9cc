"""The RL step in one direction: TRL's rollout -> gather -> group reward -> advantage estimator -> TRL's loss.

:class:`ThriftyTrainer` is TRL's ``GRPOTrainer`` with the scoring and the advantages made thrifty's. TRL
generates a rollout (``generation_batch_size`` responses: prompts × ``num_generations``, split over the
processes) and then calls two overridable steps, which this class fills in:

1. :meth:`ThriftyTrainer._calculate_rewards` -- each process checks its own responses' answers, then every
   process gathers (prompt, correct, token length, finished, problem id) of the *whole* rollout, in rank order
   (TRL's layout: response ``i`` answers prompt ``i // num_generations``, so a prompt's responses may straddle
   two processes), and applies the group reward (a pure function, :mod:`thrifty.rewards`) to all of it.
2. after TRL's own bookkeeping, the advantage estimator named by ``--advantage_estimator``
   (:mod:`thrifty.advantages`) runs on the whole rollout's rewards and group ids, and this process's slice
   replaces TRL's advantages (TRL's own never enter; ``--advantage_estimator grpo`` is GRPO's, computed here).
   With ``--dynamic_sampling``, groups without a signal are left out of the estimator and the loss first.
   Then, each its own flag (both on with ``--profile official``): the KL to the reference summed to go
   (``--kl_penalty reward``, per token; TRL's loss then has no KL term) and the whitening over every response
   token of the rollout, with statistics summed over all processes (``--whiten_advantages tokens``).

The reward returns floats; the trainer reads nothing of it but the numeric parameters of a dataclass reward
(logged with the rollout's metrics). A reward that keeps state (``state_dict`` / ``load_state_dict``) has it
saved in every checkpoint and restored on resume, without the trainer looking inside. A per-token estimator gets
the sampling policy's and the reference model's log-probs of every response token (computed here where TRL did
not need them); one that carries the KL in its advantages (``kl_in_advantage``) takes it out of TRL's loss.

Why ``GRPOTrainer`` and not ``RLOOTrainer`` (see docs/FIDELITY.md): the paper's update is PPO with a *per-token*
clipped ratio (OpenRLHF). TRL 1.16's ``RLOOTrainer`` clips one *sequence-level* ratio; ``GRPOTrainer`` clips per
token.
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields, is_dataclass
from pathlib import Path

import torch
from trl import GRPOTrainer

from thrifty import runs
from thrifty.advantages import TokenTerms, get_advantage, kl_reward_to_go, whiten_tokens
from thrifty.card import CardFacts, ThriftyModelCard, rl_facts
from thrifty.lengths import end_of_thinking_id, official_length, thinking_tokens
from thrifty.rewards import REWARDS, GroupReward, Rollout, StatefulReward, groups, kept_groups
from thrifty.rl.vllm_cpu import use_cpu_weight_sync


logger = logging.getLogger(__name__)

_NOT_COLUMNS = ("prompt", "answer", "problem_id", "completion", "completion_ids")

DYNAMIC_SAMPLING = ("none", "accuracy", "reward")
"""``--dynamic_sampling``: off, or which groups are left out (all right or all wrong; all rewards equal)."""

TOKEN_COUNT_LOSSES = ("dapo", "bnpo", "cispo", "vespo")
"""TRL 1.16's losses divided by the number of tokens trained on (``num_items_in_batch`` or the micro-batch's mask
sum): the ones a response left out of the loss mask leaves no trace in, so dynamic sampling needs one of them."""


def _scored_by_thrifty(name: str):
    """What TRL is given as its reward function: only its name is used (for logging); scoring is
    :meth:`ThriftyTrainer._calculate_rewards`."""

    def scored_by_thrifty(*args, **kwargs):
        raise RuntimeError("ThriftyTrainer scores rollouts itself (_calculate_rewards); TRL must not call this")

    scored_by_thrifty.__name__ = name
    return scored_by_thrifty


class ThriftyTrainer(ThriftyModelCard, GRPOTrainer):
    """``GRPOTrainer`` that scores each rollout with a group reward and takes its advantages from a registered
    estimator, both on the whole rollout across processes.

    Args:
        reward (`GroupReward`): the group reward (e.g. ``make_reward("length_penalized", alpha=0.2)``).
        reward_name (`str`, *optional*): its name in TRL's logs (``rewards/<name>/mean``); default: its type's name.
        advantage_estimator (`str`, defaults to ``"rloo"``): a name registered in :mod:`thrifty.advantages`.
        verifier: checks final answers: ``verifier.verify(texts, golds, mode) -> [Verdict]`` (a
            :class:`thrifty.verify.VerifierPool`).
        verifier_mode (`str`, defaults to ``"math-verify"``): the verifier's mode.
        kl_penalty (`str`, defaults to ``"loss"``): ``loss``: TRL's KL term in the loss (``--beta``); ``reward``: the
            official code's per-token k1 penalty summed to go in the advantages
            (:func:`thrifty.advantages.kl_reward_to_go`), and none in the loss.
        whiten_advantages (`str`, defaults to ``"none"``): ``tokens``: the final advantages whitened over every
            response token of the rollout, all processes (:func:`thrifty.advantages.whiten_tokens`).
        grade_truncated (`bool`, defaults to False): check the answer of a response cut at the limit without its
            last token, which the official code overwrites with EOS (the reward decides what it earns).
        length_measure (`str`, defaults to ``"tokens"``): ``tokens``: generated tokens, EOS included; ``official``:
            :func:`thrifty.lengths.official_length` (of the response as the official code sees it).
        length_unit (`str`, defaults to ``"response"``): ``thinking``: only the tokens up to ``</think>``.
        max_prompt_length (`int`, defaults to 0): keep the first N tokens of each prompt (0: all).
        dynamic_sampling (`str`, defaults to ``"none"``): leave groups out of the update, DAPO's dynamic sampling
            without refilling the batch (:func:`thrifty.rewards.kept_groups`): ``accuracy`` drops groups all
            right or all wrong, ``reward`` groups whose rewards are all equal. Their responses get advantage 0,
            the estimator sees only the kept ones, and the loss (and its token count) leaves them out; it needs a
            loss divided by its token count (:data:`TOKEN_COUNT_LOSSES`, e.g. ``dapo``).
        model_card (`CardFacts`, *optional*): what the model card states (:mod:`thrifty.card`); default: what the
            trainer knows (its base model, reward, estimator and config; the prompts' source is then not named).
            ``push_to_hub`` publishes this card and the model, never the run's private files
            (:data:`thrifty.card.NOT_PUBLISHED`).
        *args, **kwargs: ``GRPOTrainer``'s, without ``reward_funcs``. The training set has columns ``prompt``,
            ``answer`` (the gold answer) and ``problem_id``; any other column reaches the reward in
            :attr:`Rollout.columns`.
    """

    def __init__(
        self,
        *args,
        reward: GroupReward,
        verifier,
        reward_name: str | None = None,
        advantage_estimator: str = "rloo",
        verifier_mode: str = "math-verify",
        kl_penalty: str = "loss",
        whiten_advantages: str = "none",
        grade_truncated: bool = False,
        length_measure: str = "tokens",
        length_unit: str = "response",
        max_prompt_length: int = 0,
        dynamic_sampling: str = "none",
        model_card: CardFacts | None = None,
        **kwargs,
    ):
        name = reward_name or type(reward).__name__
        estimator = get_advantage(advantage_estimator)
        if kl_penalty not in ("loss", "reward") or whiten_advantages not in ("none", "tokens"):
            raise ValueError(
                f"kl_penalty must be loss or reward, whiten_advantages none or tokens; got "
                f"{kl_penalty!r}, {whiten_advantages!r}"
            )
        if kl_penalty == "reward" and estimator.kl_in_advantage:
            raise ValueError(
                f"--advantage_estimator {advantage_estimator} carries the KL itself: use --kl_penalty loss"
            )
        if length_measure not in ("tokens", "official") or length_unit not in ("response", "thinking"):
            raise ValueError(
                f"length_measure must be tokens or official, length_unit response or thinking; got "
                f"{length_measure!r}, {length_unit!r}"
            )
        if dynamic_sampling not in DYNAMIC_SAMPLING:
            raise ValueError(f"dynamic_sampling must be none, accuracy or reward; got {dynamic_sampling!r}")
        loss_type = getattr(kwargs.get("args"), "loss_type", None)
        if dynamic_sampling != "none" and loss_type not in TOKEN_COUNT_LOSSES:
            raise ValueError(
                f"--dynamic_sampling {dynamic_sampling} needs a loss normalised by the tokens it trains on "
                f"(--loss_type {' or '.join(TOKEN_COUNT_LOSSES)}): with --loss_type {loss_type} the responses left "
                "out would still count in its mean and shrink every update"
            )
        if length_measure == "official" and length_unit == "thinking":
            raise ValueError("--length_unit thinking counts generated tokens: use it with --length_measure tokens")
        super().__init__(*args, reward_funcs=[_scored_by_thrifty(name)], **kwargs)
        use_cpu_weight_sync(self)  # colocated vLLM on a CPU: TRL's own weight sync fails there
        self.reward_name, self.advantage_estimator, self.model_card = name, advantage_estimator, model_card
        self.reward, self.estimator = reward, estimator
        self.verifier, self.verifier_mode = verifier, verifier_mode
        self.eos_ids = set(self.eos_token_ids)
        self.kl_penalty, self.whiten_advantages = kl_penalty, whiten_advantages
        self.grade_truncated, self.length_measure, self.length_unit = grade_truncated, length_measure, length_unit
        self.max_prompt_length, self.dynamic_sampling = max_prompt_length, dynamic_sampling
        self.end_of_thinking = end_of_thinking_id(self.processing_class) if length_unit == "thinking" else None
        if length_unit == "thinking" and self.end_of_thinking is None:
            raise ValueError("--length_unit thinking: the tokenizer has no </think> token (not a thinking model)")
        self.kl_coef = self.beta
        if estimator.kl_in_advantage or kl_penalty == "reward":
            if self.beta == 0.0:
                where = (
                    f"--advantage_estimator {advantage_estimator}"
                    if estimator.kl_in_advantage
                    else "--kl_penalty reward"
                )
                raise ValueError(f"{where} puts the KL in the advantages: --beta is its coefficient and must be > 0")
            self.beta = 0.0  # TRL built the reference model for beta > 0; its loss now leaves the KL to the advantages
        self._scored: tuple[Rollout, list[float], slice] | None = None
        self._prompt_ids: list[list[int]] = []
        self._warned_cut = False

    # ----------------------------------------------------------------------------------------- 1. score
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        """The group reward of the whole rollout, as TRL expects it: a ``(rollout size, 1)`` tensor."""
        from accelerate import PartialState
        from accelerate.utils import gather_object

        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        finished = [bool(ids) and ids[-1] in self.eos_ids for ids in completion_ids_list]
        if self.grade_truncated:  # the official trainer overwrites a cut response's last token with EOS
            decode = self.processing_class.decode
            texts = [
                t if done else decode(list(ids[:-1]), skip_special_tokens=True)
                for t, ids, done in zip(texts, completion_ids_list, finished, strict=True)
            ]
        verdicts = self.verifier.verify(texts, [x["answer"] for x in inputs], self.verifier_mode)
        names = [k for k in inputs[0] if k not in _NOT_COLUMNS]
        lengths = self._lengths(completion_ids_list, finished)
        local = [
            (str(prompt), v.correct, length, done, x.get("problem_id"), len(ids)) + tuple(x[k] for k in names)
            for prompt, v, length, done, x, ids in zip(
                prompts, verdicts, lengths, finished, inputs, completion_ids_list, strict=True
            )
        ]
        state = PartialState()
        everything = gather_object(local) if state.num_processes > 1 else local
        sizes = gather_object([len(local)]) if state.num_processes > 1 else [len(local)]
        start = sum(sizes[: state.process_index])

        n = self.num_generations if self.model.training else self.num_generations_eval
        if len(everything) % n:
            raise RuntimeError(f"rollout of {len(everything)} responses is not a whole number of groups of {n}")
        group_ids = [i // n for i in range(len(everything))]
        if any(row[0] != everything[g * n][0] for row, g in zip(everything, group_ids, strict=True)):
            raise RuntimeError("a prompt's samples are not contiguous in the rollout; TRL's sampler layout changed")
        keys, correct, lengths, finished, problem_ids, generated, *values = (
            list(column) for column in zip(*everything, strict=True)
        )
        rollout = Rollout(
            group_ids=group_ids,
            correct=correct,
            lengths=lengths,
            finished=finished,
            problem_ids=problem_ids,
            step=self.state.global_step,
            columns=dict(zip(names, values, strict=True)),
            training=self.model.training,
        )
        rewards = self.reward(rollout)
        if len(rewards) != len(rollout):
            raise RuntimeError(f"the reward returned {len(rewards)} values for a rollout of {len(rollout)} responses")
        self._scored = (rollout, rewards, slice(start, start + len(local)))
        self._log_rollout(rollout, generated)
        return torch.tensor(rewards, dtype=torch.float32, device=self.accelerator.device).unsqueeze(1)

    def _lengths(self, completion_ids_list, finished) -> list[int]:
        """Each response's length as ``--length_measure`` / ``--length_unit`` count it."""
        if self.length_unit == "thinking":
            return [thinking_tokens(ids, self.end_of_thinking) for ids in completion_ids_list]
        if self.length_measure == "tokens":
            return [len(ids) for ids in completion_ids_list]
        if len(self._prompt_ids) != len(completion_ids_list):
            raise RuntimeError("the official length needs the rollout's prompt ids; TRL's prompt tokenization changed")
        eos = self.processing_class.eos_token_id
        return [  # as the official server sees a response: a cut one ends in EOS, written over its last token
            official_length(self.processing_class, prompt, list(ids) if done else list(ids[:-1]) + [eos])
            for prompt, ids, done in zip(self._prompt_ids, completion_ids_list, finished, strict=True)
        ]

    def _tokenize_prompts(self, prompts: list):
        """TRL's prompt tokenization, each prompt cut to its first ``max_prompt_length`` tokens (the official
        code's right truncation at 512), and the ids kept for the official length measure."""
        prompt_ids, images, multimodal_fields = super()._tokenize_prompts(prompts)
        if self.max_prompt_length:
            cut = sum(len(ids) > self.max_prompt_length for ids in prompt_ids)
            if cut and not self._warned_cut:
                self._warned_cut = True
                logger.warning(
                    "%d of %d prompts of this rollout are longer than --max_prompt_length %d and lose their end "
                    "(the official code's right truncation; a chat prompt loses its assistant header). Said once.",
                    cut,
                    len(prompt_ids),
                    self.max_prompt_length,
                )
            prompt_ids = [list(ids[: self.max_prompt_length]) for ids in prompt_ids]
        self._prompt_ids = [list(ids) for ids in prompt_ids]
        return prompt_ids, images, multimodal_fields

    def _log_rollout(self, rollout: Rollout, generated: list[int]) -> None:
        """Accuracy, generated tokens and truncation of the rollout, the lengths the reward measured when they are
        another count (``--length_measure`` / ``--length_unit``), and the reward's numeric parameters (e.g.
        ``alpha``)."""
        solved = [n for n, c, f in zip(generated, rollout.correct, rollout.finished, strict=True) if c and f]
        self._log_metric("accuracy", len(solved) / len(rollout))
        self._log_metric("tokens/mean", sum(generated) / len(rollout))
        if solved:  # no entry (rather than NaN) for a rollout without a correct answer
            self._log_metric("tokens/mean_correct", sum(solved) / len(solved))
        if list(rollout.lengths) != list(generated):
            self._log_metric("tokens/measured_mean", sum(rollout.lengths) / len(rollout))
        self._log_metric("truncated", sum(not f for f in rollout.finished) / len(rollout))
        metrics = getattr(self.reward, "metrics", None)
        if callable(metrics):  # what a reward's schedule or state makes of it now (a limit, a weight, targets)
            for name, value in metrics(rollout).items():
                self._log_metric(f"reward/{name}", float(value))
        if is_dataclass(self.reward):
            for parameter in (f for f in fields(self.reward) if f.init):
                value = getattr(self.reward, parameter.name)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._log_metric(parameter.name, value)

    # ----------------------------------------------------------------------------------------- 2. advantages
    def _generate_and_score_completions(self, inputs):
        self._scored = None
        output = super()._generate_and_score_completions(inputs)
        output["advantages"] = self._advantages(output)
        return output

    def _advantages(self, output: dict) -> torch.Tensor:
        """This process's advantages: the estimator on the whole scored rollout, sliced; per token if it says so."""
        if self._scored is None:
            raise RuntimeError("the rollout was not scored by ThriftyTrainer._calculate_rewards")
        rollout, rewards, mine = self._scored
        keep = self._kept(rollout, rewards)
        kept = [i for i, k in enumerate(keep) if k]  # the estimator sees only these (a batch statistic included)
        whole = [0.0] * len(rewards)
        some = self.estimator.sequence([rewards[i] for i in kept], [rollout.group_ids[i] for i in kept])
        for i, advantage in zip(kept, some, strict=True):
            whole[i] = advantage
        self._log_length_signal(rollout, rewards, whole)
        advantages = whole[mine]
        like = output["advantages"]
        if len(advantages) != len(like):
            raise RuntimeError(f"{len(advantages)} advantages for {len(like)} responses of this process")
        advantages = torch.tensor(advantages, dtype=like.dtype, device=like.device)
        if not all(keep):
            self._leave_out(output, torch.tensor(keep[mine], device=like.device))
        mask = output["completion_mask"]
        if "tool_mask" in output:  # the tokens the loss trains on
            mask = mask * output["tool_mask"]
        terms = None
        if self.estimator.per_token is not None:
            terms = self._token_terms(output)
            advantages = self.estimator.per_token(advantages, terms)
        if self.kl_penalty == "reward" or self._logps_at_hand(output):
            terms = terms or self._token_terms(output)
            penalty = kl_reward_to_go(
                torch.zeros(len(like), device=like.device), terms.logps, terms.ref_logps, mask, self.kl_coef
            )
            self._log_kl_to_go(-penalty[:, 0] if penalty.numel() else penalty.new_zeros(len(like)))
            if self.kl_penalty == "reward":
                if advantages.dim() == 1:
                    advantages = advantages.unsqueeze(1)
                advantages = (advantages + penalty).to(like.dtype) * mask
        if self.whiten_advantages == "tokens":
            if advantages.dim() == 1:
                advantages = advantages.unsqueeze(1) * mask
            advantages = whiten_tokens(advantages, mask, total=self._sum_over_processes)
        self._log_advantages(advantages, mask)
        return advantages

    def _kept(self, rollout: Rollout, rewards: list[float]) -> list[bool]:
        """Which responses of the rollout stay in the update under ``--dynamic_sampling`` (all of them without it);
        the fraction left out is logged."""
        if self.dynamic_sampling == "none":
            return [True] * len(rewards)
        solved = [c and f for c, f in zip(rollout.correct, rollout.finished, strict=True)]
        signal = solved if self.dynamic_sampling == "accuracy" else rewards
        keep = kept_groups(signal, rollout.group_ids)
        self._log_now("dynamic_sampling/dropped", 1 - sum(keep) / max(len(keep), 1))
        return keep

    def _leave_out(self, output: dict, keep: torch.Tensor) -> None:
        """Take this process's left-out responses out of the loss: TRL's loss mask is ``completion_mask x
        tool_mask`` (the attention still sees them), and the token count a token-level loss divides by is recounted
        over all processes."""
        rows = keep.to(output["completion_mask"].dtype).unsqueeze(1)
        tool_mask = output.get("tool_mask")
        output["tool_mask"] = rows * (torch.ones_like(output["completion_mask"]) if tool_mask is None else tool_mask)
        loss_mask = output["completion_mask"] * output["tool_mask"]
        output["num_items_in_batch"] = self._sum_over_processes(loss_mask.sum().reshape(1))[0]

    def _logps_at_hand(self, output: dict) -> bool:
        """Whether TRL computed both log-probs the KL-to-go term needs (logged then, at no extra cost)."""
        return output.get("old_per_token_logps") is not None and output.get("ref_per_token_logps") is not None

    def _sum_over_processes(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes == 1:
            return tensor
        return self.accelerator.reduce(tensor, reduction="sum")

    def _gather(self, values: list[float]) -> list[float]:
        from accelerate.utils import gather_object

        return gather_object(values) if self.accelerator.num_processes > 1 else values

    def _log_length_signal(self, rollout: Rollout, rewards: list[float], whole: list[float]) -> None:
        """How large the sequence advantages are, and the part of the reward that depends on length alone: the mean
        distance of a rewarded response's reward from its group's rewarded mean (0 without a length penalty)."""
        self._log_now("advantages/abs_mean", sum(abs(a) for a in whole) / max(len(whole), 1))
        spread = []
        for members in groups(rollout.group_ids).values():
            paid = [rewards[i] for i in members if rewards[i] > 0]
            if len(paid) > 1:
                centre = sum(paid) / len(paid)
                spread.extend(abs(r - centre) for r in paid)
        if spread:
            self._log_now("rewards/length_spread", sum(spread) / len(spread))

    def _log_kl_to_go(self, penalty: torch.Tensor) -> None:
        """The KL-to-go term at each response's first token, β·Σ_t (log π_old − log π_ref), over the rollout: how
        much the official code's KL penalty takes from a response's advantage (logged whenever the log-probs are at
        hand, also when ``--kl_penalty loss`` puts the KL in the loss instead)."""
        values = self._gather(penalty.float().tolist())
        self._log_now("kl_to_go/mean", sum(values) / max(len(values), 1))
        self._log_now("kl_to_go/abs_mean", sum(abs(v) for v in values) / max(len(values), 1))

    def _log_now(self, name: str, value: float) -> None:
        """Log a whole-rollout value of the advantage step (the same on every process). TRL's ``_log_metric`` would
        hold it until the next rollout's scoring: its pending metrics are flushed before the advantage step."""
        self._metrics["train" if self.model.training else "eval"][name].append(value)

    def _log_advantages(self, advantages: torch.Tensor, mask: torch.Tensor) -> None:
        """The completions log (``log_completions``) shows the advantages trained on, not TRL's discarded ones: a
        response's own, or its mean over its tokens when they are per token."""
        if advantages.dim() == 2:
            tokens = mask.sum(1).clamp(min=1)
            advantages = (advantages * mask).sum(1) / tokens
        whole = self._gather(advantages.float().tolist())
        logged = self._logs["advantages"]
        for _ in range(min(len(whole), len(logged))):
            logged.pop()
        logged.extend(whole)

    def _token_terms(self, output: dict) -> TokenTerms:
        """The per-token log-probs a per-token estimator needs: TRL's where it computed them, else computed here
        with the same function (the sampling policy's when TRL's update was on-policy; the reference model's when
        the estimator took the KL out of the loss)."""

        def logps(model) -> torch.Tensor:
            ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
            mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
            args = self.args
            batch = args.per_device_train_batch_size if self.model.training else args.per_device_eval_batch_size
            keep = output["completion_ids"].size(1)  # the response tokens' log-probs
            with torch.no_grad():
                return self._get_per_token_logps_and_entropies(model, ids, mask, keep, batch)[0]

        policy = output.get("old_per_token_logps")
        if policy is None:
            policy = logps(self.model)
        reference = output.get("ref_per_token_logps")
        if reference is None and self.kl_coef != 0.0:
            if self.ref_model is not None:
                reference = logps(self.ref_model)
            else:  # PEFT: the reference is the model without its adapter, as TRL does it
                from trl.trainer.utils import use_adapter

                unwrapped = self.accelerator.unwrap_model(self.model)
                with use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None):
                    reference = logps(self.model)
        return TokenTerms(mask=output["completion_mask"], logps=policy, ref_logps=reference, beta=self.kl_coef)

    # ----------------------------------------------------------------------------------------- model card
    def card_facts(self) -> CardFacts:
        """What the model card states: :attr:`model_card` if given, else what the trainer knows."""
        if self.model_card is not None:
            return self.model_card
        params = {}
        if is_dataclass(self.reward):
            params = {f.name: getattr(self.reward, f.name) for f in fields(self.reward) if f.init}
        base = getattr(getattr(self.model, "config", None), "_name_or_path", None) or "unknown"
        dataset = self.train_dataset
        registered = [name for name, factory in REWARDS.items() if factory is type(self.reward)]
        named = self.reward_name if self.reward_name in registered else registered[0] if registered else None
        return rl_facts(
            self.args,
            base_model=base,
            reward=named or self.reward_name,
            reward_params=params,
            advantage_estimator=self.advantage_estimator,
            prompts="not recorded",
            prompts_split=None,
            n_prompts=len(dataset) if hasattr(dataset, "__len__") else None,
            kl_penalty=self.kl_penalty,
            whiten_advantages=self.whiten_advantages,
            grade_truncated=self.grade_truncated,
            length_measure=self.length_measure,
            length_unit=self.length_unit,
            max_prompt_length=self.max_prompt_length,
        )

    # ----------------------------------------------------------------------------------------- reward state
    def _save_checkpoint(self, model, trial):
        """A stateful reward's state goes into the checkpoint before the trainer's state (written last) marks the
        checkpoint complete."""
        if isinstance(self.reward, StatefulReward) and self.args.should_save:
            folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            runs.write_json(folder / runs.REWARD_STATE, self.reward.state_dict())
        super()._save_checkpoint(model, trial)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        """``GRPOTrainer.train``; resuming from a checkpoint also restores a stateful reward's state."""
        if resume_from_checkpoint is True:
            resume_from_checkpoint = runs.last_complete_checkpoint(self.args.output_dir)
        if resume_from_checkpoint and isinstance(self.reward, StatefulReward):
            path = Path(resume_from_checkpoint) / runs.REWARD_STATE
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: the checkpoint holds no state for the stateful reward")
            self.reward.load_state_dict(json.loads(path.read_text()))
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
