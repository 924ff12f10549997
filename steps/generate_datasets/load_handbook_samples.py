"""Step: read an existing dataset in the LLM Engineer's Handbook JSON format."""

from pathlib import Path
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets.samples import handbook_samples
from llm_engineering.application.datasets.work import WorkRef, work_store
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


# Never cached: it writes the work store, outside ZenML. The content hash still names what was
# read, and the work store keeps one copy of an unchanged file's samples.
@step(enable_cache=False)
def load_handbook_samples(
    path: str, content_hash: str, dataset_type: DatasetType
) -> Annotated[WorkRef, "handbook_samples"]:
    """Load the samples of a handbook-format JSON file, keeping its own train/test split.

    Args:
        path: the JSON file (e.g. instruct_datasets.json, preference_datasets.json).
        content_hash: the file's SHA-256 when the run was planned, checked against what it reads.
        dataset_type: the type the file must hold.

    Returns:
        A reference to the samples in the work store, each sample marked with its split.
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
    return work_store(get_settings().state_dir).put(
        report, kind="samples", items=len(report.samples), summary=summary
    )
