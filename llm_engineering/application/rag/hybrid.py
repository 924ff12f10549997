"""The retrieval step of the twin: self-query, query expansion, hybrid search, fusion, rerank, dedup.

For a question:

1. **Self-query**: the author the question names (or the one asked for) becomes a filter.
2. **Query expansion**: the question, plus rephrasings when an LLM endpoint is configured.
3. **Hybrid search**, per expanded query: ``2k`` dense hits from the vector store (filters
   inside the store) and ``2k`` BM25 hits from the in-process lexical index (same filters);
   every query gets its own hits, none are divided among the queries.
4. **Weighted reciprocal rank fusion** of all those rankings: a chunk's score is the sum of
   ``w / (60 + rank)`` over the rankings that found it (``w`` = 1 for dense, 0.5 for BM25,
   measured), so agreement between the signals, and between phrasings, lifts a chunk.
5. **Rerank** the fused candidates with a cross-encoder when one is configured.
6. **De-duplicate**: one copy of a chunk, and no two chunks with (nearly) the same text.

The result carries the chunks and their citations (title, link, author).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from llm_engineering.application.preprocessing.embedding import TextEmbedder, embed_queries
from llm_engineering.application.rag.lexical import LexicalIndex, tokenize
from llm_engineering.application.rag.query_expansion import expand_query
from llm_engineering.application.rag.rerank import Reranker
from llm_engineering.application.rag.retrieval import (
    NoEmbeddedChunks,
    RetrievedChunk,
    embedded_collections,
    search_vectors,
)
from llm_engineering.application.rag.self_query import find_author, find_author_with_llm, match_author
from llm_engineering.domain.llm import LLMClient
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import ScoredPoint, VectorStore

Method = Literal["dense", "lexical", "hybrid"]

RRF_K = 60
"""The constant of reciprocal rank fusion (Cormack et al. 2009): damps the weight of the top ranks."""


class Citation(BaseModel):
    """Where a passage of the context comes from."""

    title: str | None
    link: str
    author: str


class RetrievalResult(BaseModel):
    """The context found for a question.

    Attributes:
        question: the question searched.
        author: the author filter used (named in the question, asked for, or the twin's own).
        queries: the queries searched (the question first, then its rephrasings).
        chunks: the context, best first; ``score`` is the fused (or reranked) score.
    """

    question: str
    author: str | None
    queries: list[str]
    chunks: list[RetrievedChunk]

    @property
    def citations(self) -> list[Citation]:
        """One citation per document of the context, in context order."""
        seen: dict[str, Citation] = {}
        for chunk in self.chunks:
            seen.setdefault(
                chunk.link, Citation(title=chunk.title, link=chunk.link, author=chunk.author_full_name)
            )
        return list(seen.values())


LEXICAL_WEIGHT = 0.5
"""Weight of a BM25 ranking in the fusion (a dense ranking weighs 1): measured on the handbook
benchmark, equal weights lost to dense search alone at k=3, half weight beat it at k=3 and k=5."""


def reciprocal_rank_fusion(
    rankings: Iterable[Sequence[str]], *, weights: Sequence[float] | None = None, k: int = RRF_K
) -> dict[str, float]:
    """Fused scores of the ids in ``rankings`` (each best first): the sum of ``weight / (k + rank)``.

    Args:
        rankings: ids, best first, one list per signal and query.
        weights: one weight per ranking (default: 1 each).
        k: the RRF constant.
    """
    rankings = list(rankings)
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def deduplicate(chunks: Sequence[RetrievedChunk], *, threshold: float = 0.85) -> list[RetrievedChunk]:
    """``chunks`` without repeats: the first of each id, and none whose words overlap an earlier one's by ``threshold`` (Jaccard)."""
    kept: list[RetrievedChunk] = []
    kept_words: list[set[str]] = []
    for chunk in chunks:
        words = set(tokenize(chunk.content))
        if any(chunk.id == other.id for other in kept):
            continue
        if any(words and len(words & other) / len(words | other) >= threshold for other in kept_words):
            continue
        kept.append(chunk)
        kept_words.append(words)
    return kept


@dataclass
class ContextRetriever:
    """Finds the context of a question; built once per process, used by every request.

    Attributes:
        embedder: the model the chunks were embedded with.
        known_authors: the authors a question may name (warehouse users and stored authors);
            a callable is asked on every question (the list can grow while serving).
        llm: an OpenAI-compatible endpoint for self-query and query expansion; None: offline.
        reranker: a cross-encoder for the fused candidates; None: keep the fused order.
        expansions: queries per question in LLM mode, the question included.
        method: ``hybrid`` (default), or ``dense`` / ``lexical`` alone (for comparisons).
        candidates: hits per query and signal, as a multiple of ``k``.
        lexical_weight: weight of the BM25 rankings in the fusion.
    """

    embedder: TextEmbedder
    known_authors: Sequence[str] | Callable[[], Sequence[str]] = ()
    llm: LLMClient | None = None
    reranker: Reranker | None = None
    expansions: int = 3
    method: Method = "hybrid"
    candidates: int = 2
    lexical_weight: float = LEXICAL_WEIGHT

    def authors(self) -> list[str]:
        known = self.known_authors() if callable(self.known_authors) else self.known_authors
        return list(known)

    def resolve_author(self, question: str, author: str | None) -> str | None:
        """The author filter: ``author`` (matched case- and space-insensitively) or the one the question names."""
        known = self.authors()
        if author and author.strip():
            return match_author(author, known) or " ".join(author.split())
        if self.llm is not None:
            return find_author_with_llm(question, known, llm=self.llm)
        return find_author(question, known)

    def retrieve(
        self,
        question: str,
        *,
        store: VectorStore,
        lexical: LexicalIndex | None,
        k: int = 5,
        author: str | None = None,
        default_author: str | None = None,
        categories: Iterable[DataCategory | str] | None = None,
    ) -> RetrievalResult:
        """The ``k`` best distinct chunks for ``question``.

        Args:
            question: the user's question.
            store: the vector store (dense search, filters inside it).
            lexical: the BM25 index of the same chunks; None: dense only.
            k: chunks to return (``candidates * k`` hits per query and signal before fusion).
            author: only this author's chunks (as asked by the caller).
            default_author: the filter when neither ``author`` nor the question names one
                (the twin's own author); None: every author.
            categories: only these categories (None: all stored).
        """
        name = self.resolve_author(question, author) or default_author
        queries = expand_query(question, n=self.expansions, llm=self.llm) if question.strip() else []
        if not queries or k <= 0:
            return RetrievalResult(question=question, author=name, queries=queries, chunks=[])
        filters = {"author_full_name": name}
        if categories:
            filters["category"] = [DataCategory(c).value for c in categories]
        fetch = k * self.candidates
        rankings: list[list[str]] = []
        weights: list[float] = []
        found: dict[str, RetrievedChunk] = {}
        if self.method != "lexical":
            try:
                embedded_collections(store, categories)
                vectors = embed_queries(queries, embedder=self.embedder)
                dense = search_vectors(
                    [v.tolist() for v in vectors],
                    store=store,
                    k=k,
                    author_full_name=name,
                    categories=categories,
                )
            except NoEmbeddedChunks:
                dense = []
            for hits in dense:
                rankings.append([hit.id for hit in hits])
                weights.append(1.0)
                for hit in hits:
                    found.setdefault(hit.id, hit)
        if self.method != "dense" and lexical is not None:
            for query in queries:
                hits = lexical.search(query, k=fetch, filters=filters)
                rankings.append([hit.id for hit in hits])
                weights.append(self.lexical_weight)
                for hit in hits:
                    found.setdefault(
                        hit.id, RetrievedChunk.from_hit(ScoredPoint(hit.id, hit.score, dict(hit.payload)))
                    )
        fused = reciprocal_rank_fusion(rankings, weights=weights)
        ordered = sorted(found.values(), key=lambda chunk: -fused[chunk.id])
        ordered = [chunk.model_copy(update={"score": fused[chunk.id]}) for chunk in ordered]
        if self.reranker is not None and ordered:
            scores = self.reranker.scores(question, [chunk.content for chunk in ordered])
            ordered = [
                chunk.model_copy(update={"score": score})
                for score, chunk in sorted(zip(scores, ordered, strict=True), key=lambda pair: -pair[0])
            ]
        return RetrievalResult(
            question=question, author=name, queries=queries, chunks=deduplicate(ordered)[:k]
        )
