"""Step: split, check for leakage, save a versioned ``DatasetDict`` with its card, push when asked."""

from typing import Annotated

from zenml import ArtifactConfig, get_step_context, log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets import flow
from llm_engineering.application.datasets.work import WorkRef, work_store
from llm_engineering.configs.datasets import DatasetOutputConfig, SplitConfig
from llm_engineering.settings import get_settings
from steps.generate_datasets.materializers import DatasetVersionMaterializer

logger = get_logger(__name__)


# Never cached: it writes a new version folder outside ZenML, and a cached run would report a
# folder it did not write.
@step(enable_cache=False, output_materializers=DatasetVersionMaterializer)
def build_dataset(
    filtered_samples: WorkRef,
    split: SplitConfig,
    output: DatasetOutputConfig,
    author_full_names: list[str],
) -> Annotated[flow.DatasetVersion, ArtifactConfig(name="{dataset_type}_dataset")]:
    """Split per category by groups, flatten into a ``DatasetDict``, save it under a new version folder.

    Args:
        filtered_samples: the samples that passed the quality filters, in the work store.
        split: test share, seed and grouping.
        output: folder, card preview rows and the Hub target.
        author_full_names: the authors, for the card's title.

    Returns:
        The saved version by reference (artifact ``instruction_dataset`` or ``preference_dataset``):
        its folder, fingerprint, rows per split and card; the rows stay in the folder.
    """
    settings = get_settings()
    token = settings.huggingface_access_token
    filtered = work_store(settings.state_dir).get(filtered_samples, flow.FilteredSamples)
    built = flow.build_dataset(
        filtered,
        split=split,
        output=output,
        root=output.directory or settings.state_dir / "datasets",
        title=f"{filtered.dataset_type.capitalize()} dataset of {', '.join(author_full_names)}",
        hub_token=token.get_secret_value() if token else None,
    )
    summary = built.summary()
    metadata = {**built.stats, "path": str(built.path), "counts": built.counts, "summary": summary}
    log_metadata(metadata=metadata)
    log_metadata(
        metadata={
            "extracts": built.stats["extracts"],
            "samples": built.stats["samples"],
            "filtered": built.stats["filtered"],
            "seconds": built.stats["seconds"],
            "path": str(built.path),
        },
        run_id_name_or_prefix=get_step_context().pipeline_run.id,
    )
    logger.info(summary)
    return built.version()
