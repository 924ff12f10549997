"""Step: chunk and embed the documents whose chunks are not current, and store the chunks."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.features.flow import embed_pending
from llm_engineering.application.features.reports import CleaningReport, EmbeddingReport
from llm_engineering.configs.features import ChunkingConfig, EmbeddingConfig, LoadingConfig
from llm_engineering.infrastructure.embeddings import build_embedder, embedding_model_name
from llm_engineering.infrastructure.vector_stores import build_vector_store

logger = get_logger(__name__)


@step(enable_cache=False)  # reads and writes the feature store as it is now
def chunk_and_embed(
    cleaning_report: CleaningReport,
    chunking: ChunkingConfig,
    embedding: EmbeddingConfig,
    loading: LoadingConfig,
) -> Annotated[EmbeddingReport, "embedding_report"]:
    """Chunk every pending document in the model's tokens, embed the chunks, store them crash-safely.

    A document is pending when its chunks are not of its current cleaning version, model and
    chunk rules. The model is loaded only when one is, so an unchanged rerun skips it. New
    chunks are stored, then stale ones deleted, then the document is marked embedded.

    Args:
        cleaning_report: the cleaning step's report (the run's authors).
        chunking: chunk size and overlap per category.
        embedding: encode batch size.
        loading: upsert batch size.

    Returns:
        The embedded documents' ids, counts and timings: never the vectors.
    """
    with build_vector_store() as store:
        report = embed_pending(
            store,
            author_ids=cleaning_report.author_ids,
            embedder=build_embedder,  # once per process: about 0 s when it was loaded before
            model_name=embedding_model_name(),
            chunking=chunking,
            encode_batch_size=embedding.batch_size,
            write_batch_size=loading.batch_size,
        )
    summary = report.summary()
    log_metadata(
        metadata={
            "documents": len(report.document_ids),
            "chunks": report.chunks,
            "chunks_deleted": report.chunks_deleted,
            "tokens": report.tokens,
            "max_chunk_tokens": report.max_chunk_tokens,
            "model": report.model_id,
            "model_load_seconds": round(report.model_load_seconds, 3),
            "chunk_seconds": round(report.chunk_seconds, 3),
            "encode_seconds": round(report.encode_seconds, 3),
            "store_seconds": round(report.store_seconds, 3),
            "overhead_seconds": round(report.overhead_seconds, 3),
            "seconds": round(report.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    return report
