"""Pipeline: cleaned documents -> extracts -> instruction or preference samples -> filtered, split, saved dataset."""

from zenml import pipeline

from llm_engineering.application.datasets.storage import file_digest
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.domain.dataset import DatasetType
from steps.generate_datasets.attach_context import attach_context
from steps.generate_datasets.build_dataset import build_dataset
from steps.generate_datasets.filter_samples import filter_samples
from steps.generate_datasets.generate_instruction_samples import generate_instruction_samples
from steps.generate_datasets.generate_preference_samples import generate_preference_samples
from steps.generate_datasets.load_extracts import load_extracts
from steps.generate_datasets.load_handbook_samples import load_handbook_samples


@pipeline
def generate_datasets(config: GenerateDatasetsConfig, after: list[str] | None = None) -> str:
    """Build the instruction (SFT) or preference (DPO) dataset of the configured authors.

    ``tools/run.py`` refuses, before any step runs, a run that cannot succeed
    (:func:`~llm_engineering.application.datasets.checks.check_dataset_run`): an ``llm`` strategy
    without an endpoint, a model that is neither a folder nor served, an empty feature store
    (checked only when the run is not chained after the feature pipeline, which fills it; else its
    first step checks).

    Args:
        config: the validated dataset config.
        after: invocation ids of steps that must finish first (when chained by end_to_end_data).

    Returns:
        The invocation id of the last step, so a chaining pipeline can run ``after`` it.
    """
    if config.source == "handbook_json":
        samples = load_handbook_samples(
            path=str(config.handbook_json),
            content_hash=file_digest(config.handbook_json),  # an edited file is read again, never cached
            dataset_type=config.dataset_type,
            after=after,
        )
    else:
        extracts = load_extracts(
            author_full_names=config.author_full_names,
            extracts=config.extracts,
            quality=config.quality,
            after=after,
        )
        samples = generate_instruction_samples(
            extracts=extracts,
            instruction=config.instruction,
            llm=config.llm,
            dataset_type=config.dataset_type,
        )
        if config.dataset_type == DatasetType.PREFERENCE:
            samples = generate_preference_samples(
                instruction_samples=samples, preference=config.preference, llm=config.llm
            )
    filtered = filter_samples(samples=samples, quality=config.quality)
    if config.source == "feature_store" and config.context.enabled:
        filtered = attach_context(
            filtered_samples=filtered, extracts=extracts, split=config.split, context=config.context
        )
    dataset = build_dataset.with_options(substitutions={"dataset_type": str(config.dataset_type)})(
        filtered_samples=filtered,
        split=config.split,
        output=config.output,
        author_full_names=config.author_full_names,
    )
    return dataset.invocation_id
