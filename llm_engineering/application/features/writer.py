"""Writing the feature store in the crash-safe order.

1. New and changed cleaned documents are written without ``embedding_version``: *pending*.
2. A pending document's new chunks are upserted (deterministic ids: a retry overwrites),
   then its stale chunks are deleted, and only then is it marked embedded (its
   ``embedding_version`` set).
3. A removed document loses its chunks before its cleaned record, so a document whose
   cleaned record is gone has no chunks left.

A run stopped at any point leaves documents pending or removable, never marked done with
stale chunks; the next run finishes them. Search never sees a document without chunks while
it is re-embedded: new chunks are in place before the old ones go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llm_engineering.application.feature_store import scroll_all
from llm_engineering.application.preprocessing.ids import document_point_id
from llm_engineering.domain.cleaned_documents import (
    CleanedDocument,
    EmbeddedChunk,
    cleaned_collection,
    embedded_collection,
)
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import Point, VectorStore

INDEXED_FIELDS: tuple[str, ...] = ("author_id", "author_full_name", "document_id")
"""Payload keys filtered on in both the cleaned and the embedded collections; each has an index."""


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


def _cleaned_point(document: CleanedDocument) -> Point:
    # The warehouse id rides in the payload: the point id is derived from it when it is not a UUID.
    return Point(
        id=document_point_id(document.id), payload={**document.to_payload(), "document_id": document.id}
    )


def ensure_cleaned_collections(store: VectorStore) -> None:
    """Create the payload-only ``cleaned_*`` collections and their payload indexes if absent."""
    for category in DataCategory:
        store.ensure_collection(cleaned_collection(category), vector_size=None, indexed_fields=INDEXED_FIELDS)


def ensure_embedded_collections(store: VectorStore, *, dimension: int) -> None:
    """Create the ``embedded_*`` collections (cosine, ``dimension``) and their payload indexes if absent."""
    for category in DataCategory:
        store.ensure_collection(
            embedded_collection(category), vector_size=dimension, indexed_fields=INDEXED_FIELDS
        )


def remove_documents(store: VectorStore, removed: dict[DataCategory, list[str]]) -> int:
    """Remove documents from the feature store: their chunks first, then their cleaned records."""
    count = 0
    for category, ids in removed.items():
        if not ids:
            continue
        if store.collection_exists(embedded_collection(category)):
            store.delete(embedded_collection(category), filters={"document_id": list(ids)})
        if store.collection_exists(cleaned_collection(category)):
            store.delete(cleaned_collection(category), ids=[document_point_id(i) for i in ids])
        count += len(ids)
    return count


def _upsert_cleaned(store: VectorStore, documents: Sequence[CleanedDocument], *, batch_size: int) -> None:
    by_category: dict[DataCategory, list[CleanedDocument]] = {}
    for document in documents:
        by_category.setdefault(document.category, []).append(document)
    for category, items in by_category.items():
        for batch in _batches(items, batch_size):
            store.upsert(cleaned_collection(category), [_cleaned_point(d) for d in batch])


def write_cleaned(store: VectorStore, documents: Sequence[CleanedDocument], *, batch_size: int) -> int:
    """Upsert cleaned documents as they are: pending, since the cleaning stage leaves ``embedding_version`` unset."""
    ensure_cleaned_collections(store)
    _upsert_cleaned(store, documents, batch_size=batch_size)
    return len(documents)


@dataclass(frozen=True)
class EmbeddedDocument:
    """A pending document, its embedded chunks and the version they are (set on it once they are stored)."""

    document: CleanedDocument
    chunks: list[EmbeddedChunk]
    version: str


@dataclass
class ChunkWrites:
    """Chunks upserted and stale chunks deleted by :func:`store_embedded`."""

    written: int = 0
    deleted: int = 0


def store_embedded(
    store: VectorStore, items: Sequence[EmbeddedDocument], *, dimension: int, batch_size: int
) -> ChunkWrites:
    """Store each document's new chunks, delete its stale ones, then mark it embedded (in that order).

    Args:
        store: the vector store.
        items: the embedded documents.
        dimension: length of the vectors (creates the collections when absent).
        batch_size: points per upsert.
    """
    writes = ChunkWrites()
    if not items:
        return writes
    ensure_embedded_collections(store, dimension=dimension)
    by_category: dict[DataCategory, list[EmbeddedDocument]] = {}
    for item in items:
        by_category.setdefault(item.document.category, []).append(item)
    for category, group in by_category.items():
        name = embedded_collection(category)
        chunks = [chunk for item in group for chunk in item.chunks]
        for batch in _batches(chunks, batch_size):
            store.upsert(
                name,
                [Point(id=chunk.id, payload=chunk.to_payload(), vector=chunk.embedding) for chunk in batch],
            )
        current = {chunk.id for chunk in chunks}
        document_ids = [item.document.id for item in group]
        stale = [
            point.id
            for point in scroll_all(store, name, filters={"document_id": document_ids})
            if point.id not in current
        ]
        if stale:
            store.delete(name, ids=stale)
        writes.written += len(chunks)
        writes.deleted += len(stale)
        marked = [item.document.model_copy(update={"embedding_version": item.version}) for item in group]
        _upsert_cleaned(store, marked, batch_size=batch_size)
    return writes
