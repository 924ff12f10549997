"""Step: chunk and embed the documents whose chunks are not current."""

import time
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.preprocessing import features
from llm_engineering.configs.features import ChunkingSettings, EmbeddingSettings
from llm_engineering.infrastructure.embeddings import build_embedder, embedding_model_name
from llm_engineering.infrastructure.vector_stores import build_vector_store

logger = get_logger(__name__)


@step(enable_cache=False)
def chunk_and_embed(
    cleaned_load_report: features.CleanedLoadReport, chunking: ChunkingSettings, embedding: EmbeddingSettings
) -> Annotated[features.EmbeddingResult, "embedding_result"]:
    """Chunk every pending document in the model's tokens and embed the chunks in length-sorted batches.

    A document is pending when its chunks are not of its current content, model and chunk
    rules. The model is loaded only when one is, so an unchanged rerun skips it.

    Args:
        cleaned_load_report: the previous step's report (the run's authors).
        chunking: chunk size and overlap per category.
        embedding: encode batch size.

    Returns:
        Each pending document with its embedded chunks, and the counts and timings.
    """
    with build_vector_store() as store:
        pending = features.pending_documents(
            store,
            author_ids=cleaned_load_report.author_ids,
            model_name=embedding_model_name(),
            chunking=chunking,
        )
    result = features.EmbeddingResult()
    if pending:
        started = time.perf_counter()
        embedder = build_embedder()  # once per process: about 0 s when it was loaded before
        load_seconds = time.perf_counter() - started
        result = features.chunk_and_embed(
            pending, embedder=embedder, chunking=chunking, batch_size=embedding.batch_size
        ).model_copy(update={"model_load_seconds": load_seconds})
    summary = result.summary()
    log_metadata(
        metadata={
            "documents": len(result.documents),
            "chunks": result.chunks,
            "tokens": result.tokens,
            "max_chunk_tokens": result.max_chunk_tokens,
            "model": result.model_id,
            "model_load_seconds": round(result.model_load_seconds, 3),
            "chunk_seconds": round(result.chunk_seconds, 3),
            "encode_seconds": round(result.encode_seconds, 3),
            "overhead_seconds": round(result.overhead_seconds, 3),
            "seconds": round(result.seconds, 3),
            "summary": summary,
        }
    )
    logger.info(summary)
    return result
