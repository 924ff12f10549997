"""Retrieval core: embed a query, search the embedded collections with filters inside the store, merge.

Filters (author, category) are payload conditions the store evaluates with its payload
indexes during the search, so ``k`` hits of the right author come back even when that author
holds a small share of the points; nothing is filtered after the search. Each category is
its own collection: the query runs once per collection asked for, and the hits are merged by
score (cosine similarity of unit vectors, comparable across collections).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from llm_engineering.application.preprocessing.embedding import TextEmbedder, embed_queries
from llm_engineering.domain.cleaned_documents import embedded_collection
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import ScoredPoint, VectorStore


class NoEmbeddedChunks(LLMTwinError):
    """The vector store has none of the embedded collections searched."""


class RetrievedChunk(BaseModel):
    """A chunk found by a search, with its score.

    Attributes:
        id: the chunk's point id.
        score: cosine similarity to the query (higher is closer).
        document_id: the document the chunk belongs to.
        index: the chunk's position in its document.
        category: articles, posts or repositories.
        title: the document's title, when it has one.
        content: the chunk's text.
        author_full_name: the author.
        author_id: the author's id.
        link: the document's address.
        platform: where the document came from.
    """

    id: str
    score: float
    document_id: str
    index: int
    category: DataCategory
    title: str | None = None
    content: str
    author_full_name: str
    author_id: str
    link: str
    platform: str

    @classmethod
    def from_hit(cls, hit: ScoredPoint) -> RetrievedChunk:
        payload = hit.payload
        return cls(
            id=hit.id,
            score=hit.score,
            document_id=payload.get("document_id", ""),
            index=int(payload.get("index", 0)),
            category=payload.get("category", DataCategory.ARTICLES),
            title=payload.get("title"),
            content=payload.get("content", ""),
            author_full_name=payload.get("author_full_name", ""),
            author_id=payload.get("author_id", ""),
            link=payload.get("link", ""),
            platform=payload.get("platform", ""),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON object: ``score``, ``author_full_name``, ``category``, ``link``, ``content`` and the rest."""
        return self.model_dump(mode="json")


def embedded_collections(
    store: VectorStore, categories: Iterable[DataCategory | str] | None = None
) -> list[str]:
    """The embedded collections to search: those of ``categories`` (None: all) that exist.

    Raises:
        NoEmbeddedChunks: none of them exists yet.
    """
    wanted = [DataCategory(c) for c in categories] if categories else list(DataCategory)
    names = [embedded_collection(c) for c in wanted if store.collection_exists(embedded_collection(c))]
    if not names:
        asked = ", ".join(embedded_collection(c) for c in wanted)
        raise NoEmbeddedChunks(
            f"the vector store holds none of {asked}: run `poe run-feature-engineering-pipeline` first"
        )
    return names


def search_vectors(
    vectors: Sequence[Sequence[float]],
    *,
    store: VectorStore,
    k: int = 5,
    author_full_name: str | None = None,
    categories: Iterable[DataCategory | str] | None = None,
) -> list[list[RetrievedChunk]]:
    """The ``k`` closest chunks to each query vector, filtered inside the store.

    Args:
        vectors: unit-length query vectors.
        store: the vector store.
        k: hits per query.
        author_full_name: only this author's chunks (exact name, as stored).
        categories: only these categories (None: all that are stored).

    Raises:
        NoEmbeddedChunks: the store has none of the collections asked for.
    """
    names = embedded_collections(store, categories)
    filters = {"author_full_name": author_full_name}
    results = []
    for vector in vectors:
        hits = [hit for name in names for hit in store.search(name, vector, k=k, filters=filters)]
        hits.sort(key=lambda hit: hit.score, reverse=True)
        results.append([RetrievedChunk.from_hit(hit) for hit in hits[:k]])
    return results


def search_many(
    queries: Sequence[str],
    *,
    store: VectorStore,
    embedder: TextEmbedder,
    k: int = 5,
    author_full_name: str | None = None,
    categories: Iterable[DataCategory | str] | None = None,
) -> list[list[RetrievedChunk]]:
    """Search several queries at once: one encode call for all of them, then one search each.

    Args:
        queries: the search texts; a blank one gets no hits.
        store: the vector store.
        embedder: the embedding model the chunks were embedded with.
        k: hits per query.
        author_full_name: only this author's chunks.
        categories: only these categories (None: all that are stored).
    """
    names = embedded_collections(store, categories)
    wanted = [i for i, query in enumerate(queries) if query.strip()]
    vectors = embed_queries([queries[i] for i in wanted], embedder=embedder)
    found = search_vectors(
        [v.tolist() for v in vectors],
        store=store,
        k=k,
        author_full_name=author_full_name,
        categories=[name.removeprefix("embedded_") for name in names],
    )
    results: list[list[RetrievedChunk]] = [[] for _ in queries]
    for i, hits in zip(wanted, found, strict=True):
        results[i] = hits
    return results


def search(
    query: str,
    *,
    store: VectorStore,
    embedder: TextEmbedder,
    k: int = 5,
    author_full_name: str | None = None,
    categories: Iterable[DataCategory | str] | None = None,
) -> list[RetrievedChunk]:
    """The ``k`` chunks closest to ``query``, best first (see :func:`search_many`)."""
    return search_many(
        [query], store=store, embedder=embedder, k=k, author_full_name=author_full_name, categories=categories
    )[0]
