"""Vector store adapters and the factory that picks one from the settings.

- :class:`QdrantEdgeStore`: the embedded default, Qdrant Edge shards under
  ``settings.vector_store_dir`` (no server, no Docker).
- :class:`QdrantServerStore`: a Qdrant server through ``qdrant-client``, chosen when
  ``QDRANT_URL`` is set (``QDRANT_API_KEY`` for Qdrant Cloud).

Both serve the same collections with the same payloads, so the rest of the code never
knows which one it talks to. Nothing connects or opens files at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_engineering.infrastructure.vector_stores._common import (
    CollectionNotFound,
    VectorStoreBusy,
    VectorStoreError,
)
from llm_engineering.infrastructure.vector_stores.qdrant_edge import PAYLOAD_ONLY_VECTOR, QdrantEdgeStore
from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_engineering.infrastructure.vector_stores.qdrant_server import QdrantServerStore


def build_vector_store(settings: Settings | None = None) -> QdrantEdgeStore | QdrantServerStore:
    """The vector store the settings name: a Qdrant server when ``QDRANT_URL`` is set, else Qdrant Edge.

    Use it as a context manager so files (Edge) or connections (server) are released::

        with build_vector_store() as store:
            store.count("embedded_articles")

    Args:
        settings: the settings to read; the process-wide ones by default.
    """
    settings = settings or get_settings()
    if settings.qdrant_url:
        from llm_engineering.infrastructure.vector_stores.qdrant_server import QdrantServerStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantServerStore.from_url(settings.qdrant_url, api_key=api_key)
    return QdrantEdgeStore(settings.vector_store_dir)


def __getattr__(name: str) -> Any:
    # qdrant-client is imported only when its adapter is asked for: it is slow to import.
    if name == "QdrantServerStore":
        from llm_engineering.infrastructure.vector_stores.qdrant_server import QdrantServerStore

        return QdrantServerStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PAYLOAD_ONLY_VECTOR",
    "CollectionNotFound",
    "QdrantEdgeStore",
    "QdrantServerStore",
    "VectorStoreBusy",
    "VectorStoreError",
    "build_vector_store",
]
