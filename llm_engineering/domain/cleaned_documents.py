"""Features: cleaned documents, their chunks and embedded chunks.

A cleaned document keeps the id of the raw document it came from, so a rerun finds it
again; ``source_hash`` is the raw document's content hash and ``cleaning_version`` adds the
cleaning rules' version to it, which makes reruns incremental (unchanged version: nothing to do).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from llm_engineering.domain.types import DataCategory


def cleaned_collection(category: DataCategory | str) -> str:
    """Vector-store collection of the cleaned documents of a category (the logical feature store)."""
    return f"cleaned_{DataCategory(category).value}"


def embedded_collection(category: DataCategory | str) -> str:
    """Vector-store collection of the embedded chunks of a category."""
    return f"embedded_{DataCategory(category).value}"


class _Feature(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_payload(self) -> dict[str, Any]:
        """Payload stored beside the point (everything but the id and the vector)."""
        return self.model_dump(mode="json", exclude={"id", "embedding"})

    @classmethod
    def from_payload(cls, point_id: str, payload: dict[str, Any], **extra: Any):
        return cls.model_validate({**payload, "id": point_id, **extra})


class CleanedDocument(_Feature):
    """A warehouse document with its text cleaned.

    Attributes:
        id: id of the raw warehouse document.
        category: articles, posts or repositories.
        title: the title when the source has one (article title, repository name).
        content: the cleaned text: paragraphs kept, boilerplate and odd whitespace removed.
        source_hash: content hash of the raw document when it was cleaned.
        cleaning_version: a hash of ``source_hash`` and the cleaning rules' version: the feature
            pipeline cleans again the documents whose version is not the current one, so a
            changed document or new cleaning rules re-clean it, once. None: stored before
            cleaning versions existed (cleaned again on the next run).
        embedding_version: which chunks of this document are in the embedded collection: a hash
            of ``cleaning_version``, the embedding model, the chunk sizes and the chunking rules'
            version, set once the chunks are stored; None before. The feature pipeline embeds
            the documents whose version is not the current one, so a run that stopped between
            cleaning and embedding is finished by the next, and a new model, new chunk sizes or
            new cleaning or chunking rules re-embed everything, once.
    """

    id: str
    category: DataCategory
    title: str | None = None
    content: str
    platform: str
    author_id: str
    author_full_name: str
    link: str
    source_hash: str
    cleaning_version: str | None = None
    embedding_version: str | None = None


class Chunk(_Feature):
    """A piece of a cleaned document sized for the embedding model.

    Attributes:
        id: deterministic from the document id, the position and the text.
        document_id: id of the cleaned (and raw) document.
        index: position of the chunk in its document, from 0.
        token_count: length in the embedding model's tokens.
    """

    id: str
    document_id: str
    index: int
    category: DataCategory
    title: str | None = None
    content: str
    token_count: int
    platform: str
    author_id: str
    author_full_name: str
    link: str
    source_hash: str


class EmbeddedChunk(Chunk):
    """A chunk with its normalised embedding."""

    embedding: list[float]
