"""Reading the feature store: points page by page, and the cleaned documents they hold.

Shared by the feature pipeline (which rereads what it wrote) and the dataset pipeline
(which reads the cleaned documents as its input).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from llm_engineering.domain.cleaned_documents import CleanedDocument, cleaned_collection
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import Point, VectorStore

SCROLL_PAGE = 512
"""Points per ``scroll`` request unless a caller asks for another page size."""


def scroll_all(
    store: VectorStore, name: str, *, filters: dict[str, Any] | None = None, page_size: int = SCROLL_PAGE
) -> Iterator[Point]:
    """Every point of ``name`` matching ``filters``, page by page; nothing when the collection is absent."""
    if not store.collection_exists(name):
        return
    offset: str | None = None
    while True:
        points, offset = store.scroll(name, filters=filters, limit=page_size, offset=offset)
        yield from points
        if offset is None:
            return


def iter_cleaned_documents(
    store: VectorStore,
    *,
    categories: Iterable[DataCategory | str] = tuple(DataCategory),
    author_ids: Sequence[str] | None = None,
    author_full_names: Sequence[str] | None = None,
    page_size: int = SCROLL_PAGE,
) -> Iterator[CleanedDocument]:
    """The cleaned documents of the ``cleaned_*`` collections, one ``scroll`` page at a time.

    Args:
        store: the vector store.
        categories: the categories to read; an absent collection reads as empty.
        author_ids: only these authors' documents (None: every author); filtered inside the store.
        author_full_names: only these authors' documents, by name (None: every author).
        page_size: documents per request.
    """
    filters: dict[str, Any] = {"author_id": author_ids, "author_full_name": author_full_names}
    for category in categories:
        for point in scroll_all(store, cleaned_collection(category), filters=filters, page_size=page_size):
            # The feature pipeline stores the warehouse id under ``document_id`` when the point
            # id had to be derived from it (a non-UUID id); otherwise the point id is the id.
            payload = dict(point.payload)
            yield CleanedDocument.from_payload(payload.pop("document_id", point.id), payload)


def count_cleaned_documents(
    store: VectorStore,
    *,
    categories: Iterable[DataCategory | str] = tuple(DataCategory),
    author_full_names: Sequence[str] | None = None,
) -> int:
    """How many cleaned documents of ``categories`` (of these exact stored names, when given) the store holds."""
    filters: dict[str, Any] = {"author_full_name": author_full_names}
    return sum(
        store.count(cleaned_collection(category), filters=filters)
        for category in categories
        if store.collection_exists(cleaned_collection(category))
    )


def stored_author_names(
    store: VectorStore, *, categories: Iterable[DataCategory | str] = tuple(DataCategory)
) -> list[str]:
    """The author names of the cleaned documents, as stored, sorted."""
    return sorted(
        {document.author_full_name for document in iter_cleaned_documents(store, categories=categories)}
    )
