"""Vector store adapter over Qdrant Edge (``qdrant-edge-py``), the in-process Qdrant engine.

Layout on disk: one Edge *shard* per collection, in ``<directory>/<collection>/``. A shard
is Qdrant's unit of storage (segments, payload indexes, write-ahead log); Edge has no
notion of collections, so a folder per collection gives the same names and payloads as the
server adapter.

Edge specifics, and what this adapter does about them:

- **A shard needs at least one vector definition.** Payload-only collections (the
  ``cleaned_*`` feature store) are created with one *sparse* vector named
  :data:`PAYLOAD_ONLY_VECTOR` that no point ever fills: points are stored with an empty
  vector map, cost nothing in vector storage, and come back from ``scroll`` with their
  payload. (A dense dummy vector would cost ``4 x dim`` bytes per point and show up in
  searches.)
- **One open handle per shard.** The write-ahead log is locked by the process that opened
  it; a second open fails with ``WouldBlock``. The adapter opens each shard once, keeps it
  for its lifetime, and reports a lock as :class:`VectorStoreBusy`. Use it as a context
  manager (or call :meth:`QdrantEdgeStore.close`) so the lock is released.
- **Payload indexes are shard operations** (``create_field_index``); they persist with the
  shard and make filtered search use the index instead of a scan. Creating an index that
  exists is a no-op, so :meth:`ensure_collection` just asks for all of them.
- **Ids** must be UUIDs or unsigned ints; Edge returns UUIDs as ``uuid.UUID`` values, which
  the adapter turns back into strings.
- **Durability**: updates go to the write-ahead log as they are applied; :meth:`close`
  flushes segments to disk. A crash loses nothing the log acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as edge

from llm_engineering.infrastructure.vector_stores._base import QdrantStore
from llm_engineering.infrastructure.vector_stores._common import (
    CollectionNotFound,
    VectorStoreBusy,
    VectorStoreError,
)

PAYLOAD_ONLY_VECTOR = "payload_only"
"""Name of the never-filled sparse vector that makes a payload-only Edge shard possible."""

_CONFIG_FILE = "edge_config.json"


class QdrantEdgeStore(QdrantStore):
    """The :class:`~llm_engineering.domain.vector_store.VectorStore` port on Qdrant Edge shards.

    Args:
        directory: folder that holds one shard folder per collection (created on first write).
        max_search_threads: threads of each shard's search pool; None lets Edge derive it
            from the CPU count.
    """

    def __init__(self, directory: Path, *, max_search_threads: int | None = None) -> None:
        self.directory = Path(directory)
        self._max_search_threads = max_search_threads
        self._shards: dict[str, edge.EdgeShard] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Flush and close every open shard, releasing their locks.

        Every shard is closed even when one fails to flush or close; the first error is raised
        after all of them have been tried.
        """
        shards, self._shards = self._shards, {}
        first_error: Exception | None = None
        for shard in shards.values():
            for action in (shard.flush, shard.close):
                try:
                    action()
                except Exception as exc:  # noqa: BLE001 - re-raised below, after every shard is closed
                    first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def __repr__(self) -> str:
        return f"QdrantEdgeStore({str(self.directory)!r})"

    # -- collections ---------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"invalid collection name {name!r}")
        return self.directory / name

    def collection_exists(self, name: str) -> bool:
        return name in self._shards or (self._path(name) / _CONFIG_FILE).exists()

    def collections(self) -> list[str]:
        """Names of the collections stored under the directory."""
        if not self.directory.is_dir():
            return []
        return sorted(p.parent.name for p in self.directory.glob(f"*/{_CONFIG_FILE}"))

    def _config(self, vector_size: int | None) -> edge.EdgeConfig:
        if vector_size is None:
            return edge.EdgeConfig(
                sparse_vectors={PAYLOAD_ONLY_VECTOR: edge.EdgeSparseVectorParams()},
                max_search_threads=self._max_search_threads,
            )
        return edge.EdgeConfig(
            vectors=edge.EdgeVectorParams(size=vector_size, distance=edge.Distance.Cosine),
            max_search_threads=self._max_search_threads,
        )

    def _open(self, name: str, config: edge.EdgeConfig | None = None) -> edge.EdgeShard:
        path = self._path(name)
        try:
            if (path / _CONFIG_FILE).exists():
                return edge.EdgeShard.load(str(path), config)
            if config is None:
                raise CollectionNotFound(f"collection {name!r} does not exist in {self.directory}")
            path.parent.mkdir(parents=True, exist_ok=True)
            return edge.EdgeShard.create(str(path), config)
        except CollectionNotFound:
            raise
        except Exception as exc:
            message = str(exc)
            if "WouldBlock" in message or "WAL" in message:
                raise VectorStoreBusy(
                    f"the Qdrant Edge collection {path} is open elsewhere (another process such as a "
                    "pipeline run or a search, or another store object); wait for it to finish, "
                    "or set QDRANT_URL to use a Qdrant server"
                ) from exc
            if "incompatible" in message.lower():
                raise VectorStoreError(
                    f"collection {name!r} in {self.directory} was created with other vectors than "
                    f"the ones asked for ({message}); remove {path} and rerun the feature pipeline"
                ) from exc
            raise

    def _shard(self, name: str) -> edge.EdgeShard:
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = self._open(name)
        return shard

    def ensure_collection(
        self, name: str, *, vector_size: int | None, indexed_fields: Sequence[str] = ()
    ) -> None:
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = self._open(name, self._config(vector_size))
        else:
            self._check_vectors(name, vector_size)
        existing = set(shard.info().payload_schema)
        for field in indexed_fields:
            if field not in existing:
                shard.update(edge.UpdateOperation.create_field_index(field, edge.PayloadSchemaType.Keyword))

    def _check_vectors(self, name: str, vector_size: int | None) -> None:
        stored = json.loads((self._path(name) / _CONFIG_FILE).read_text(encoding="utf-8"))
        size = (stored.get("vectors") or {}).get("", {}).get("size")
        if size != vector_size:
            raise VectorStoreError(
                f"collection {name!r} holds vectors of size {size}, not {vector_size}; "
                f"remove {self._path(name)} and rerun the feature pipeline"
            )

    def indexed_fields(self, name: str) -> list[str]:
        """Payload keys of ``name`` that carry an index."""
        return sorted(self._shard(name).info().payload_schema)

    def optimize(self) -> None:
        """Merge segments and build the HNSW and payload indexes of every open shard (blocking)."""
        for shard in self._shards.values():
            shard.optimize()

    # -- the client's calls, under the shared point operations of QdrantStore ------------------

    def _match(self, key: str, value: Any) -> Any:
        return edge.FieldCondition(
            key, match=edge.MatchAny(value) if isinstance(value, list) else edge.MatchValue(value)
        )

    def _all_of(self, must: list[Any]) -> edge.Filter:
        return edge.Filter(must=must)

    def _has_id(self, ids: list[str]) -> Any:
        return edge.HasIdCondition(set(ids))

    def _upsert(self, name: str, points: list[tuple[str, Any, dict[str, Any]]]) -> None:
        self._shard(name).update(edge.UpdateOperation.upsert_points([edge.Point(*point) for point in points]))

    def _query(self, name: str, vector: list[float], *, k: int, flt: Any) -> list[Any]:
        return self._shard(name).query(
            edge.QueryRequest(
                limit=k, query=edge.Query.Nearest(vector), filter=flt, with_payload=True, with_vector=False
            )
        )

    def _scroll(self, name: str, *, flt: Any, limit: int, offset: str | None) -> tuple[list[Any], Any]:
        return self._shard(name).scroll(
            edge.ScrollRequest(offset=offset, limit=limit, filter=flt, with_payload=True, with_vector=False)
        )

    def _delete_ids(self, name: str, ids: list[str]) -> None:
        self._shard(name).update(edge.UpdateOperation.delete_points(ids))

    def _delete_matching(self, name: str, flt: Any) -> None:
        self._shard(name).update(edge.UpdateOperation.delete_points_by_filter(flt))

    def _count(self, name: str, *, flt: Any) -> int:
        return int(self._shard(name).count(edge.CountRequest(exact=True, filter=flt)))
