"""Step: read an existing dataset in the LLM Engineer's Handbook JSON format."""

from pathlib import Path
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets.samples import GenerationReport, handbook_samples
from llm_engineering.domain.dataset import DatasetType

logger = get_logger(__name__)


@step  # cached by the file's content hash: an edited file is a new parameter, so it is read again
def load_handbook_samples(
    path: str, content_hash: str, dataset_type: DatasetType
) -> Annotated[GenerationReport, "handbook_samples"]:
    """Load the samples of a handbook-format JSON file, keeping its own train/test split.

    Args:
        path: the JSON file (e.g. instruct_datasets.json, preference_datasets.json).
        content_hash: the file's SHA-256 when the run was planned: the step's cache key, checked
            against what it reads.
        dataset_type: the type the file must hold.

    Returns:
        The samples, each marked with its split.
    """
    report = handbook_samples(Path(path), dataset_type=dataset_type, expected_digest=content_hash)
    summary = report.summary()
    log_metadata(
        metadata={
            "path": path,
            "content_hash": content_hash,
            "samples": len(report.samples),
            "summary": summary,
        }
    )
    logger.info(summary)
    return report
