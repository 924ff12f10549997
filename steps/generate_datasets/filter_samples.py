"""Step: drop short and duplicate samples, counting each filter."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets.build import FilteredSamples, filter_generated
from llm_engineering.application.datasets.samples import GenerationReport
from llm_engineering.configs.datasets import QualitySettings

logger = get_logger(__name__)


@step
def filter_samples(
    samples: GenerationReport, quality: QualitySettings
) -> Annotated[FilteredSamples, "filtered_samples"]:
    """Apply the minimum lengths and exact and near-duplicate removal.

    Args:
        samples: the generated (or loaded) samples.
        quality: minimum lengths, near-duplicate threshold, whether to deduplicate.

    Returns:
        The kept samples and what each filter removed.
    """
    filtered = filter_generated(samples, quality=quality)
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
    return filtered
