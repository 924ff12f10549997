"""The feature flow: warehouse documents -> cleaned documents -> chunks -> embedded chunks, incrementally.

Each stage is a function the pipeline's steps call one by one; :func:`run_feature_flow`
chains them in one process for tests and benchmarks.

Incremental runs and crash safety rest on two marks on every cleaned document:

- ``source_hash``, the raw document's content hash when it was cleaned: a warehouse document
  whose hash equals it is *unchanged* and is neither cleaned, chunked nor embedded again;
- ``embedding_version``, a hash of ``source_hash``, the embedding model's name and the
  category's chunk size and overlap, set when the chunks are stored: the embedding stage
  embeds exactly the documents whose stored version is not :func:`embedding_version` of
  today's settings (so a new model or new chunk sizes re-embed every document, once).

Write order makes every failure repairable by the next run:

1. new and changed cleaned documents are written without ``embedding_version``: *pending*;
2. a pending document's new chunks are upserted (deterministic ids: a retry overwrites),
   then its stale chunks are deleted, and only then is it marked embedded (its
   ``embedding_version`` set);
3. a removed document loses its chunks before its cleaned document, so a document whose
   cleaned record is gone has no chunks left.

A run stopped at any point leaves documents pending or removable, never marked done with
stale chunks; the next run finishes them. Search never sees a document without chunks while
it is re-embedded: new chunks are in place before the old ones go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from llm_engineering.application.feature_store import iter_cleaned_documents, scroll_all
from llm_engineering.application.preprocessing.chunking import chunk_document
from llm_engineering.application.preprocessing.cleaning import clean_document
from llm_engineering.application.preprocessing.embedding import EmbeddingStats, TextEmbedder, embed_chunks
from llm_engineering.application.preprocessing.ids import content_digest, document_point_id
from llm_engineering.configs.features import ChunkingSettings, FeatureEngineeringConfig
from llm_engineering.domain.cleaned_documents import (
    CleanedDocument,
    EmbeddedChunk,
    cleaned_collection,
    embedded_collection,
)
from llm_engineering.domain.documents import (
    ArticleDocument,
    ContentDocument,
    PostDocument,
    RepositoryDocument,
    UserDocument,
)
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import Point, VectorStore

INDEXED_FIELDS: tuple[str, ...] = ("author_id", "author_full_name", "category", "document_id", "platform")
"""Payload keys filtered on in both the cleaned and the embedded collections; each has an index."""


class UnknownAuthorError(LLMTwinError):
    """The config names an author the warehouse does not know."""


class CleaningFailuresExceeded(LLMTwinError):
    """Too many documents failed to clean; nothing was written."""


def _names_key(full_name: str) -> str:
    return " ".join(full_name.split()).casefold()


# -- query -------------------------------------------------------------------------------


class WarehouseDocuments(BaseModel):
    """Raw documents of the chosen authors, per category.

    Attributes:
        authors: author id -> full name, for every chosen author.
        articles: their articles.
        posts: their posts.
        repositories: their repositories.
        warehouse_empty: the warehouse holds no users and no documents at all.
        seconds: time the query took.
    """

    authors: dict[str, str] = Field(default_factory=dict)
    articles: list[ArticleDocument] = Field(default_factory=list)
    posts: list[PostDocument] = Field(default_factory=list)
    repositories: list[RepositoryDocument] = Field(default_factory=list)
    warehouse_empty: bool = False
    seconds: float = 0.0

    def documents(self) -> list[ContentDocument]:
        """Every document, articles first."""
        return [*self.articles, *self.posts, *self.repositories]

    @property
    def counts(self) -> dict[str, int]:
        """Documents per category."""
        return {
            "articles": len(self.articles),
            "posts": len(self.posts),
            "repositories": len(self.repositories),
        }

    def summary(self) -> str:
        """One line: what was read for whom."""
        if self.warehouse_empty:
            return (
                "the warehouse is empty: nothing to do (run `poe run-digital-data-etl` or "
                "`poe run-import-data-warehouse-from-json` first)"
            )
        counts = ", ".join(f"{n} {category}" for category, n in self.counts.items())
        names = ", ".join(sorted(self.authors.values()))
        return f"read {len(self.documents())} documents ({counts}) of {names} in {self.seconds:.1f}s"


def query_documents(warehouse: Any, *, author_full_names: Sequence[str]) -> WarehouseDocuments:
    """Read every document of the named authors from the warehouse.

    Args:
        warehouse: the document warehouse (``Warehouse``: ``find``, ``count``).
        author_full_names: the authors, as stored ("First Last"; case and spacing are ignored).

    Returns:
        Their documents; ``warehouse_empty`` is set (and nothing else) when the warehouse
        holds no users and no documents.

    Raises:
        UnknownAuthorError: an author is not in a non-empty warehouse; the message names the
            unknown ones and the known ones.
    """
    started = time.perf_counter()
    users = list(warehouse.find(UserDocument))
    if not users and not any(
        warehouse.count(cls) for cls in (ArticleDocument, PostDocument, RepositoryDocument)
    ):
        return WarehouseDocuments(warehouse_empty=True, seconds=time.perf_counter() - started)
    by_name = {_names_key(user.full_name): user for user in users}
    unknown = [name for name in author_full_names if _names_key(name) not in by_name]
    if unknown:
        known = ", ".join(sorted(user.full_name for user in users)) or "none"
        raise UnknownAuthorError(
            f"unknown author{'s' if len(unknown) > 1 else ''} {', '.join(repr(n) for n in unknown)} "
            f"in author_full_names; the warehouse knows: {known}"
        )
    authors = {by_name[_names_key(n)].id: by_name[_names_key(n)].full_name for n in author_full_names}
    ids = {"$in": list(authors)}
    return WarehouseDocuments(
        authors=authors,
        articles=list(warehouse.find(ArticleDocument, author_id=ids)),
        posts=list(warehouse.find(PostDocument, author_id=ids)),
        repositories=list(warehouse.find(RepositoryDocument, author_id=ids)),
        seconds=time.perf_counter() - started,
    )


# -- reading the feature store ---------------------------------------------------------


def read_cleaned_documents(
    store: VectorStore,
    *,
    categories: Iterable[DataCategory | str] = tuple(DataCategory),
    author_ids: Sequence[str] | None = None,
    author_full_names: Sequence[str] | None = None,
) -> list[CleanedDocument]:
    """Cleaned documents from the feature store (the ``cleaned_*`` collections).

    Args:
        store: the vector store.
        categories: the categories to read.
        author_ids: only these authors' documents (None: every author).
        author_full_names: only these authors' documents, by name (None: every author).
    """
    return list(
        iter_cleaned_documents(
            store, categories=categories, author_ids=author_ids, author_full_names=author_full_names
        )
    )


# -- clean -------------------------------------------------------------------------------


class CleaningResult(BaseModel):
    """What the cleaning stage decided and produced.

    Attributes:
        author_ids: the authors of the run (the scope of removals and of the embedding stage).
        cleaned: new and changed documents, cleaned, to be written.
        removed: category -> ids of cleaned documents to remove (gone from the warehouse, or
            now cleaned to nothing).
        new, changed, unchanged: counts of warehouse documents by their state.
        skipped_empty: links of documents whose cleaned text is empty (nothing stored).
        failed: link -> reason, for documents whose cleaning raised.
        warehouse_empty: nothing was read because the warehouse is empty (nothing is removed).
        seconds: time of the stage.
    """

    model_config = ConfigDict(frozen=True)

    author_ids: list[str] = Field(default_factory=list)
    cleaned: list[CleanedDocument] = Field(default_factory=list)
    removed: dict[DataCategory, list[str]] = Field(default_factory=dict)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped_empty: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    warehouse_empty: bool = False
    seconds: float = 0.0

    @property
    def documents(self) -> int:
        """Warehouse documents looked at."""
        return self.new + self.changed + self.unchanged + len(self.skipped_empty) + len(self.failed)

    @property
    def removed_count(self) -> int:
        return sum(len(ids) for ids in self.removed.values())

    @property
    def failure_ratio(self) -> float:
        return len(self.failed) / self.documents if self.documents else 0.0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed_count,
            "skipped_empty": len(self.skipped_empty),
            "failed": len(self.failed),
        }

    def raise_if_failures_exceed(self, threshold: float) -> None:
        """Stop before anything is written when more than ``threshold`` of the documents failed.

        Raises:
            CleaningFailuresExceeded: naming each failed document and its reason.
        """
        if self.failure_ratio > threshold:
            reasons = "\n".join(f"  {link}: {reason}" for link, reason in self.failed.items())
            raise CleaningFailuresExceeded(
                f"{len(self.failed)} of {self.documents} documents failed to clean "
                f"({self.failure_ratio:.0%} > failure_threshold {threshold:.0%}); nothing was written:\n{reasons}"
            )

    def summary(self) -> str:
        """One line: ``76 documents in 0.4s: 76 new, 0 changed, 0 unchanged, ...``."""
        if self.warehouse_empty:
            return "the warehouse is empty: nothing cleaned, nothing removed"
        c = self.counts
        return (
            f"{self.documents} documents in {self.seconds:.1f}s: {c['new']} new, {c['changed']} changed, "
            f"{c['unchanged']} unchanged, {c['removed']} removed, {c['skipped_empty']} skipped (empty), "
            f"{c['failed']} failed"
        )


def read_stored_hashes(
    store: VectorStore, *, author_ids: Sequence[str]
) -> dict[tuple[DataCategory, str], str]:
    """``(category, document id) -> source_hash`` of the authors' stored cleaned documents."""
    return {
        (document.category, document.id): document.source_hash
        for document in read_cleaned_documents(store, author_ids=list(author_ids))
    }


def clean_documents(
    documents: WarehouseDocuments,
    *,
    stored: dict[tuple[DataCategory, str], str],
    progress: bool = True,
) -> CleaningResult:
    """Clean the new and changed documents; find the removed ones.

    Args:
        documents: the warehouse documents of the run's authors.
        stored: what the feature store holds (:func:`read_stored_hashes`).
        progress: show a progress bar.

    Returns:
        The cleaned documents to write (without ``embedding_version``: pending until their
        new chunks are stored), the ids to remove and the counts.
    """
    started = time.perf_counter()
    if documents.warehouse_empty:
        return CleaningResult(warehouse_empty=True, seconds=time.perf_counter() - started)
    cleaned: list[CleanedDocument] = []
    removed: dict[DataCategory, list[str]] = {}
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    skipped: list[str] = []
    failed: dict[str, str] = {}
    seen: set[tuple[DataCategory, str]] = set()
    for document in tqdm(documents.documents(), desc="cleaning", unit="doc", disable=not progress):
        key = (DataCategory(document.category), document.id)
        seen.add(key)
        previous = stored.get(key)
        try:
            if previous is not None and previous == document.content_hash:
                counts["unchanged"] += 1
                continue
            result = clean_document(document)
        except Exception as exc:  # recorded per document; the threshold decides whether the run fails
            failed[document.link] = f"{type(exc).__name__}: {exc}"
            continue
        if result is None:
            skipped.append(document.link)
            if previous is not None:  # it had features; an empty document has none
                removed.setdefault(key[0], []).append(document.id)
            continue
        counts["changed" if previous is not None else "new"] += 1
        # No embedding_version: pending until its chunks of this version are stored.
        cleaned.append(result)
    for key in stored:
        if key not in seen:
            removed.setdefault(key[0], []).append(key[1])
    return CleaningResult(
        author_ids=list(documents.authors),
        cleaned=cleaned,
        removed=removed,
        skipped_empty=skipped,
        failed=failed,
        seconds=time.perf_counter() - started,
        **counts,
    )


# -- load cleaned ------------------------------------------------------------------------


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


def _cleaned_point(document: CleanedDocument) -> Point:
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


class CleanedLoadReport(BaseModel):
    """What the load of cleaned documents wrote.

    Attributes:
        author_ids: the run's authors (handed on to the embedding stage).
        written: cleaned documents upserted.
        removed: documents removed (their chunks first).
        seconds: time of the stage.
    """

    author_ids: list[str] = Field(default_factory=list)
    written: int = 0
    removed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return f"wrote {self.written} cleaned documents, removed {self.removed} in {self.seconds:.1f}s"


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


def load_cleaned_documents(
    result: CleaningResult, *, store: VectorStore, batch_size: int
) -> CleanedLoadReport:
    """Write the cleaning stage's result: removals, then the cleaned documents (still pending embedding).

    Args:
        result: the cleaning stage's result.
        store: the vector store.
        batch_size: points per upsert.
    """
    started = time.perf_counter()
    if result.warehouse_empty:
        return CleanedLoadReport(seconds=time.perf_counter() - started)
    ensure_cleaned_collections(store)
    removed = remove_documents(store, result.removed)
    by_category: dict[DataCategory, list[CleanedDocument]] = {}
    for document in result.cleaned:
        by_category.setdefault(document.category, []).append(document)
    for category, documents in by_category.items():
        for batch in _batches(documents, batch_size):
            store.upsert(cleaned_collection(category), [_cleaned_point(d) for d in batch])
    return CleanedLoadReport(
        author_ids=result.author_ids,
        written=len(result.cleaned),
        removed=removed,
        seconds=time.perf_counter() - started,
    )


# -- chunk and embed ---------------------------------------------------------------------


def embedding_version(document: CleanedDocument, *, model_name: str, chunking: ChunkingSettings) -> str:
    """The version of a document's chunks: its content, the model and its category's chunk rules."""
    rules = chunking.for_category(document.category)
    return content_digest(f"{document.source_hash}|{model_name}|{rules.chunk_size}|{rules.chunk_overlap}")


def pending_documents(
    store: VectorStore, *, author_ids: Sequence[str], model_name: str, chunking: ChunkingSettings
) -> list[CleanedDocument]:
    """Cleaned documents of the authors whose stored chunks are not of the current version.

    Args:
        store: the vector store.
        author_ids: the run's authors.
        model_name: the embedding model's name (``TextEmbedder.model_id``).
        chunking: chunk size and overlap per category.
    """
    if not author_ids:
        return []
    return [
        document
        for document in read_cleaned_documents(store, author_ids=list(author_ids))
        if document.embedding_version != embedding_version(document, model_name=model_name, chunking=chunking)
    ]


class EmbeddedDocument(BaseModel):
    """A cleaned document, its embedded chunks and their version (set on the document once they are stored)."""

    document: CleanedDocument
    chunks: list[EmbeddedChunk]
    version: str


class EmbeddingResult(BaseModel):
    """What the chunk-and-embed stage produced.

    Attributes:
        documents: each pending document with its embedded chunks.
        model_id: the embedding model.
        dimension: length of its vectors (0 when nothing was embedded and no model was loaded).
        chunks, tokens: chunks made and their tokens (special tokens included).
        max_chunk_tokens: the longest chunk.
        model_load_seconds: time to load the model (0 when it was loaded before, or not needed).
        chunk_seconds: time spent chunking.
        encode_seconds: time inside the model's encode.
        seconds: time of the stage (model loading excluded).
    """

    documents: list[EmbeddedDocument] = Field(default_factory=list)
    model_id: str = ""
    dimension: int = 0
    chunks: int = 0
    tokens: int = 0
    max_chunk_tokens: int = 0
    model_load_seconds: float = 0.0
    chunk_seconds: float = 0.0
    encode_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def overhead_seconds(self) -> float:
        """Time of the stage outside the model's encode."""
        return max(0.0, self.seconds - self.encode_seconds)

    def summary(self) -> str:
        if not self.documents:
            return "nothing to embed: every document's chunks are current"
        return (
            f"embedded {len(self.documents)} documents as {self.chunks} chunks ({self.tokens} tokens, "
            f"longest {self.max_chunk_tokens}) in {self.seconds:.1f}s, {self.encode_seconds:.1f}s in the model"
        )


def chunk_and_embed(
    documents: Sequence[CleanedDocument],
    *,
    embedder: TextEmbedder,
    chunking: ChunkingSettings,
    batch_size: int,
    progress: bool = True,
) -> EmbeddingResult:
    """Chunk documents in the model's tokens and embed every chunk.

    Args:
        documents: the cleaned documents to embed.
        embedder: the embedding model (its tokenizer sizes the chunks).
        chunking: chunk size and overlap per category.
        batch_size: chunks per encode call.
        progress: show progress bars.
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
    return EmbeddingResult(
        documents=results,
        model_id=embedder.model_id,
        dimension=embedder.dimension,
        chunks=len(flat),
        tokens=stats.tokens,
        max_chunk_tokens=max((chunk.token_count for chunk in flat), default=0),
        chunk_seconds=chunk_seconds,
        encode_seconds=stats.encode_seconds,
        seconds=time.perf_counter() - started,
    )


# -- load embedded -----------------------------------------------------------------------


class EmbeddedLoadReport(BaseModel):
    """What the load of embedded chunks wrote.

    Attributes:
        documents: documents whose chunks were replaced and that are now marked embedded.
        chunks_written: chunks upserted.
        chunks_deleted: stale chunks deleted (of earlier versions of those documents).
        seconds: time of the stage.
    """

    documents: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"stored {self.chunks_written} chunks of {self.documents} documents, deleted "
            f"{self.chunks_deleted} stale chunks in {self.seconds:.1f}s"
        )


def load_embedded_chunks(
    result: EmbeddingResult, *, store: VectorStore, batch_size: int
) -> EmbeddedLoadReport:
    """Store the new chunks, delete the stale ones, then mark the documents embedded (in that order).

    Args:
        result: the chunk-and-embed stage's result.
        store: the vector store.
        batch_size: points per upsert.
    """
    started = time.perf_counter()
    if not result.documents:
        return EmbeddedLoadReport(seconds=time.perf_counter() - started)
    ensure_embedded_collections(store, dimension=result.dimension)
    report = EmbeddedLoadReport(documents=len(result.documents))
    by_category: dict[DataCategory, list[EmbeddedDocument]] = {}
    for item in result.documents:
        by_category.setdefault(item.document.category, []).append(item)
    for category, items in by_category.items():
        name = embedded_collection(category)
        chunks = [chunk for item in items for chunk in item.chunks]
        for batch in _batches(chunks, batch_size):
            store.upsert(
                name,
                [Point(id=chunk.id, payload=chunk.to_payload(), vector=chunk.embedding) for chunk in batch],
            )
        current = {chunk.id for chunk in chunks}
        document_ids = [item.document.id for item in items]
        stale = [
            p.id
            for p in scroll_all(store, name, filters={"document_id": document_ids})
            if p.id not in current
        ]
        if stale:
            store.delete(name, ids=stale)
        report.chunks_written += len(chunks)
        report.chunks_deleted += len(stale)
        marked = [item.document.model_copy(update={"embedding_version": item.version}) for item in items]
        for batch in _batches(marked, batch_size):
            store.upsert(cleaned_collection(category), [_cleaned_point(d) for d in batch])
    report.seconds = time.perf_counter() - started
    return report


# -- the whole flow ----------------------------------------------------------------------


class FeatureRunReport(BaseModel):
    """Every stage's report of one run of the feature flow."""

    query: WarehouseDocuments
    cleaning: CleaningResult
    cleaned_load: CleanedLoadReport
    embedding: EmbeddingResult
    embedded_load: EmbeddedLoadReport
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.cleaning.summary()}; {self.embedding.summary()}; {self.embedded_load.summary()} "
            f"(total {self.seconds:.1f}s)"
        )


def run_feature_flow(
    *,
    warehouse: Any,
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
    documents = query_documents(warehouse, author_full_names=config.author_full_names)
    stored = read_stored_hashes(store, author_ids=list(documents.authors)) if documents.authors else {}
    cleaning = clean_documents(documents, stored=stored, progress=progress)
    cleaning.raise_if_failures_exceed(config.cleaning.failure_threshold)
    cleaned_load = load_cleaned_documents(cleaning, store=store, batch_size=config.loading.batch_size)
    pending = pending_documents(
        store, author_ids=cleaned_load.author_ids, model_name=model_name, chunking=config.chunking
    )
    if pending:
        load_started = time.perf_counter()
        model = embedder()
        load_seconds = time.perf_counter() - load_started
        if model.model_id != model_name:
            raise ValueError(
                f"the embedder is {model.model_id!r}, not the {model_name!r} the run was planned for"
            )
        embedding = chunk_and_embed(
            pending,
            embedder=model,
            chunking=config.chunking,
            batch_size=config.embedding.batch_size,
            progress=progress,
        ).model_copy(update={"model_load_seconds": load_seconds})
    else:
        embedding = EmbeddingResult()
    embedded_load = load_embedded_chunks(embedding, store=store, batch_size=config.loading.batch_size)
    return FeatureRunReport(
        query=documents,
        cleaning=cleaning,
        cleaned_load=cleaned_load,
        embedding=embedding,
        embedded_load=embedded_load,
        seconds=time.perf_counter() - started,
    )
