"""The paper's baselines: which sampled responses SFT and DPO train on (:mod:`~thrifty.baselines.selection`, pure),
the sampled set and the fine-tuning with TRL (:mod:`~thrifty.baselines.finetune`), and the generation cutoff run
for real (:mod:`~thrifty.baselines.cutoff`)."""
