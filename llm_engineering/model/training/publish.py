"""Publishing a run: model registry records (base, ``<run>-sft``, ``<run>-dpo``), their ONNX exports and
the hub push."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.model.training.plan import TrainingPlan
from llm_engineering.model.training.trainer import StageResult

logger = logging.getLogger(__name__)


def version_name(run: str, stage: str) -> str:
    """The registry (and ZenML model version) name of a run's stage."""
    return f"{run}-{stage}"


def register_run(
    plan: TrainingPlan,
    results: Sequence[StageResult],
    *,
    registry: ModelRegistry,
    preference: Path | None = None,
    export: str | None = "int8",
) -> list[ModelVersion]:
    """Register the base model (``base``) and one version per trained stage; returns the stage versions.

    Each registered folder is also exported once for the CPU runtime (ONNX Runtime GenAI, beside
    the folder), so serving, evaluation and self-play load it without waiting for an export. A
    failed export is logged, not fatal: ``load_generator`` exports lazily too.

    Args:
        plan: the run.
        results: the stages' results, in order.
        registry: the model registry.
        preference: the preference dataset DPO used when it was not the plan's (self-play).
        export: the ONNX precision to export (``int8``, ``int4`` or ``fp32``); None: no export.
    """
    registry.register(
        ModelVersion(name="base", stage="base", folder=plan.base_folder, base_model=plan.base_model)
    )
    datasets = plan.dataset_versions()
    if preference is not None:
        datasets["preference"] = str(preference)  # self-play rows live in the run folder
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
    if export:
        for folder in [plan.base_folder, *(result.merged for result in results)]:
            export_for_cpu(folder, precision=export)
    return versions


def export_for_cpu(folder: Path, *, precision: str = "int8") -> Path | None:
    """Export ``folder`` for ONNX Runtime GenAI once (reused when present); None when it failed (logged)."""
    from llm_engineering.model.runtimes.onnx_runtime import ExportError, export_onnx

    try:
        return export_onnx(folder, precision=precision)
    except (ExportError, FileNotFoundError, OSError) as exc:
        logger.warning("no ONNX export of %s (it will be exported when first loaded): %s", folder, exc)
        return None


def push_to_hub(folder: Path, *, repo_id: str, token: str, private: bool = True) -> str:
    """Upload a merged model folder to the Hugging Face Hub; returns its URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="LLM Twin training run")
    return f"https://huggingface.co/{repo_id}"
