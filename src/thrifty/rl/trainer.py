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
   replaces TRL's advantages. GRPO's own (``r_i − mean_j r_j``, a mean that includes ``r_i``) never enters.

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
from dataclasses import fields, is_dataclass
from pathlib import Path

import torch
from trl import GRPOTrainer

from thrifty import runs
from thrifty.advantages import TokenTerms, get_advantage
from thrifty.card import CardFacts, ThriftyModelCard, rl_facts
from thrifty.rewards import REWARDS, GroupReward, Rollout, StatefulReward
from thrifty.rl.vllm_cpu import use_cpu_weight_sync


_NOT_COLUMNS = ("prompt", "answer", "problem_id", "completion", "completion_ids")


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
        model_card: CardFacts | None = None,
        **kwargs,
    ):
        name = reward_name or type(reward).__name__
        estimator = get_advantage(advantage_estimator)
        super().__init__(*args, reward_funcs=[_scored_by_thrifty(name)], **kwargs)
        use_cpu_weight_sync(self)  # colocated vLLM on a CPU: TRL's own weight sync fails there
        self.reward_name, self.advantage_estimator, self.model_card = name, advantage_estimator, model_card
        self.reward, self.estimator = reward, estimator
        self.verifier, self.verifier_mode = verifier, verifier_mode
        self.eos_ids = set(self.eos_token_ids)
        self.kl_coef = self.beta
        if estimator.kl_in_advantage:
            if self.beta == 0.0:
                raise ValueError(
                    f"--advantage_estimator {advantage_estimator} puts the KL in the advantages: --beta "
                    "is its coefficient and must be > 0"
                )
            self.beta = 0.0  # TRL built the reference model for beta > 0; its loss now leaves the KL to the estimator
        self._scored: tuple[Rollout, list[float], slice] | None = None

    # ----------------------------------------------------------------------------------------- 1. score
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        """The group reward of the whole rollout, as TRL expects it: a ``(rollout size, 1)`` tensor."""
        from accelerate import PartialState
        from accelerate.utils import gather_object

        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        verdicts = self.verifier.verify(texts, [x["answer"] for x in inputs], self.verifier_mode)
        names = [k for k in inputs[0] if k not in _NOT_COLUMNS]
        local = [
            (str(prompt), v.correct, len(ids), bool(ids) and ids[-1] in self.eos_ids, x.get("problem_id"))
            + tuple(x[k] for k in names)
            for prompt, v, ids, x in zip(prompts, verdicts, completion_ids_list, inputs, strict=True)
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
        keys, correct, lengths, finished, problem_ids, *values = (
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
        self._log_rollout(rollout)
        return torch.tensor(rewards, dtype=torch.float32, device=self.accelerator.device).unsqueeze(1)

    def _log_rollout(self, rollout: Rollout) -> None:
        """Accuracy, lengths and truncation of the rollout, and the reward's numeric parameters (e.g. ``alpha``)."""
        solved = [n for n, c, f in zip(rollout.lengths, rollout.correct, rollout.finished, strict=True) if c and f]
        self._log_metric("accuracy", len(solved) / len(rollout))
        self._log_metric("tokens/mean", sum(rollout.lengths) / len(rollout))
        if solved:  # no entry (rather than NaN) for a rollout without a correct answer
            self._log_metric("tokens/mean_correct", sum(solved) / len(solved))
        self._log_metric("truncated", sum(not f for f in rollout.finished) / len(rollout))
        if is_dataclass(self.reward):
            for parameter in fields(self.reward):
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
        whole = self.estimator.sequence(rewards, rollout.group_ids)
        self._log_advantages(whole)
        advantages = whole[mine]
        like = output["advantages"]
        if len(advantages) != len(like):
            raise RuntimeError(f"{len(advantages)} advantages for {len(like)} responses of this process")
        advantages = torch.tensor(advantages, dtype=like.dtype, device=like.device)
        if self.estimator.per_token is not None:
            advantages = self.estimator.per_token(advantages, self._token_terms(output))
        return advantages

    def _log_advantages(self, whole: list[float]) -> None:
        """The completions log (``log_completions``) shows the advantages trained on, not TRL's discarded ones."""
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
            params = {f.name: getattr(self.reward, f.name) for f in fields(self.reward)}
        base = getattr(getattr(self.model, "config", None), "_name_or_path", None) or "unknown"
        dataset = self.train_dataset
        registered = [name for name, factory in REWARDS.items() if factory is type(self.reward)]
        return rl_facts(
            self.args,
            base_model=base,
            reward=registered[0] if registered else self.reward_name,
            reward_params=params,
            advantage_estimator=self.advantage_estimator,
            prompts="not recorded",
            prompts_split=None,
            n_prompts=len(dataset) if hasattr(dataset, "__len__") else None,
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
