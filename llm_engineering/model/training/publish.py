"""Publishing a run: model registry records (base, ``<run>-sft``, ``<run>-dpo``) and the hub push."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.model.training.plan import TrainingPlan
from llm_engineering.model.training.trainer import StageResult


def version_name(run: str, stage: str) -> str:
    """The registry (and ZenML model version) name of a run's stage."""
    return f"{run}-{stage}"


def register_run(
    plan: TrainingPlan,
    results: Sequence[StageResult],
    *,
    registry: ModelRegistry,
    preference: Path | None = None,
) -> list[ModelVersion]:
    """Register the base model (``base``) and one version per trained stage; returns the stage versions.

    Args:
        plan: the run.
        results: the stages' results, in order.
        registry: the model registry.
        preference: the preference dataset DPO used when it was not the plan's (self-play).
    """
    registry.register(
        ModelVersion(name="base", stage="base", folder=plan.base_folder, base_model=plan.base_model)
    )
    datasets = plan.dataset_versions()
    if preference is not None:
        datasets["preference"] = f"{preference.name} (self-play, {preference})"
    versions = []
    for result in results:
        stage_datasets = datasets if result.stage == "dpo" else {"instruction": datasets["instruction"]}
        versions.append(
            registry.register(
                ModelVersion(
                    name=version_name(plan.run, result.stage),
                    stage=result.stage,
                    folder=result.merged,
                    adapter=result.adapter,
                    base_model=plan.base_model,
                    author=plan.author,
                    datasets=stage_datasets,
                    hyperparameters=plan.hyperparameters(),
                    metrics=result.figures(),
                )
            )
        )
    return versions


def push_to_hub(folder: Path, *, repo_id: str, token: str, private: bool = True) -> str:
    """Upload a merged model folder to the Hugging Face Hub; returns its URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="LLM Twin training run")
    return f"https://huggingface.co/{repo_id}"
