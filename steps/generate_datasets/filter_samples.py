"""Step: drop short and duplicate samples, counting each filter."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets.flow import filter_generated
from llm_engineering.application.datasets.samples import GenerationReport
from llm_engineering.application.datasets.work import WorkRef, work_store
from llm_engineering.configs.datasets import QualityConfig
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)  # reads and writes the work store, outside ZenML
def filter_samples(samples: WorkRef, quality: QualityConfig) -> Annotated[WorkRef, "filtered_samples"]:
    """Apply the minimum lengths and exact and near-duplicate removal.

    Args:
        samples: the generated (or loaded) samples, in the work store.
        quality: minimum lengths, near-duplicate threshold, whether to deduplicate.

    Returns:
        A reference to the kept samples and what each filter removed.
    """
    work = work_store(get_settings().state_dir)
    filtered = filter_generated(work.get(samples, GenerationReport), quality=quality)
    summary = filtered.summary()
    log_metadata(
        metadata={
            "samples_in": filtered.generated,
            "samples_kept": len(filtered.samples),
            "filtered": filtered.filtered,
            "seconds": round(filtered.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    return work.put(filtered, kind="filtered", items=len(filtered.samples), summary=summary)
