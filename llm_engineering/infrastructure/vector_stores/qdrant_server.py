"""Vector store adapter over ``qdrant-client``: a Qdrant server (docker compose, Qdrant Cloud).

The same client also runs Qdrant's *local mode* (``QdrantClient(location=":memory:")`` or
``path=...``), a pure-Python implementation the tests use. Collections and payloads are the
ones of the Qdrant Edge adapter: dense cosine vectors for ``embedded_*``, no vectors at all
for the payload-only ``cleaned_*`` collections (the server allows an empty vectors config).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from llm_engineering.domain.vector_store import Filters, Point, ScoredPoint
from llm_engineering.infrastructure.vector_stores._common import (
    VectorStoreError,
    check_point_id,
    check_point_ids,
    delete_is_noop,
    normalise_filters,
)


class QdrantServerStore:
    """The :class:`~llm_engineering.domain.vector_store.VectorStore` port on ``qdrant-client``.

    Args:
        client: a connected client (server URL, or local mode in tests).
    """

    def __init__(self, client: QdrantClient) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, api_key: str | None = None, timeout: int = 30) -> QdrantServerStore:
        """A client of the server at ``url``; nothing is sent until the first call.

        The client's start-up version check is off: it would send a request at construction
        (and warn when the server is not up yet); an incompatible server fails on first use.
        """
        return cls(QdrantClient(url=url, api_key=api_key, timeout=timeout, check_compatibility=False))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> QdrantServerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"QdrantServerStore({self.client!r})"

    # -- collections ---------------------------------------------------------------------

    def collection_exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def collections(self) -> list[str]:
        """Names of the collections on the server."""
        return sorted(c.name for c in self.client.get_collections().collections)

    def ensure_collection(
        self, name: str, *, vector_size: int | None, indexed_fields: Sequence[str] = ()
    ) -> None:
        """Create ``name`` if absent, check its vectors if present, and index ``indexed_fields``.

        Args:
            name: the collection.
            vector_size: dimension of its dense cosine vectors; None for a payload-only collection.
            indexed_fields: payload keys used in filters; each gets a keyword index.
        """
        if not self.client.collection_exists(name):
            vectors: Any = (
                {}
                if vector_size is None
                else models.VectorParams(size=vector_size, distance=models.Distance.COSINE)
            )
            self.client.create_collection(name, vectors_config=vectors)
        else:
            self._check_vectors(name, vector_size)
        existing = set(self.client.get_collection(name).payload_schema or {})
        with warnings.catch_warnings():
            # Local mode warns that payload indexes have no effect there; the server uses them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field in indexed_fields:
                if field not in existing:
                    self.client.create_payload_index(
                        name, field, field_schema=models.PayloadSchemaType.KEYWORD, wait=True
                    )

    def _check_vectors(self, name: str, vector_size: int | None) -> None:
        vectors = self.client.get_collection(name).config.params.vectors
        size = vectors.size if isinstance(vectors, models.VectorParams) else None
        if size != vector_size:
            raise VectorStoreError(
                f"collection {name!r} holds vectors of size {size}, not {vector_size}; "
                "delete it and rerun the feature pipeline"
            )

    # -- points --------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        if not points:
            return
        self.client.upsert(
            name,
            points=[
                models.PointStruct(
                    id=check_point_id(p.id),
                    vector=list(p.vector) if p.vector is not None else {},
                    payload=p.payload,
                )
                for p in points
            ],
            wait=True,
        )

    def search(
        self, name: str, vector: Sequence[float], *, k: int, filters: Filters | None = None
    ) -> list[ScoredPoint]:
        flt, possible = _filter(filters)
        if not possible or k <= 0:
            return []
        response = self.client.query_points(
            name, query=list(vector), limit=k, query_filter=flt, with_payload=True, with_vectors=False
        )
        return [
            ScoredPoint(id=str(hit.id), score=float(hit.score), payload=hit.payload or {})
            for hit in response.points
        ]

    def scroll(
        self, name: str, *, filters: Filters | None = None, limit: int = 256, offset: str | None = None
    ) -> tuple[list[Point], str | None]:
        flt, possible = _filter(filters)
        if not possible:
            return [], None
        records, next_offset = self.client.scroll(
            name,
            scroll_filter=flt,
            limit=limit,
            offset=check_point_id(offset) if offset is not None else None,
            with_payload=True,
            with_vectors=False,
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
        flt, possible = _filter(filters)
        if not possible:
            return
        selector: Any
        if ids is not None and flt is None:
            selector = models.PointIdsList(points=check_point_ids(ids))
        else:
            must: list[Any] = list(flt.must or []) if flt is not None else []
            if ids is not None:
                must.append(models.HasIdCondition(has_id=check_point_ids(ids)))
            selector = models.FilterSelector(filter=models.Filter(must=must))
        self.client.delete(name, points_selector=selector, wait=True)

    def count(self, name: str, *, filters: Filters | None = None) -> int:
        flt, possible = _filter(filters)
        if not possible:
            return 0
        return self.client.count(name, count_filter=flt, exact=True).count


def _filter(filters: Filters | None) -> tuple[models.Filter | None, bool]:
    """The qdrant-client filter of exact-match ``filters`` and whether it can match anything."""
    conditions, possible = normalise_filters(filters)
    if not conditions:
        return None, possible
    must: list[Any] = [
        models.FieldCondition(
            key=key,
            match=models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value),
        )
        for key, value in conditions
    ]
    return models.Filter(must=must), possible
