"""Step: clean the new and changed documents into the feature store; remove the gone ones."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.features.flow import clean_documents as clean
from llm_engineering.application.features.query import WarehouseIndex
from llm_engineering.application.features.reports import CleaningReport
from llm_engineering.configs.features import CleaningConfig, LoadingConfig
from llm_engineering.infrastructure.vector_stores import build_vector_store
from llm_engineering.infrastructure.warehouse import open_warehouse

logger = get_logger(__name__)


@step(enable_cache=False)  # compares with the feature store as it is now, and writes to it
def clean_documents(
    documents: WarehouseIndex,
    cleaning: CleaningConfig,
    loading: LoadingConfig,
    mass_removal_threshold: float,
    allow_mass_removal: bool,
) -> Annotated[CleaningReport, "cleaning_report"]:
    """Clean each document whose cleaning version changed and store it pending its chunks.

    Documents gone from the warehouse, or now cleaned to nothing, lose their features (chunks
    first). Unchanged documents are skipped.

    Args:
        documents: the authors' documents by id and content hash.
        cleaning: the failure threshold.
        loading: upsert batch size.
        mass_removal_threshold: the largest share of an author's stored documents that may be
            removed for being missing from the warehouse.
        allow_mass_removal: remove them anyway.

    Returns:
        Counts, removed ids and failures: never the cleaned text.

    Raises:
        CleaningFailuresExceeded: too many documents failed; nothing is written.
        MassRemovalRefused: most of an author's stored documents are missing; nothing is written.
    """
    with open_warehouse() as warehouse, build_vector_store() as store:
        report = clean(
            documents,
            warehouse=warehouse,
            store=store,
            failure_threshold=cleaning.failure_threshold,
            batch_size=loading.batch_size,
            mass_removal_threshold=mass_removal_threshold,
            allow_mass_removal=allow_mass_removal,
        )
    summary = report.summary()
    log_metadata(
        metadata={
            "documents": report.counts,
            "skipped_empty": report.skipped_empty,
            "failures": report.failed,
            "seconds": round(report.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    return report
