"""The run's stages in order: the optional voice stage, SFT, optional self-play, DPO; each
resumable on its own.

The pipeline's steps call these one by one; :func:`train_twin` runs them all in one process
(the benchmark and tests use it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_engineering.application.datasets.storage import latest_dataset
from llm_engineering.configs.training import DPOStageConfig, SFTStageConfig, TrainingConfig
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.model.training import data
from llm_engineering.model.training.fit import (
    FitReport,
    RowFitter,
    dpo_rows,
    first_rows,
    sft_rows,
    voice_rows,
)
from llm_engineering.model.training.plan import TrainingPlan, plan_training
from llm_engineering.model.training.publish import register_run
from llm_engineering.model.training.self_play import regenerate_rejected
from llm_engineering.model.training.trainer import StageResult, load_tokenizer, train_stage


def _check_rows(rows: Any, fit: FitReport, *, stage: str, max_length: int) -> None:
    if len(rows) == 0:
        raise data.TrainingDataError(
            f"{stage}: none of {fit.rows} rows fits {stage}.max_length={max_length} tokens (the prompt alone "
            f"is longer); raise {stage}.max_length"
        )


def _train(
    plan: TrainingPlan,
    stage: str,
    *,
    model_folder: Path,
    rows: Any,
    callbacks: Sequence[Any],
    fit: FitReport | None = None,
) -> StageResult:
    config = plan.config
    return train_stage(
        stage,  # type: ignore[arg-type]
        model_folder=model_folder,
        train_rows=rows,
        settings={"voice": config.voice, "sft": config.sft, "dpo": config.dpo}[stage],
        stage_dir=plan.stage_dir(stage),
        device=plan.device,
        bf16=config.bf16,
        quantization=config.quantization,
        merged_dtype=config.output.merged_dtype,
        callbacks=callbacks,
        data_figures=fit.figures() if fit else {},
    )


def run_voice(plan: TrainingPlan, *, callbacks: Sequence[Any] = ()) -> StageResult:
    """The voice stage: causal LM on the author's own text of the training split (before SFT)."""
    dataset = data.load_dataset_version(plan.instruction_dataset, dataset_type=DatasetType.INSTRUCTION)
    rows = voice_rows(dataset["train"], limit=plan.config.voice.max_train_samples)
    return _train(plan, "voice", model_folder=plan.base_folder, rows=rows, callbacks=callbacks)


def _fitter(tokenizer: Any, settings: SFTStageConfig | DPOStageConfig) -> RowFitter:
    return RowFitter(tokenizer, max_length=settings.max_length, max_answer_tokens=settings.max_answer_tokens)


def run_sft(
    plan: TrainingPlan, *, voice: StageResult | None = None, callbacks: Sequence[Any] = ()
) -> StageResult:
    """SFT on the instruction dataset, from the voice stage's model when there is one, else the base
    (resumed or reused when the run has it)."""
    start_folder = voice.merged if voice is not None else plan.base_folder
    dataset = data.load_dataset_version(plan.instruction_dataset, dataset_type=DatasetType.INSTRUCTION)
    settings = plan.config.sft
    rows, fit = sft_rows(
        first_rows(dataset["train"], settings.max_train_samples),
        author=plan.author,
        fitter=_fitter(load_tokenizer(start_folder), settings),
    )
    _check_rows(rows, fit, stage="sft", max_length=settings.max_length)
    return _train(plan, "sft", model_folder=start_folder, rows=rows, callbacks=callbacks, fit=fit)


def run_self_play(plan: TrainingPlan, sft: StageResult) -> Path:
    """The self-play preference dataset of this run (made once; a rerun reuses it)."""
    root = plan.run_dir / "datasets"
    existing = latest_dataset(root, DatasetType.PREFERENCE)
    if existing is not None:
        return existing
    assert plan.preference_dataset is not None  # the config refuses self_play without DPO
    from llm_engineering.model.generation import load_generator

    with load_generator(sft.merged, device=plan.device) as generator:
        return regenerate_rejected(
            plan.preference_dataset,
            generator=generator,
            model_folder=sft.merged,
            author=plan.author,
            output_root=root,
            max_tokens=plan.config.self_play_max_tokens,
            limit=plan.config.dpo.max_train_samples,
            seed=plan.config.dpo.seed,
        )


def run_dpo(
    plan: TrainingPlan, sft: StageResult, *, preference: Path | None = None, callbacks: Sequence[Any] = ()
) -> StageResult:
    """DPO of the SFT twin on the preference dataset (``preference`` overrides the plan's, e.g. self-play)."""
    folder = preference or plan.preference_dataset
    assert folder is not None  # planned with DPO enabled
    dataset = data.load_dataset_version(folder, dataset_type=DatasetType.PREFERENCE)
    settings = plan.config.dpo
    rows, fit = dpo_rows(
        first_rows(dataset["train"], settings.max_train_samples),
        author=plan.author,
        fitter=_fitter(load_tokenizer(sft.merged), settings),
    )
    _check_rows(rows, fit, stage="dpo", max_length=settings.max_length)
    return _train(plan, "dpo", model_folder=sft.merged, rows=rows, callbacks=callbacks, fit=fit)


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
    results = []
    voice = run_voice(plan, callbacks=callbacks) if config.voice.enabled else None
    if voice is not None:
        results.append(voice)
    sft = run_sft(plan, voice=voice, callbacks=callbacks)
    results.append(sft)
    preference = None
    if config.self_play:
        with state.main_process_first():  # the main process writes it; the others then find it
            preference = run_self_play(plan, sft)
    if config.dpo.enabled:
        results.append(run_dpo(plan, sft, preference=preference, callbacks=callbacks))
    versions = []
    if state.is_main_process:
        versions = register_run(  # the voice stage is a step towards the twin, not a version of it
            plan,
            [r for r in results if r.stage != "voice"],
            registry=ModelRegistry(models_dir),
            preference=preference,
        )
    return plan, results, versions
