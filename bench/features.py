"""Benchmark: feature pipeline throughput, rerun cost and filtered-search latency.

1. Imports the shared handbook corpus (../shared/corpora/llm-engineers-handbook) into a
   fresh nx-27017 warehouse, runs the feature flow into a fresh Qdrant Edge store and prints
   documents/s and chunks/s of the full run, the share of it spent in the model's encode,
   and the time of an unchanged rerun as a ratio of the full run. The model is loaded before
   the run and its load time printed apart; ZenML's per-run start-up (about 8 s) is not in
   these figures, which measure the library flow the steps call.
2. Fills Qdrant Edge and qdrant-client's local mode with the same synthetic points (random
   unit 384-d vectors with author and category payloads, indexed) and prints the p50 and p95
   latency of a filtered search (author + category, k=5) at each size, side by side; Edge
   both as the pipeline leaves it and after ``optimize()`` built its HNSW index.

Run: ``python -m bench.features [--points 10000,100000] [--queries 200] [--local-queries 30]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from llm_engineering.application.features import flow
from llm_engineering.application.features.reports import FeatureRunReport
from llm_engineering.application.preprocessing.ids import stable_uuid
from llm_engineering.configs.features import FeatureEngineeringConfig
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.domain.vector_store import Point
from llm_engineering.infrastructure.embeddings import build_embedder
from llm_engineering.infrastructure.local_services import WarehouseServer, free_port
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
from llm_engineering.infrastructure.warehouse import connect
from llm_engineering.infrastructure.warehouse_json import import_warehouse
from llm_engineering.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "llm-engineers-handbook"
DIMENSION = 384
AUTHORS = [f"Author {i}" for i in range(10)]
CATEGORIES = ["articles", "posts", "repositories"]
FIELDS = ("author_full_name", "category", "document_id")


def bench_corpus(corpus: Path) -> None:
    """Full run and unchanged rerun of the feature flow on ``corpus``; prints the figures."""
    settings = Settings(_env_file=None)
    started = time.perf_counter()
    embedder = build_embedder(settings)
    load_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="llm-twin-bench-") as tmp:
        server = WarehouseServer(data_dir=Path(tmp) / "warehouse", port=free_port())
        server.start()
        try:
            with connect(server.uri, "bench") as warehouse, QdrantEdgeStore(Path(tmp) / "qdrant") as store:
                import_warehouse(warehouse, corpus)
                authors = sorted({d.author_full_name for d in warehouse.find(ArticleDocument)})
                config = FeatureEngineeringConfig(author_full_names=authors)

                def run() -> FeatureRunReport:
                    return flow.run_feature_flow(
                        warehouse=warehouse,
                        store=store,
                        embedder=lambda: embedder,
                        model_name=embedder.model_id,
                        config=config,
                    )

                full = run()
                rerun = run()
        finally:
            server.stop()
    documents, chunks = full.cleaning.documents, full.embedding.chunks
    encode = full.embedding.encode_seconds
    print(f"corpus: {corpus}")
    print(
        f"  full run: {documents} documents -> {chunks} chunks ({full.embedding.tokens} tokens) in "
        f"{full.seconds:.1f}s = {documents / full.seconds:.2f} documents/s, {chunks / full.seconds:.1f} chunks/s"
    )
    print(
        f"  model encode: {encode:.1f}s = {encode / full.seconds:.1%} of the run "
        f"(everything else: {full.seconds - encode:.1f}s; chunking {full.embedding.chunk_seconds:.1f}s); "
        f"model load before the run: {load_seconds:.1f}s"
    )
    e = full.embedding
    print(
        f"  stages: query {full.query.seconds:.1f}s, cleaning {full.cleaning.seconds:.1f}s, chunking "
        f"{e.chunk_seconds:.1f}s, encode {e.encode_seconds:.1f}s, store writes {e.store_seconds:.1f}s"
    )
    print(
        f"  unchanged rerun: {rerun.seconds:.3f}s = {rerun.seconds / full.seconds:.2%} of the full run "
        f"({rerun.cleaning.unchanged} unchanged, {rerun.embedding.chunks} chunks embedded)"
    )


def _points(n: int, rng: np.random.Generator, *, start: int) -> list[Point]:
    vectors = rng.normal(size=(n, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        Point(
            id=stable_uuid("bench", str(start + i)),
            payload={
                "author_full_name": AUTHORS[(start + i) % len(AUTHORS)],
                "category": CATEGORIES[(start + i) % len(CATEGORIES)],
                "document_id": str((start + i) // 20),
                "content": f"synthetic chunk {start + i}",
            },
            vector=vector.tolist(),
        )
        for i, vector in enumerate(vectors)
    ]


def _fill(store, *, points: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    store.ensure_collection("embedded_bench", vector_size=DIMENSION, indexed_fields=FIELDS)
    for first in range(0, points, 2_000):
        store.upsert("embedded_bench", _points(min(2_000, points - first), rng, start=first))
    return time.perf_counter() - started


def _latencies(store, *, queries: int, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(queries, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.search(
        "embedded_bench", vectors[0].tolist(), k=5, filters={"author_full_name": AUTHORS[0]}
    )  # warm-up
    timings = []
    for i, vector in enumerate(vectors):
        filters = {"author_full_name": AUTHORS[i % len(AUTHORS)], "category": CATEGORIES[i % len(CATEGORIES)]}
        started = time.perf_counter()
        hits = store.search("embedded_bench", vector.tolist(), k=5, filters=filters)
        timings.append((time.perf_counter() - started) * 1000)
        assert all(h.payload["author_full_name"] == filters["author_full_name"] for h in hits)
    return timings


def _p(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def bench_latency(*, sizes: list[int], queries: int, local_queries: int) -> None:
    """Filtered-search latency of Qdrant Edge and qdrant-client's local mode; prints a table.

    Qdrant Edge is timed twice: as the pipeline leaves it (points appended, payload indexes,
    no HNSW graph yet) and after ``optimize()`` has built the HNSW index.
    """
    from qdrant_client import QdrantClient

    from llm_engineering.infrastructure.vector_stores.qdrant_server import QdrantServerStore

    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="llm-twin-bench-edge-") as tmp:
            edge = QdrantEdgeStore(Path(tmp))
            with edge:
                edge_fill = _fill(edge, points=size)
                edge_ms = _latencies(edge, queries=queries)
                started = time.perf_counter()
                edge.optimize()
                edge_optimize = time.perf_counter() - started
                optimized_ms = _latencies(edge, queries=queries)
        local = QdrantServerStore(QdrantClient(location=":memory:"))
        with local, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Local mode is not recommended")
            local_fill = _fill(local, points=size)
            local_ms = _latencies(local, queries=local_queries)
        rows.append((size, edge_ms, optimized_ms, local_ms))
        print(
            f"  {size:,} points: Edge filled in {edge_fill:.1f}s, optimized (HNSW) in {edge_optimize:.1f}s; "
            f"local mode filled in {local_fill:.1f}s; {queries} Edge and {local_queries} local-mode queries",
            flush=True,
        )
    print()
    print("filtered search (k=5, author + category filter: 1/30 of the points), latency in ms:")
    print(
        f"{'points':>9} | {'Edge p50':>8} {'p95':>6} | {'Edge+HNSW p50':>13} {'p95':>6} | "
        f"{'qdrant-client local p50':>23} {'p95':>7} | local/Edge p50"
    )
    for size, edge_ms, optimized_ms, local_ms in rows:
        print(
            f"{size:>9,} | {_p(edge_ms, 50):>8.2f} {_p(edge_ms, 95):>6.2f} | {_p(optimized_ms, 50):>13.2f} "
            f"{_p(optimized_ms, 95):>6.2f} | {_p(local_ms, 50):>23.1f} {_p(local_ms, 95):>7.1f} | "
            f"{_p(local_ms, 50) / _p(edge_ms, 50):>9.0f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="handbook-format JSON folder")
    parser.add_argument("--points", default="10000,100000", help="store sizes for the latency part")
    parser.add_argument("--queries", type=int, default=200, help="timed searches per size on Qdrant Edge")
    parser.add_argument("--local-queries", type=int, default=30, help="timed searches per size in local mode")
    parser.add_argument("--skip-corpus", action="store_true", help="only the latency part")
    parser.add_argument("--skip-latency", action="store_true", help="only the corpus part")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    run: list[tuple[str, Callable[[], None]]] = []
    if not args.skip_corpus:
        run.append(("feature flow on the corpus", lambda: bench_corpus(args.corpus)))
    if not args.skip_latency:
        sizes = [int(size) for size in args.points.split(",") if size.strip()]
        run.append(
            (
                "filtered-search latency",
                lambda: bench_latency(sizes=sizes, queries=args.queries, local_queries=args.local_queries),
            )
        )
    for title, part in run:
        print(f"== {title} ==", flush=True)
        part()
        print()


if __name__ == "__main__":
    main()
