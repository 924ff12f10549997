"""Pipeline: instruction and preference datasets -> (voice stage) -> SFT twin -> (self-play) -> DPO twin, registered."""

from zenml import pipeline

from llm_engineering.configs.training import TrainingConfig
from steps.training.generate_self_play_preferences import generate_self_play_preferences
from steps.training.plan_training import plan_training
from steps.training.register_twin import register_twin
from steps.training.train_dpo import train_dpo
from steps.training.train_sft import train_sft
from steps.training.train_voice import train_voice


@pipeline
def training(config: TrainingConfig, after: list[str] | None = None) -> str:
    """Fine-tune the twin: the voice stage on the author's text, SFT with LoRA on the instruction
    dataset, then DPO on the preference dataset.

    The first step checks everything before any training (datasets, columns, base model,
    ``max_length``); the run folder is keyed by the config and dataset versions, so rerunning a
    killed run resumes it from its last checkpoint.

    Args:
        config: the validated training config.
        after: invocation ids of steps that must finish first (when chained by end_to_end).

    Returns:
        The invocation id of the last step, so a chaining pipeline can run ``after`` it.
    """
    plan = plan_training(config=config, after=after)
    voice = train_voice(plan=plan) if config.voice.enabled else None
    sft = train_sft(plan=plan, voice=voice)
    dpo, preference = None, None
    if config.dpo.enabled:
        if config.self_play:
            preference = generate_self_play_preferences(plan=plan, sft=sft)
        dpo = train_dpo(plan=plan, sft=sft, preference=preference)
    registered = register_twin(plan=plan, sft=sft, dpo=dpo, preference=preference)
    return registered.invocation_id
