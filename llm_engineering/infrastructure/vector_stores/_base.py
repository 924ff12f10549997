"""What both Qdrant adapters do the same way, over the few calls in which their clients differ.

:class:`QdrantStore` implements the point operations of the
:class:`~llm_engineering.domain.vector_store.VectorStore` port once: id checks, filter
normalisation, the answers that need no call (an empty id list, a filter that can match
nothing), and the conversion of records to :class:`Point` and :class:`ScoredPoint`. An adapter
says how to build a filter and how to send each request to its client.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Self

from llm_engineering.domain.vector_store import Filters, Point, ScoredPoint
from llm_engineering.infrastructure.vector_stores._common import (
    check_point_id,
    check_point_ids,
    delete_is_noop,
    normalise_filters,
)


class QdrantStore(ABC):
    """The point operations of the vector store port, shared by the Edge and server adapters."""

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds (files or connections)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def ensure_collection(
        self, name: str, *, vector_size: int | None, indexed_fields: Sequence[str] = ()
    ) -> None:
        """Create ``name`` if absent, check its vectors if present, and index ``indexed_fields``.

        Args:
            name: the collection.
            vector_size: dimension of its dense cosine vectors; None for a payload-only collection.
            indexed_fields: payload keys used in filters; each gets a keyword index.
        """

    # -- what each client does its own way -------------------------------------------------

    @abstractmethod
    def _match(self, key: str, value: Any) -> Any:
        """The condition that ``key`` equals ``value`` (or, for a list, any of its items)."""

    @abstractmethod
    def _all_of(self, must: list[Any]) -> Any:
        """The filter that matches when every condition of ``must`` does."""

    @abstractmethod
    def _has_id(self, ids: list[str]) -> Any:
        """The condition that a point's id is one of ``ids``."""

    @abstractmethod
    def _upsert(self, name: str, points: list[tuple[str, Any, dict[str, Any]]]) -> None:
        """Write ``(id, vector, payload)`` points; a payload-only point has an empty vector map."""

    @abstractmethod
    def _query(self, name: str, vector: list[float], *, k: int, flt: Any) -> list[Any]:
        """The ``k`` nearest hits (with ``id``, ``score``, ``payload``) among the points ``flt`` matches."""

    @abstractmethod
    def _scroll(self, name: str, *, flt: Any, limit: int, offset: str | None) -> tuple[list[Any], Any]:
        """A page of records (with ``id``, ``payload``) and the offset of the next one, or None."""

    @abstractmethod
    def _delete_ids(self, name: str, ids: list[str]) -> None:
        """Delete the points with ``ids``."""

    @abstractmethod
    def _delete_matching(self, name: str, flt: Any) -> None:
        """Delete the points ``flt`` matches."""

    @abstractmethod
    def _count(self, name: str, *, flt: Any) -> int:
        """The exact number of points ``flt`` matches."""

    # -- the port ----------------------------------------------------------------------------

    def _filter(self, filters: Filters | None) -> tuple[Any, bool]:
        """The client's filter of exact-match ``filters`` (None: no condition), and whether it can match."""
        conditions, possible = normalise_filters(filters)
        if not conditions:
            return None, possible
        return self._all_of([self._match(key, value) for key, value in conditions]), possible

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        if not points:
            return
        self._upsert(
            name,
            [
                (check_point_id(p.id), list(p.vector) if p.vector is not None else {}, p.payload)
                for p in points
            ],
        )

    def search(
        self, name: str, vector: Sequence[float], *, k: int, filters: Filters | None = None
    ) -> list[ScoredPoint]:
        flt, possible = self._filter(filters)
        if not possible or k <= 0:
            return []
        hits = self._query(name, list(vector), k=k, flt=flt)
        return [
            ScoredPoint(id=str(hit.id), score=float(hit.score), payload=hit.payload or {}) for hit in hits
        ]

    def scroll(
        self, name: str, *, filters: Filters | None = None, limit: int = 256, offset: str | None = None
    ) -> tuple[list[Point], str | None]:
        flt, possible = self._filter(filters)
        if not possible:
            return [], None
        records, next_offset = self._scroll(
            name, flt=flt, limit=limit, offset=check_point_id(offset) if offset is not None else None
        )
        points = [Point(id=str(record.id), payload=record.payload or {}) for record in records]
        return points, None if next_offset is None else str(next_offset)

    def delete(self, name: str, *, ids: Sequence[str] | None = None, filters: Filters | None = None) -> None:
        """Delete the points with ``ids``, or matching ``filters``, or both (ids that match).

        Raises:
            ValueError: if neither is given (deleting a whole collection is not done by accident).
        """
        if delete_is_noop(ids, filters):
            return
        flt, possible = self._filter(filters)
        if not possible:
            return
        if ids is not None and flt is None:
            self._delete_ids(name, check_point_ids(ids))
            return
        must: list[Any] = list(flt.must or []) if flt is not None else []
        if ids is not None:
            must.append(self._has_id(check_point_ids(ids)))
        self._delete_matching(name, self._all_of(must))

    def count(self, name: str, *, filters: Filters | None = None) -> int:
        flt, possible = self._filter(filters)
        if not possible:
            return 0
        return self._count(name, flt=flt)
