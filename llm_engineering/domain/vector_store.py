"""The vector store port: what the application needs from Qdrant, whichever adapter serves it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Filters = dict[str, Any]
"""Exact-match payload filters: ``{"author_full_name": "Ada Lovelace", "category": "articles"}``.
A list value matches any of its items."""


@dataclass(frozen=True)
class Point:
    id: str
    payload: dict[str, Any] = field(default_factory=dict)
    vector: list[float] | None = None


@dataclass(frozen=True)
class ScoredPoint:
    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


class VectorStore(Protocol):
    """Collections of points with payloads; search runs the filters inside the store."""

    def ensure_collection(
        self, name: str, *, vector_size: int | None, indexed_fields: Sequence[str] = ()
    ) -> None:
        """Create ``name`` if absent. ``vector_size=None``: a payload-only collection (cleaned documents)."""

    def upsert(self, name: str, points: Sequence[Point]) -> None: ...

    def search(
        self, name: str, vector: Sequence[float], *, k: int, filters: Filters | None = None
    ) -> list[ScoredPoint]: ...

    def scroll(
        self, name: str, *, filters: Filters | None = None, limit: int = 256, offset: str | None = None
    ) -> tuple[list[Point], str | None]:
        """One page of points in id order and the offset of the next page (None at the end)."""

    def delete(
        self, name: str, *, ids: Sequence[str] | None = None, filters: Filters | None = None
    ) -> None: ...

    def count(self, name: str, *, filters: Filters | None = None) -> int: ...

    def collection_exists(self, name: str) -> bool: ...
