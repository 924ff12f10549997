"""The feature flow: clean the new and changed documents, then chunk and embed the pending ones.

Each stage reads what it needs (the warehouse by id, the feature store by author) and writes
its results to the feature store itself, returning a small report: ids, counts and timings,
never the documents or their vectors. :func:`run_feature_flow` chains the stages in one
process for tests and benchmarks; the pipeline's steps call them one by one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tqdm import tqdm

from llm_engineering.application.features.bookkeeping import (
    boilerplate_digest,
    check_mass_removal,
    cleaning_version,
    embedding_version,
    pending_documents,
    plan_cleaning,
    read_stored,
)
from llm_engineering.application.features.query import WarehouseIndex, query_documents, read_documents
from llm_engineering.application.features.reports import CleaningReport, EmbeddingReport, FeatureRunReport
from llm_engineering.application.features.writer import (
    EmbeddedDocument,
    remove_documents,
    store_embedded,
    write_cleaned,
)
from llm_engineering.application.preprocessing.boilerplate import author_boilerplate
from llm_engineering.application.preprocessing.chunking import chunk_document
from llm_engineering.application.preprocessing.cleaning import clean_document
from llm_engineering.application.preprocessing.embedding import EmbeddingStats, TextEmbedder, embed_chunks
from llm_engineering.configs.features import ChunkingConfig, FeatureEngineeringConfig
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.documents import ContentDocument
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import VectorStore
from llm_engineering.domain.warehouse import Warehouse


class CleaningFailuresExceeded(LLMTwinError):
    """Too many documents failed to clean; nothing was written."""


class MalformedDocument(LLMTwinError, ValueError):
    """A warehouse document's content is not text: the message names the field."""


def check_document(document: ContentDocument) -> None:
    """Refuse a document whose content is not a mapping of names to text (or empty fields).

    Raises:
        MalformedDocument: naming the document's link and the offending field.
    """
    if not isinstance(document.content, dict):
        raise MalformedDocument(f"content holds {type(document.content).__name__}, not a mapping")
    for key, value in document.content.items():
        if not isinstance(key, str):
            raise MalformedDocument(f"content key {key!r} holds {type(key).__name__}, not text")
        if value is not None and not isinstance(value, str):
            raise MalformedDocument(f"content field {key!r} holds {type(value).__name__}, not text")


# -- clean -------------------------------------------------------------------------------


def _raise_if_failures_exceed(failed: dict[str, str], *, documents: int, threshold: float) -> None:
    ratio = len(failed) / documents if documents else 0.0
    if ratio > threshold:
        reasons = "\n".join(f"  {link}: {reason}" for link, reason in failed.items())
        raise CleaningFailuresExceeded(
            f"{len(failed)} of {documents} documents failed to clean "
            f"({ratio:.0%} > failure_threshold {threshold:.0%}); nothing was written:\n{reasons}"
        )


def author_repeated_lines(warehouse: Warehouse, index: WarehouseIndex) -> dict[str, frozenset[str]]:
    """Each author's lines that repeat across their articles and posts (promotions, sign-offs).

    Read from all of the author's documents, not only the ones to clean, so the set (and the
    cleaning version that includes its digest) does not depend on what changed.
    """
    texts: dict[str, list[str]] = {}
    prose = [ref for ref in index.documents if ref.category != DataCategory.REPOSITORIES]
    for document in read_documents(warehouse, prose):
        content = document.content.get("Content") if isinstance(document.content, dict) else None
        if isinstance(content, str):
            texts.setdefault(document.author_id, []).append(content)
    return author_boilerplate(texts)


def clean_documents(
    index: WarehouseIndex,
    *,
    warehouse: Warehouse,
    store: VectorStore,
    failure_threshold: float,
    batch_size: int,
    mass_removal_threshold: float = 0.5,
    allow_mass_removal: bool = False,
    progress: bool = True,
) -> CleaningReport:
    """Clean the new and changed documents and write them (pending); remove the documents gone or emptied.

    Nothing is written when too many documents fail or when most of an author's stored
    documents are missing from the warehouse; both checks come first.

    Args:
        index: the run's authors and their documents' ids and hashes.
        warehouse: the document warehouse (documents to clean are read from it by id).
        store: the vector store holding the feature store.
        failure_threshold: the largest share of documents that may fail to clean.
        batch_size: points per upsert.
        mass_removal_threshold: the largest share of an author's stored documents that may be
            removed for being missing from the warehouse.
        allow_mass_removal: remove them anyway.
        progress: show a progress bar.

    Raises:
        MassRemovalRefused: too many of an author's stored documents are missing.
        CleaningFailuresExceeded: too many documents failed to clean.
    """
    started = time.perf_counter()
    if index.warehouse_empty:
        return CleaningReport(warehouse_empty=True, seconds=time.perf_counter() - started)
    stored = read_stored(store, author_ids=list(index.authors))
    repeated = author_repeated_lines(warehouse, index)
    digests = {author_id: boilerplate_digest(lines) for author_id, lines in repeated.items()}
    plan = plan_cleaning(index, stored, boilerplate=digests)
    check_mass_removal(
        plan, stored, authors=index.authors, threshold=mass_removal_threshold, allowed=allow_mass_removal
    )
    documents = {(d.category, d.id): d for d in read_documents(warehouse, plan.to_clean)}
    cleaned: list[CleanedDocument] = []
    removed = {category: list(ids) for category, ids in plan.missing.items()}
    counts = {"new": 0, "changed": 0}
    skipped: list[str] = []
    failed: dict[str, str] = {}
    for ref in tqdm(plan.to_clean, desc="cleaning", unit="doc", disable=not progress):
        document = documents.get((ref.category, ref.id))
        if document is None:
            failed[ref.link] = "gone from the warehouse during the run"
            continue
        try:
            check_document(document)
            result = clean_document(document, boilerplate=repeated.get(document.author_id, frozenset()))
        except (
            ValueError
        ) as exc:  # a malformed document (validation errors included); a bug still fails the run
            failed[ref.link] = f"{type(exc).__name__}: {exc}"
            continue
        previous = (ref.category, ref.id) in stored
        if result is None:
            skipped.append(ref.link)
            if previous:  # it had features; an empty document has none
                removed.setdefault(ref.category, []).append(ref.id)
            continue
        counts["changed" if previous else "new"] += 1
        # No embedding_version: pending until its chunks of this version are stored.
        version = cleaning_version(result.source_hash, digests.get(document.author_id, ""))
        cleaned.append(result.model_copy(update={"cleaning_version": version}))
    _raise_if_failures_exceed(failed, documents=len(index.documents), threshold=failure_threshold)
    remove_documents(store, removed)
    written = write_cleaned(store, cleaned, batch_size=batch_size)
    return CleaningReport(
        author_ids=list(index.authors),
        unchanged=plan.unchanged,
        written=written,
        removed=removed,
        skipped_empty=skipped,
        failed=failed,
        seconds=time.perf_counter() - started,
        **counts,
    )


# -- chunk and embed ---------------------------------------------------------------------


def chunk_and_embed(
    documents: Sequence[CleanedDocument],
    *,
    embedder: TextEmbedder,
    chunking: ChunkingConfig,
    batch_size: int,
    progress: bool = True,
) -> tuple[list[EmbeddedDocument], EmbeddingStats, float]:
    """Chunk documents in the model's tokens and embed every chunk (in memory; nothing is stored).

    Args:
        documents: the cleaned documents to embed.
        embedder: the embedding model (its tokenizer sizes the chunks).
        chunking: chunk size and overlap per category.
        batch_size: chunks per encode call.
        progress: show progress bars.

    Returns:
        Each document with its embedded chunks and their version, the encode pass's counts and
        timings, and the seconds spent chunking.
    """
    started = time.perf_counter()
    chunked = []
    for document in tqdm(documents, desc="chunking", unit="doc", disable=not progress):
        rules = chunking.for_category(document.category)
        chunked.append(
            chunk_document(
                document,
                tokenizer=embedder.tokenizer,
                chunk_size=rules.chunk_size,
                chunk_overlap=rules.chunk_overlap,
            )
        )
    chunk_seconds = time.perf_counter() - started
    flat = [chunk for chunks in chunked for chunk in chunks]
    embedded, stats = (
        embed_chunks(flat, embedder=embedder, batch_size=batch_size, progress=progress)
        if flat
        else ([], EmbeddingStats())
    )
    results = []
    position = 0
    for document, chunks in zip(documents, chunked, strict=True):
        version = embedding_version(document, model_name=embedder.model_id, chunking=chunking)
        results.append(
            EmbeddedDocument(
                document=document, chunks=embedded[position : position + len(chunks)], version=version
            )
        )
        position += len(chunks)
    return results, stats, chunk_seconds


def embed_pending(
    store: VectorStore,
    *,
    author_ids: Sequence[str],
    embedder: Callable[[], TextEmbedder],
    model_name: str,
    chunking: ChunkingConfig,
    encode_batch_size: int,
    write_batch_size: int,
    progress: bool = True,
) -> EmbeddingReport:
    """Chunk and embed the authors' pending documents and store the chunks in the crash-safe order.

    The model is loaded only when a document is pending, so an unchanged rerun skips it.

    Args:
        store: the vector store holding the feature store.
        author_ids: the run's authors.
        embedder: returns the embedding model; called only when something needs embedding.
        model_name: the name that model will have (``model_id``), known before it is loaded.
        chunking: chunk size and overlap per category.
        encode_batch_size: chunks per encode call.
        write_batch_size: points per upsert.
        progress: show progress bars.

    Raises:
        ValueError: the embedder is not the model the pending documents were planned for.
    """
    pending = pending_documents(store, author_ids=author_ids, model_name=model_name, chunking=chunking)
    if not pending:
        return EmbeddingReport()
    load_started = time.perf_counter()
    model = embedder()
    load_seconds = time.perf_counter() - load_started
    if model.model_id != model_name:
        raise ValueError(
            f"the embedder is {model.model_id!r}, not the {model_name!r} the run was planned for"
        )
    started = time.perf_counter()
    items, stats, chunk_seconds = chunk_and_embed(
        pending, embedder=model, chunking=chunking, batch_size=encode_batch_size, progress=progress
    )
    store_started = time.perf_counter()
    writes = store_embedded(store, items, dimension=model.dimension, batch_size=write_batch_size)
    return EmbeddingReport(
        document_ids=[item.document.id for item in items],
        model_id=model.model_id,
        dimension=model.dimension,
        chunks=writes.written,
        tokens=stats.tokens,
        max_chunk_tokens=max((chunk.token_count for item in items for chunk in item.chunks), default=0),
        chunks_deleted=writes.deleted,
        model_load_seconds=load_seconds,
        chunk_seconds=chunk_seconds,
        encode_seconds=stats.encode_seconds,
        store_seconds=time.perf_counter() - store_started,
        seconds=time.perf_counter() - started,
    )


# -- the whole flow ----------------------------------------------------------------------


def run_feature_flow(
    *,
    warehouse: Warehouse,
    store: VectorStore,
    embedder: Callable[[], TextEmbedder],
    model_name: str,
    config: FeatureEngineeringConfig,
    progress: bool = True,
) -> FeatureRunReport:
    """Run every stage of the feature pipeline in this process (what the ZenML steps do one by one).

    Args:
        warehouse: the document warehouse.
        store: the vector store.
        embedder: returns the embedding model; called only when something needs embedding.
        model_name: the name that model will have (``model_id``), known before it is loaded.
        config: the pipeline's config.
        progress: show progress bars.
    """
    started = time.perf_counter()
    index = query_documents(warehouse, author_full_names=config.author_full_names)
    cleaning = clean_documents(
        index,
        warehouse=warehouse,
        store=store,
        failure_threshold=config.cleaning.failure_threshold,
        batch_size=config.loading.batch_size,
        mass_removal_threshold=config.mass_removal_threshold,
        allow_mass_removal=config.allow_mass_removal,
        progress=progress,
    )
    embedding = embed_pending(
        store,
        author_ids=cleaning.author_ids,
        embedder=embedder,
        model_name=model_name,
        chunking=config.chunking,
        encode_batch_size=config.embedding.batch_size,
        write_batch_size=config.loading.batch_size,
        progress=progress,
    )
    return FeatureRunReport(
        query=index, cleaning=cleaning, embedding=embedding, seconds=time.perf_counter() - started
    )
