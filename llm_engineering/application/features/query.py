"""Reading the warehouse: which documents the chosen authors have, as small references, and the documents by id."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.documents import (
    CONTENT_DOCUMENT_TYPES,
    ContentDocument,
    UserDocument,
    document_type_for,
)
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.names import name_key
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.warehouse import Warehouse


class UnknownAuthorError(LLMTwinError):
    """The config names an author the warehouse does not know."""


class DocumentRef(BaseModel):
    """A warehouse document by id, with the content hash that decides whether it needs cleaning.

    Attributes:
        category: articles, posts or repositories.
        id: the warehouse id.
        author_id: its author.
        link: where it was crawled from (names it in messages).
        content_hash: the hash of its raw content.
    """

    model_config = ConfigDict(frozen=True)

    category: DataCategory
    id: str
    author_id: str
    link: str
    content_hash: str


class WarehouseIndex(BaseModel):
    """The chosen authors and references to their documents: ids and hashes, never the content.

    Attributes:
        authors: author id -> full name, for every chosen author.
        documents: one reference per document, articles first.
        warehouse_empty: the warehouse holds no users and no documents at all.
        seconds: time the query took.
    """

    authors: dict[str, str] = Field(default_factory=dict)
    documents: list[DocumentRef] = Field(default_factory=list)
    warehouse_empty: bool = False
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Documents per category."""
        counts = {category.value: 0 for category in DataCategory}
        for ref in self.documents:
            counts[ref.category.value] += 1
        return counts

    def summary(self) -> str:
        """One line: what was read for whom."""
        if self.warehouse_empty:
            return (
                "the warehouse is empty: nothing to do (run `poe run-digital-data-etl` or "
                "`poe run-import-data-warehouse-from-json` first)"
            )
        counts = ", ".join(f"{n} {category}" for category, n in self.counts.items())
        names = ", ".join(sorted(self.authors.values()))
        return f"read {len(self.documents)} documents ({counts}) of {names} in {self.seconds:.1f}s"


def resolve_authors(users: Iterable[UserDocument], author_full_names: Sequence[str]) -> dict[str, str]:
    """Author id -> stored full name of each named author, matched by :func:`name_key`.

    Raises:
        UnknownAuthorError: a name matches no user; the message names the unknown and the known ones.
    """
    users = list(users)
    by_key = {name_key(user.full_name): user for user in users}
    unknown = [name for name in author_full_names if name_key(name) not in by_key]
    if unknown:
        known = ", ".join(sorted(user.full_name for user in users)) or "none"
        raise UnknownAuthorError(
            f"unknown author{'s' if len(unknown) > 1 else ''} {', '.join(repr(n) for n in unknown)} "
            f"in author_full_names; the warehouse knows: {known}"
        )
    chosen = [by_key[name_key(name)] for name in author_full_names]
    return {user.id: user.full_name for user in chosen}


def query_documents(warehouse: Warehouse, *, author_full_names: Sequence[str]) -> WarehouseIndex:
    """References to every document of the named authors in the warehouse.

    Args:
        warehouse: the document warehouse.
        author_full_names: the authors, as stored ("First Last"; case and spacing are ignored).

    Returns:
        Their documents' ids and hashes; ``warehouse_empty`` is set (and nothing else) when the
        warehouse holds no users and no documents.

    Raises:
        UnknownAuthorError: an author is not in a non-empty warehouse; the message names the
            unknown ones and the known ones.
    """
    started = time.perf_counter()
    users = list(warehouse.find(UserDocument))
    if not users and not any(warehouse.count(cls) for cls in CONTENT_DOCUMENT_TYPES):
        return WarehouseIndex(warehouse_empty=True, seconds=time.perf_counter() - started)
    authors = resolve_authors(users, author_full_names)
    refs = [
        DocumentRef(
            category=cls.category,
            id=document.id,
            author_id=document.author_id,
            link=document.link,
            content_hash=document.content_hash,
        )
        for cls in CONTENT_DOCUMENT_TYPES
        for document in warehouse.find(cls, author_id={"$in": list(authors)})
    ]
    return WarehouseIndex(authors=authors, documents=refs, seconds=time.perf_counter() - started)


def read_documents(warehouse: Warehouse, refs: Iterable[DocumentRef]) -> list[ContentDocument]:
    """The warehouse documents of ``refs``, by id, in the order of ``refs``; a document gone since is left out."""
    refs = list(refs)
    by_category: dict[DataCategory, list[str]] = {}
    for ref in refs:
        by_category.setdefault(ref.category, []).append(ref.id)
    found: dict[tuple[DataCategory, str], ContentDocument] = {}
    for category, ids in by_category.items():
        for document in warehouse.find(document_type_for(category), _id={"$in": ids}):
            found[(category, document.id)] = document
    return [found[(ref.category, ref.id)] for ref in refs if (ref.category, ref.id) in found]
