"""The feature flow's reports: what each stage decided, wrote and timed, and the run's summary line.

:mod:`~llm_engineering.application.features.flow` returns them; the feature steps log their
counts and summaries as ZenML metadata and hand them on as artifacts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.features.query import WarehouseIndex
from llm_engineering.domain.types import DataCategory


class CleaningReport(BaseModel):
    """What the cleaning stage decided and wrote.

    Attributes:
        author_ids: the authors of the run (the scope of removals and of the embedding stage).
        new, changed, unchanged: counts of warehouse documents by their state.
        written: cleaned documents written (pending their chunks).
        removed: category -> ids of documents removed (gone from the warehouse, or now cleaned
            to nothing), their chunks first.
        skipped_empty: links of documents whose cleaned text is empty (nothing stored).
        failed: link -> reason, for documents that could not be cleaned.
        warehouse_empty: nothing was read because the warehouse is empty (nothing is removed).
        seconds: time of the stage.
    """

    model_config = ConfigDict(frozen=True)

    author_ids: list[str] = Field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    written: int = 0
    removed: dict[DataCategory, list[str]] = Field(default_factory=dict)
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
    def counts(self) -> dict[str, int]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed_count,
            "skipped_empty": len(self.skipped_empty),
            "failed": len(self.failed),
        }

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


class EmbeddingReport(BaseModel):
    """What the chunk-and-embed stage embedded and stored.

    Attributes:
        document_ids: the pending documents, now embedded and marked done.
        model_id: the embedding model (empty when nothing needed it).
        dimension: length of its vectors (0 when nothing was embedded).
        chunks, tokens: chunks made and their tokens (special tokens included).
        max_chunk_tokens: the longest chunk.
        chunks_deleted: stale chunks deleted (of earlier versions of those documents).
        model_load_seconds: time to load the model (0 when it was loaded before, or not needed).
        chunk_seconds: time spent chunking.
        encode_seconds: time inside the model's encode.
        store_seconds: time spent writing to the vector store.
        seconds: time of the stage (model loading excluded).
    """

    document_ids: list[str] = Field(default_factory=list)
    model_id: str = ""
    dimension: int = 0
    chunks: int = 0
    tokens: int = 0
    max_chunk_tokens: int = 0
    chunks_deleted: int = 0
    model_load_seconds: float = 0.0
    chunk_seconds: float = 0.0
    encode_seconds: float = 0.0
    store_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def overhead_seconds(self) -> float:
        """Time of the stage outside the model's encode."""
        return max(0.0, self.seconds - self.encode_seconds)

    def summary(self) -> str:
        if not self.document_ids:
            return "nothing to embed: every document's chunks are current"
        return (
            f"embedded {len(self.document_ids)} documents as {self.chunks} chunks ({self.tokens} tokens, "
            f"longest {self.max_chunk_tokens}) in {self.seconds:.1f}s, {self.encode_seconds:.1f}s in the model; "
            f"deleted {self.chunks_deleted} stale chunks"
        )


class FeatureRunReport(BaseModel):
    """Every stage's report of one run of the feature flow."""

    query: WarehouseIndex
    cleaning: CleaningReport
    embedding: EmbeddingReport
    seconds: float = 0.0

    def summary(self) -> str:
        return f"{self.cleaning.summary()}; {self.embedding.summary()} (total {self.seconds:.1f}s)"
