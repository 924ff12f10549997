"""Step: clean the new and changed documents and find the removed ones."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.preprocessing import features
from llm_engineering.configs.features import CleaningSettings
from llm_engineering.infrastructure.vector_stores import build_vector_store

logger = get_logger(__name__)


@step(enable_cache=False)  # compares with the feature store as it is now
def clean_documents(
    documents: features.WarehouseDocuments, cleaning: CleaningSettings
) -> Annotated[features.CleaningResult, "cleaning_result"]:
    """Clean each document whose content hash differs from the stored one; unchanged ones are skipped.

    Args:
        documents: the authors' warehouse documents.
        cleaning: the failure threshold.

    Returns:
        The cleaned documents to write, the ids to remove and the new/changed/unchanged counts.

    Raises:
        CleaningFailuresExceeded: too many documents failed; nothing is written.
    """
    with build_vector_store() as store:
        stored = features.read_stored_hashes(store, author_ids=list(documents.authors))
    result = features.clean_documents(documents, stored=stored)
    summary = result.summary()
    log_metadata(
        metadata={
            "documents": result.counts,
            "skipped_empty": result.skipped_empty,
            "failures": result.failed,
            "characters": sum(len(d.content) for d in result.cleaned),
            "seconds": round(result.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    result.raise_if_failures_exceed(cleaning.failure_threshold)
    return result
