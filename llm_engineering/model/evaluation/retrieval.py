"""Retrieval quality of the feature store: does searching with a test instruction find its source?

Each test instruction was written about one document of the author (its reference answer
is an extract of that document), so it makes a labelled query: the instruction is searched
in the embedded collections (the same :func:`~llm_engineering.application.rag.retrieval.search_many`
that serving uses, filtered by author), the hits are reduced to their documents in rank
order, and

- **hit@k** is the share of queries whose source document is among the first ``k`` documents;
- **MRR** is the mean of ``1 / rank`` of the source document (0 when it is not found).

Higher is better for both. The figures describe the feature store and the embedding model,
not a model version, so they are reported once per run. The saved dataset keeps only
``instruction`` and ``output``; the source of each sample is found by locating its
reference answer in the author's cleaned documents (offline answers are verbatim extracts;
an LLM-written answer may not be found, and such samples are counted as unresolved and left
out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llm_engineering.application.preprocessing.embedding import TextEmbedder
from llm_engineering.application.rag.retrieval import search_many
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.vector_store import VectorStore

_SPACE = re.compile(r"\s+")
ANCHOR_WORDS = 30
"""Words of a reference that must occur verbatim in a document for it to count as the source."""


def _normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def source_document_ids(references: Sequence[str], documents: Iterable[CleanedDocument]) -> list[str | None]:
    """The id of the document each reference was cut from, or None when no document holds it.

    A document holds a reference when the reference's first :data:`ANCHOR_WORDS` words occur
    in its text (whitespace and case folded), so a reference that was trimmed at the end
    still matches.
    """
    texts = [(document.id, _normalise(document.content)) for document in documents]
    found: list[str | None] = []
    for reference in references:
        anchor = " ".join(_normalise(reference).split(" ")[:ANCHOR_WORDS])
        found.append(next((doc_id for doc_id, text in texts if anchor and anchor in text), None))
    return found


@dataclass(frozen=True)
class RetrievalResult:
    """Hit@k and MRR of the labelled queries.

    Attributes:
        k: documents considered per query.
        hit_at_k: share of queries whose source is in the first ``k`` documents.
        mrr: mean reciprocal rank of the source document.
        queries: labelled queries searched.
        unresolved: samples left out because their source document was not found.
        ranks: rank (1-based) of each query's source; None when not found.
    """

    k: int
    hit_at_k: float
    mrr: float
    queries: int
    unresolved: int
    ranks: list[int | None]


def rank_of(document_ids: Sequence[str], target: str) -> int | None:
    """1-based rank of ``target`` among the distinct documents in hit order, or None."""
    seen: list[str] = []
    for doc_id in document_ids:
        if doc_id not in seen:
            seen.append(doc_id)
            if doc_id == target:
                return len(seen)
    return None


def retrieval_scores(
    queries: Sequence[str],
    targets: Sequence[str | None],
    *,
    store: VectorStore,
    embedder: TextEmbedder,
    k: int = 5,
    author_full_name: str | None = None,
    chunks_per_query: int | None = None,
) -> RetrievalResult:
    """Search each labelled query and score where its source document comes.

    Args:
        queries: the test instructions.
        targets: the source document id of each query; None leaves the query out (unresolved).
        store: the vector store with the embedded collections.
        embedder: the embedding model the chunks were embedded with.
        k: documents that count as a hit.
        author_full_name: search only this author's chunks.
        chunks_per_query: chunks fetched per query before reducing to documents (default ``4 * k``,
            so a long document's many chunks do not hide the others).

    Raises:
        ValueError: no query has a resolved target.
        NoEmbeddedChunks: the store has no embedded collection.
    """
    labelled = [(q, t) for q, t in zip(queries, targets, strict=True) if t is not None]
    if not labelled:
        raise ValueError("no test sample could be traced to a document of the feature store")
    hits = search_many(
        [q for q, _ in labelled],
        store=store,
        embedder=embedder,
        k=chunks_per_query or 4 * k,
        author_full_name=author_full_name,
    )
    ranks = [
        rank_of([h.document_id for h in found], target)
        for found, (_, target) in zip(hits, labelled, strict=True)
    ]
    hit = sum(1 for r in ranks if r is not None and r <= k) / len(ranks)
    mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
    return RetrievalResult(
        k=k, hit_at_k=hit, mrr=mrr, queries=len(ranks), unresolved=len(targets) - len(labelled), ranks=ranks
    )
