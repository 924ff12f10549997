"""Step: read the authors' cleaned documents from the feature store and cut them into extracts."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets.feature_source import load_extracts as read_extracts
from llm_engineering.application.datasets.work import WorkRef, work_store
from llm_engineering.configs.datasets import ExtractConfig, QualityConfig
from llm_engineering.infrastructure.vector_stores import build_vector_store
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)  # reads the feature store as it is now: a cached answer would be stale
def load_extracts(
    author_full_names: list[str], extracts: ExtractConfig, quality: QualityConfig
) -> Annotated[WorkRef, "extracts"]:
    """Read the cleaned documents page by page, cut them into extracts, drop duplicate extracts.

    Args:
        author_full_names: the authors whose documents are read.
        extracts: categories, extract lengths (characters or words) and the scroll page size.
        quality: the near-duplicate threshold and whether to deduplicate.

    Returns:
        A reference to the extracts in the work store (with per-category counts of documents,
        extracts, short documents and duplicates).
    """
    with build_vector_store() as store:
        report = read_extracts(store, author_full_names=author_full_names, extracts=extracts, quality=quality)
    summary = report.summary()
    log_metadata(
        metadata={
            "documents": report.documents,
            "extracts": report.counts,
            "too_short": report.too_short,
            "duplicates": report.duplicates,
            "seconds": round(report.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    return work_store(get_settings().state_dir).put(
        report, kind="extracts", items=len(report.extracts), summary=summary
    )
