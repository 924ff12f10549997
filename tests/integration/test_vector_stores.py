"""Both vector-store adapters on real engines: Qdrant Edge on disk, qdrant-client in local mode.

Every test of the port runs against both, so the adapters stay interchangeable.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from llm_engineering.application.preprocessing.ids import stable_uuid
from llm_engineering.domain.vector_store import Point
from llm_engineering.infrastructure.vector_stores import (
    CollectionNotFound,
    QdrantEdgeStore,
    VectorStoreBusy,
    VectorStoreError,
    build_vector_store,
)
from llm_engineering.infrastructure.vector_stores.qdrant_server import QdrantServerStore
from llm_engineering.settings import Settings

pytestmark = pytest.mark.integration

DIM = 8
FIELDS = ("author_full_name", "category", "document_id")


@pytest.fixture(params=["edge", "qdrant-client"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QdrantEdgeStore | QdrantServerStore]:
    """An empty store of each adapter."""
    if request.param == "edge":
        adapter: QdrantEdgeStore | QdrantServerStore = QdrantEdgeStore(tmp_path / "qdrant")
    else:
        adapter = QdrantServerStore(QdrantClient(location=":memory:"))
    with adapter:
        yield adapter


def _unit(vector: list[float]) -> list[float]:
    array = np.asarray(vector, dtype=np.float32)
    return (array / np.linalg.norm(array)).tolist()


def _points(n: int = 12) -> list[Point]:
    """``n`` points on distinct directions; even ones by Ada (articles), odd ones by Grace (posts)."""
    rng = np.random.default_rng(7)
    return [
        Point(
            id=stable_uuid("test", str(i)),
            payload={
                "author_full_name": "Ada Lovelace" if i % 2 == 0 else "Grace Hopper",
                "category": "articles" if i % 2 == 0 else "posts",
                "document_id": f"doc-{i // 4}",
                "index": i,
            },
            vector=_unit(rng.normal(size=DIM).tolist()),
        )
        for i in range(n)
    ]


@pytest.fixture
def filled(store):
    store.ensure_collection("embedded_test", vector_size=DIM, indexed_fields=FIELDS)
    points = _points()
    store.upsert("embedded_test", points)
    return store, points


def test_upsert_and_count_with_and_without_filters(filled):
    store, points = filled
    assert store.collection_exists("embedded_test")
    assert not store.collection_exists("embedded_other")
    assert store.count("embedded_test") == len(points)
    assert store.count("embedded_test", filters={"author_full_name": "Ada Lovelace"}) == 6
    assert store.count("embedded_test", filters={"document_id": ["doc-0", "doc-2"]}) == 8
    assert store.count("embedded_test", filters={"author_full_name": None}) == len(points)  # None: no filter
    assert store.count("embedded_test", filters={"document_id": []}) == 0  # empty list: matches nothing


def test_upsert_overwrites_a_point_with_the_same_id(filled):
    store, points = filled
    first = points[0]
    store.upsert("embedded_test", [Point(first.id, {**first.payload, "index": 99}, first.vector)])
    assert store.count("embedded_test") == len(points)
    (hit,) = store.search("embedded_test", first.vector, k=1)
    assert (hit.id, hit.payload["index"]) == (first.id, 99)


def test_search_ranks_by_cosine_and_filters_inside_the_store(filled):
    store, points = filled
    target = points[3]  # Grace's
    hits = store.search("embedded_test", target.vector, k=3)
    assert hits[0].id == target.id and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    # Ada's points only, though the query is one of Grace's: k hits, all Ada's.
    ada = store.search("embedded_test", target.vector, k=4, filters={"author_full_name": "Ada Lovelace"})
    assert len(ada) == 4
    assert {h.payload["author_full_name"] for h in ada} == {"Ada Lovelace"}
    expected = sorted(
        (p for p in points if p.payload["author_full_name"] == "Ada Lovelace"),
        key=lambda p: -float(np.dot(p.vector, target.vector)),
    )[:4]
    assert [h.id for h in ada] == [p.id for p in expected]

    both = store.search(
        "embedded_test", target.vector, k=10, filters={"category": "posts", "document_id": ["doc-0", "doc-1"]}
    )
    assert {h.payload["document_id"] for h in both} <= {"doc-0", "doc-1"}
    assert {h.payload["category"] for h in both} == {"posts"}
    assert len(both) == 4


def test_scroll_pages_through_every_point_in_id_order(filled):
    store, points = filled
    seen, offset, pages = [], None, 0
    while True:
        page, offset = store.scroll("embedded_test", limit=5, offset=offset)
        seen.extend(page)
        pages += 1
        if offset is None:
            break
    assert pages == 3
    assert [p.id for p in seen] == sorted(p.id for p in points)
    assert all(p.vector is None and "index" in p.payload for p in seen)
    grace, next_offset = store.scroll(
        "embedded_test", filters={"author_full_name": "Grace Hopper"}, limit=100
    )
    assert next_offset is None and len(grace) == 6


def test_delete_by_ids_by_filter_and_by_both(filled):
    store, points = filled
    store.delete("embedded_test", ids=[points[0].id, points[1].id])
    assert store.count("embedded_test") == 10
    store.delete("embedded_test", filters={"document_id": "doc-2"})
    assert store.count("embedded_test") == 6
    assert store.count("embedded_test", filters={"document_id": "doc-2"}) == 0
    # ids AND filter: of points 4-7 only Grace's (5, 7) go.
    store.delete(
        "embedded_test", ids=[p.id for p in points[4:8]], filters={"author_full_name": "Grace Hopper"}
    )
    remaining = {p.id for p in store.scroll("embedded_test", limit=100)[0]}
    assert remaining == {p.id for p in points[2:8] if p.payload["index"] not in (5, 7)}
    store.delete("embedded_test", ids=[])  # nothing to do
    with pytest.raises(ValueError, match="ids or filters"):
        store.delete("embedded_test")


def test_payload_only_collections_hold_points_without_vectors(store):
    store.ensure_collection("cleaned_test", vector_size=None, indexed_fields=FIELDS)
    ids = [stable_uuid("doc", str(i)) for i in range(3)]
    store.upsert(
        "cleaned_test", [Point(i, {"author_full_name": "Ada Lovelace", "content": "x"}) for i in ids]
    )
    assert store.count("cleaned_test", filters={"author_full_name": "Ada Lovelace"}) == 3
    page, _ = store.scroll("cleaned_test", limit=10)
    assert sorted(p.id for p in page) == sorted(ids) and page[0].payload["content"] == "x"


def test_ensure_collection_is_idempotent_and_refuses_other_vector_sizes(filled):
    store, points = filled
    store.ensure_collection("embedded_test", vector_size=DIM, indexed_fields=(*FIELDS, "author_id"))
    assert store.count("embedded_test") == len(points)
    with pytest.raises(VectorStoreError, match="size 8, not 16"):
        store.ensure_collection("embedded_test", vector_size=16)


def test_point_ids_must_be_uuids(filled):
    store, _ = filled
    with pytest.raises(ValueError, match="not a UUID"):
        store.upsert("embedded_test", [Point("chunk-1", {}, [1.0] * DIM)])


def test_edge_persists_points_and_indexes_and_locks_its_files(tmp_path: Path):
    directory = tmp_path / "qdrant"
    with QdrantEdgeStore(directory) as store:
        store.ensure_collection("embedded_test", vector_size=DIM, indexed_fields=FIELDS)
        store.upsert("embedded_test", _points())
        with pytest.raises(VectorStoreBusy, match="open elsewhere"):
            QdrantEdgeStore(directory).count("embedded_test")
    with QdrantEdgeStore(directory) as reopened:
        assert reopened.count("embedded_test", filters={"author_full_name": "Grace Hopper"}) == 6
        assert reopened.indexed_fields("embedded_test") == sorted(FIELDS)
        assert reopened.collections() == ["embedded_test"]
        with pytest.raises(CollectionNotFound, match="does not exist"):
            reopened.count("embedded_missing")


def test_the_factory_picks_edge_without_qdrant_url_and_the_server_with_it(tmp_path: Path):
    edge = build_vector_store(Settings(_env_file=None, state_dir=tmp_path, qdrant_url=None))
    assert isinstance(edge, QdrantEdgeStore) and edge.directory == tmp_path / "qdrant"
    server = build_vector_store(
        Settings(_env_file=None, qdrant_url="https://qdrant.example:6333", qdrant_api_key=uuid.uuid4().hex)
    )
    try:
        assert isinstance(server, QdrantServerStore)
    finally:
        server.close()


def test_edge_close_releases_every_shard_even_when_one_fails(tmp_path: Path) -> None:
    store = QdrantEdgeStore(tmp_path / "qdrant")
    store.ensure_collection("first", vector_size=4)
    store.ensure_collection("second", vector_size=4)

    class FailingFlush:
        def __init__(self, shard):
            self.shard = shard

        def flush(self):
            raise OSError("disk full")

        def close(self):
            self.shard.close()

    store._shards["first"] = FailingFlush(store._shards["first"])
    with pytest.raises(OSError, match="disk full"):
        store.close()
    # Both shards' locks were released: a new store opens and writes them.
    with QdrantEdgeStore(tmp_path / "qdrant") as again:
        for name in ("first", "second"):
            again.ensure_collection(name, vector_size=4)
            again.upsert(name, [Point(id=str(uuid.uuid4()), payload={}, vector=[1.0, 0.0, 0.0, 0.0])])
            assert again.count(name) == 1
