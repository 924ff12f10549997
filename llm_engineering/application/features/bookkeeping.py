"""Incremental bookkeeping: versions, and which documents are new, changed, unchanged, removed or pending.

Two marks on every cleaned document decide what a run does:

- ``cleaning_version``: a hash of the raw document's content hash and the cleaning rules'
  ``RULES_VERSION``. A warehouse document whose current version equals the stored one is
  *unchanged*: it is neither cleaned, chunked nor embedded again.
- ``embedding_version``: a hash of the cleaning version, the embedding model's name, the
  category's chunk size and overlap and the chunking rules' ``RULES_VERSION``, set once the
  chunks are stored. A document whose stored version is not today's is *pending*.

So a changed document, new cleaning rules, a new model, new chunk sizes or new chunking rules
each re-clean or re-embed every affected document once, and a second run does nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.application.features.query import DocumentRef, WarehouseIndex
from llm_engineering.application.preprocessing import chunking as chunking_rules
from llm_engineering.application.preprocessing import cleaning as cleaning_rules
from llm_engineering.application.preprocessing.ids import content_digest
from llm_engineering.configs.features import ChunkingConfig
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import VectorStore

DocumentKey = tuple[DataCategory, str]
"""(category, document id): a document's identity in the feature store."""


class MassRemovalRefused(LLMTwinError):
    """Most of an author's stored documents are missing from the warehouse; nothing was removed."""


def cleaning_version(source_hash: str, boilerplate_digest: str = "") -> str:
    """The version of a cleaned document: its raw content, today's cleaning rules and its author's
    repeated lines (a new promotional line across the author's documents re-cleans them once)."""
    suffix = f"|boilerplate:{boilerplate_digest}" if boilerplate_digest else ""
    return content_digest(f"{source_hash}|cleaning:{cleaning_rules.RULES_VERSION}{suffix}")


def boilerplate_digest(lines: frozenset[str]) -> str:
    """A digest of an author's repeated lines; empty for none, so such documents keep their version."""
    return content_digest("\n".join(sorted(lines))) if lines else ""


def embedding_version(document: CleanedDocument, *, model_name: str, chunking: ChunkingConfig) -> str:
    """The version of a document's chunks: its cleaning version, the model and the category's chunk rules."""
    rules = chunking.for_category(document.category)
    cleaned = document.cleaning_version or cleaning_version(document.source_hash)
    return content_digest(
        f"{cleaned}|{model_name}|{rules.chunk_size}|{rules.chunk_overlap}|chunking:{chunking_rules.RULES_VERSION}"
    )


class StoredState(BaseModel):
    """What the feature store says about one cleaned document."""

    model_config = ConfigDict(frozen=True)

    author_id: str
    cleaning_version: str | None = None


def read_stored(store: VectorStore, *, author_ids: Sequence[str]) -> dict[DocumentKey, StoredState]:
    """``(category, id) -> state`` of the authors' stored cleaned documents."""
    if not author_ids:
        return {}
    return {
        (document.category, document.id): StoredState(
            author_id=document.author_id, cleaning_version=document.cleaning_version
        )
        for document in iter_cleaned_documents(store, author_ids=list(author_ids))
    }


@dataclass
class CleaningPlan:
    """What the cleaning stage must do, decided from the warehouse index and the stored versions.

    Attributes:
        to_clean: new and changed documents, in the index's order.
        new, changed, unchanged: counts of the index's documents by their state.
        missing: category -> ids of stored documents gone from the warehouse.
    """

    to_clean: list[DocumentRef] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: dict[DataCategory, list[str]] = field(default_factory=dict)


def plan_cleaning(
    index: WarehouseIndex,
    stored: dict[DocumentKey, StoredState],
    *,
    boilerplate: dict[str, str] | None = None,
) -> CleaningPlan:
    """Sort the index's documents into new, changed and unchanged; find the stored ones gone from it.

    ``boilerplate`` maps an author id to the digest of their repeated lines (:func:`boilerplate_digest`).
    """
    boilerplate = boilerplate or {}
    plan = CleaningPlan()
    seen: set[DocumentKey] = set()
    for ref in index.documents:
        key = (ref.category, ref.id)
        seen.add(key)
        previous = stored.get(key)
        if previous is None:
            plan.new += 1
        elif previous.cleaning_version == cleaning_version(
            ref.content_hash, boilerplate.get(ref.author_id, "")
        ):
            plan.unchanged += 1
            continue
        else:
            plan.changed += 1
        plan.to_clean.append(ref)
    for key in stored:
        if key not in seen:
            plan.missing.setdefault(key[0], []).append(key[1])
    return plan


def check_mass_removal(
    plan: CleaningPlan,
    stored: dict[DocumentKey, StoredState],
    *,
    authors: dict[str, str],
    threshold: float,
    allowed: bool,
) -> None:
    """Refuse to remove the features of more than ``threshold`` of an author's stored documents.

    A warehouse that still knows an author but lacks most of their documents is more often the
    wrong database or a half-finished crawl than a deliberate deletion.

    Raises:
        MassRemovalRefused: naming each such author, the counts, and the key that allows it.
    """
    if allowed:
        return
    stored_by_author = Counter(state.author_id for state in stored.values())
    missing_by_author = Counter(
        stored[(category, document_id)].author_id
        for category, ids in plan.missing.items()
        for document_id in ids
    )
    refused = [
        f"{authors.get(author_id, author_id)}: {missing} of {stored_by_author[author_id]} stored documents"
        for author_id, missing in sorted(missing_by_author.items())
        if missing > threshold * stored_by_author[author_id]
    ]
    if refused:
        raise MassRemovalRefused(
            f"refusing to remove the features of documents missing from the warehouse ({'; '.join(refused)}; "
            f"more than mass_removal_threshold {threshold:.0%}): is DATABASE_NAME the right database, or did "
            "a crawl stop half-way? Nothing was written. If they were deleted on purpose, rerun with "
            "--set allow_mass_removal=true"
        )


def pending_documents(
    store: VectorStore, *, author_ids: Sequence[str], model_name: str, chunking: ChunkingConfig
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
        for document in iter_cleaned_documents(store, author_ids=list(author_ids))
        if document.embedding_version != embedding_version(document, model_name=model_name, chunking=chunking)
    ]
