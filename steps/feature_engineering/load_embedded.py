"""Step: store the embedded chunks, delete stale ones, mark their documents embedded."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.preprocessing import features
from llm_engineering.configs.features import LoadingSettings
from llm_engineering.infrastructure.vector_stores import build_vector_store

logger = get_logger(__name__)


@step(enable_cache=False)
def load_embedded(
    embedding_result: features.EmbeddingResult, loading: LoadingSettings
) -> Annotated[features.EmbeddedLoadReport, "embedded_load_report"]:
    """Upsert each document's new chunks, delete its stale ones, then mark it embedded.

    Args:
        embedding_result: the chunk-and-embed step's output.
        loading: upsert batch size.

    Returns:
        Chunks written and deleted.
    """
    with build_vector_store() as store:
        report = features.load_embedded_chunks(embedding_result, store=store, batch_size=loading.batch_size)
    summary = report.summary()
    log_metadata(
        metadata={
            "documents": report.documents,
            "chunks_written": report.chunks_written,
            "chunks_deleted": report.chunks_deleted,
            "seconds": round(report.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    return report
