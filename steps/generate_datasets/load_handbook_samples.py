"""Step: read an existing dataset in the LLM Engineer's Handbook JSON format."""

from pathlib import Path
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets import generation
from llm_engineering.domain.dataset import DatasetType

logger = get_logger(__name__)


@step
def load_handbook_samples(
    path: str, dataset_type: DatasetType
) -> Annotated[generation.GenerationReport, "handbook_samples"]:
    """Load the samples of a handbook-format JSON file, keeping its own train/test split.

    Args:
        path: the JSON file (e.g. instruct_datasets.json, preference_datasets.json).
        dataset_type: the type the file must hold.

    Returns:
        The samples, each marked with its split.
    """
    report = generation.handbook_samples(Path(path), dataset_type=dataset_type)
    summary = report.summary()
    log_metadata(metadata={"path": path, "samples": len(report.samples), "summary": summary})
    logger.info(summary)
    return report
