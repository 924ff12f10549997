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

from llm_engineering.infrastructure.vector_stores._base import QdrantStore
from llm_engineering.infrastructure.vector_stores._common import VectorStoreError


class QdrantServerStore(QdrantStore):
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

    # -- the client's calls, under the shared point operations of QdrantStore ------------------

    def _match(self, key: str, value: Any) -> Any:
        return models.FieldCondition(
            key=key,
            match=models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value),
        )

    def _all_of(self, must: list[Any]) -> models.Filter:
        return models.Filter(must=must)

    def _has_id(self, ids: list[str]) -> Any:
        return models.HasIdCondition(has_id=ids)

    def _upsert(self, name: str, points: list[tuple[str, Any, dict[str, Any]]]) -> None:
        self.client.upsert(
            name,
            points=[
                models.PointStruct(id=point_id, vector=vector, payload=payload)
                for point_id, vector, payload in points
            ],
            wait=True,
        )

    def _query(self, name: str, vector: list[float], *, k: int, flt: Any) -> list[Any]:
        return self.client.query_points(
            name, query=vector, limit=k, query_filter=flt, with_payload=True, with_vectors=False
        ).points

    def _scroll(self, name: str, *, flt: Any, limit: int, offset: str | None) -> tuple[list[Any], Any]:
        return self.client.scroll(
            name, scroll_filter=flt, limit=limit, offset=offset, with_payload=True, with_vectors=False
        )

    def _delete_ids(self, name: str, ids: list[str]) -> None:
        self.client.delete(name, points_selector=models.PointIdsList(points=ids), wait=True)

    def _delete_matching(self, name: str, flt: Any) -> None:
        self.client.delete(name, points_selector=models.FilterSelector(filter=flt), wait=True)

    def _count(self, name: str, *, flt: Any) -> int:
        return self.client.count(name, count_filter=flt, exact=True).count
