"""The warehouse port: what the application needs of the document warehouse, whichever adapter
serves it (:class:`~llm_engineering.infrastructure.warehouse.MongoWarehouse` over pymongo)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeVar

from llm_engineering.domain.documents import Document

D = TypeVar("D", bound=Document)


class Warehouse(Protocol):
    """The crawled documents, one collection per document class; a link is stored once."""

    def stored_links(self, links: Iterable[str]) -> set[str]:
        """The links among ``links`` that some content document already holds."""
        ...

    def find(self, document_type: type[D], **filters: Any) -> Iterator[D]: ...

    def find_one(self, document_type: type[D], **filters: Any) -> D | None: ...

    def count(self, document_type: type[Document], **filters: Any) -> int: ...

    def save(self, document: Document) -> bool:
        """Insert ``document``; False when its link is already stored."""
        ...

    def upsert(self, document: Document) -> None: ...
