"""Step: write the cleaned documents to the feature store and remove the deleted ones."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.preprocessing import features
from llm_engineering.configs.features import LoadingSettings
from llm_engineering.infrastructure.vector_stores import build_vector_store

logger = get_logger(__name__)


@step(enable_cache=False)
def load_cleaned(
    cleaning_result: features.CleaningResult, loading: LoadingSettings
) -> Annotated[features.CleanedLoadReport, "cleaned_load_report"]:
    """Remove the documents gone from the warehouse (chunks first), then upsert the cleaned ones.

    The cleaned documents are stored *pending*: the embedding steps mark them done only once
    their chunks are stored, so a run stopped in between is finished by the next one.

    Args:
        cleaning_result: the cleaning step's output.
        loading: upsert batch size.

    Returns:
        What was written, and the run's authors for the embedding steps.
    """
    with build_vector_store() as store:
        report = features.load_cleaned_documents(cleaning_result, store=store, batch_size=loading.batch_size)
    summary = report.summary()
    log_metadata(
        metadata={
            "written": report.written,
            "removed": report.removed,
            "seconds": round(report.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    return report
