"""The run's stages in order: SFT, optional self-play, DPO; each resumable on its own.

The pipeline's steps call these one by one; :func:`train_twin` runs them all in one process
(the benchmark and tests use it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_engineering.application.datasets.storage import latest_dataset
from llm_engineering.configs.training import TrainingConfig
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.model.training import data
from llm_engineering.model.training.plan import TrainingPlan, plan_training
from llm_engineering.model.training.publish import register_run
from llm_engineering.model.training.self_play import regenerate_rejected
from llm_engineering.model.training.trainer import StageResult, train_stage


def _train(
    plan: TrainingPlan, stage: str, *, model_folder: Path, rows: Any, callbacks: Sequence[Any]
) -> StageResult:
    config = plan.config
    return train_stage(
        stage,  # type: ignore[arg-type]
        model_folder=model_folder,
        train_rows=rows,
        settings=config.sft if stage == "sft" else config.dpo,
        stage_dir=plan.stage_dir(stage),
        device=plan.device,
        bf16=config.bf16,
        quantization=config.quantization,
        merged_dtype=config.output.merged_dtype,
        callbacks=callbacks,
    )


def run_sft(plan: TrainingPlan, *, callbacks: Sequence[Any] = ()) -> StageResult:
    """SFT of the base model on the instruction dataset (resumed or reused when the run has it)."""
    dataset = data.load_dataset_version(plan.instruction_dataset, dataset_type=DatasetType.INSTRUCTION)
    rows = data.sft_rows(dataset["train"], author=plan.author, limit=plan.config.sft.max_train_samples)
    return _train(plan, "sft", model_folder=plan.base_folder, rows=rows, callbacks=callbacks)


def run_self_play(plan: TrainingPlan, sft: StageResult) -> Path:
    """The self-play preference dataset of this run (made once; a rerun reuses it)."""
    root = plan.run_dir / "datasets"
    existing = latest_dataset(root, DatasetType.PREFERENCE)
    if existing is not None:
        return existing
    assert plan.preference_dataset is not None  # the config refuses self_play without DPO
    return regenerate_rejected(
        plan.preference_dataset,
        model_folder=sft.merged,
        author=plan.author,
        output_root=root,
        max_tokens=plan.config.self_play_max_tokens,
        limit=plan.config.dpo.max_train_samples,
        device=plan.device,
        seed=plan.config.dpo.seed,
    )


def run_dpo(
    plan: TrainingPlan, sft: StageResult, *, preference: Path | None = None, callbacks: Sequence[Any] = ()
) -> StageResult:
    """DPO of the SFT twin on the preference dataset (``preference`` overrides the plan's, e.g. self-play)."""
    folder = preference or plan.preference_dataset
    assert folder is not None  # planned with DPO enabled
    dataset = data.load_dataset_version(folder, dataset_type=DatasetType.PREFERENCE)
    rows = data.dpo_rows(dataset["train"], author=plan.author, limit=plan.config.dpo.max_train_samples)
    return _train(plan, "dpo", model_folder=sft.merged, rows=rows, callbacks=callbacks)


def train_twin(
    config: TrainingConfig,
    *,
    models_dir: Path,
    datasets_root: Path,
    default_base_model: str | None = None,
    callbacks: Sequence[Any] = (),
) -> tuple[TrainingPlan, list[StageResult], list[ModelVersion]]:
    """Plan, train every stage and register the versions, in this process.

    Under ``accelerate launch`` every process trains its share of each batch; the main process
    alone merges, writes the self-play dataset and registers, and the others wait for it.
    """
    from accelerate import PartialState

    state = PartialState()
    with state.main_process_first():  # one process converts the base and names the run folder
        plan = plan_training(
            config, models_dir=models_dir, datasets_root=datasets_root, default_base_model=default_base_model
        )
    results = [run_sft(plan, callbacks=callbacks)]
    preference = None
    if config.self_play:
        with state.main_process_first():  # the main process writes it; the others then find it
            preference = run_self_play(plan, results[0])
    if config.dpo.enabled:
        results.append(run_dpo(plan, results[0], preference=preference, callbacks=callbacks))
    versions = []
    if state.is_main_process:
        versions = register_run(plan, results, registry=ModelRegistry(models_dir), preference=preference)
    return plan, results, versions
