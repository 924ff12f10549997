"""Fine-tuning the twin: SFT then DPO with TRL and PEFT LoRA, resumable, into versioned folders.

Modules: ``flow`` (the stages the steps call: voice, SFT, self-play, DPO, and the whole run
without ZenML), ``data`` (dataset versions -> conversational TRL datasets in the twin's chat template,
checked before training), ``plan`` (the run: its folder keyed by config and data, base model,
author), ``trainer`` (one SFT or DPO stage: train, resume, save the adapter, merge),
``self_play`` (the SFT twin writes the rejected answers before DPO), ``report`` (loss curves,
summaries) and ``publish`` (model registry records, hub push).
"""
