"""A ``ThriftyTrainer`` that records, for every rollout, what this process gave the scoring step and what came back.

Each record holds this process's own responses as TRL handed them over (prompts, verdicts, token lengths, whether
cut off), the rewards the scoring step returned (the whole rollout's, as TRL expects them), the per-token log-probs
handed to the KL step (when there is one), the advantages this process trains on, and how the process was
launched. The tests recompute the pure functions on the
concatenation of all processes' responses and compare: the trainer's own bookkeeping is not trusted.
"""

from helpers import parity_correct
from thrifty.rl import ThriftyTrainer


class RecordingTrainer(ThriftyTrainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        self.calls.append(
            {
                "prompts": [str(p) for p in prompts],
                "correct": [parity_correct(t) for t in texts],
                "lengths": [len(ids) for ids in completion_ids_list],
                "truncated": [not ids or ids[-1] not in self.eos_ids for ids in completion_ids_list],
                "rewards": rewards[:, 0].tolist(),
            }
        )
        return rewards

    def _token_terms(self, output):
        terms = super()._token_terms(output)
        self.calls[-1].update(
            logps=terms.logps.tolist(), ref_logps=terms.ref_logps.tolist(), mask=terms.mask.tolist(), beta=terms.beta
        )
        return terms

    def _generate_and_score_completions(self, inputs):
        from accelerate.state import AcceleratorState, PartialState

        output = super()._generate_and_score_completions(inputs)
        state = PartialState()
        self.calls[-1].update(
            advantages=output["advantages"].tolist(),
            process_index=state.process_index,
            num_processes=state.num_processes,
            backend=state.backend,
            device=state.device.type,
            mixed_precision=AcceleratorState().mixed_precision,
        )
        return output
