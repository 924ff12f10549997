"""SIGKILL in the middle of a pipeline, then rerun: nothing lost, nothing doubled.

Each pipeline runs as the user runs it (``python -m tools.run`` in a subprocess, on the test
warehouse and a temporary state folder), is killed with SIGKILL once it has written part of
its output, and is run again to completion.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from llm_engineering.domain.documents import ArticleDocument

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class _Run:
    """``python -m tools.run ARGS`` in its own process group, its output collected as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.run", *args],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill_when(self, ready: Callable[[], bool], *, timeout: float = 300) -> None:
        """SIGKILL the whole process group as soon as ``ready()`` holds (the run must still be going)."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.process.poll() is None, f"the run ended before it could be killed:\n{self.output}"
            assert time.monotonic() < deadline, (
                f"the run never reached the point to kill it at:\n{self.output}"
            )
            time.sleep(0.1)
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, timeout: float = 500) -> str:
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        assert self.process.returncode == 0, self.output
        return self.output


def _finish(*args: str) -> str:
    return _Run(*args).finish()


def test_etl_killed_mid_crawl_then_rerun_stores_every_link_once(
    project_env, site_server, tmp_path: Path
) -> None:
    warehouse = project_env
    links = [site_server.url(f"/slow/0.3/article.html?copy={i}") for i in range(40)]
    config = tmp_path / "etl.yaml"
    config.write_text(
        yaml.safe_dump(
            {"user_full_name": "Ada Lovelace", "links": links, "crawl": {"max_workers": 2, "retries": 0}}
        )
    )

    _Run("digital-data-etl", "--config", str(config)).kill_when(lambda: warehouse.count(ArticleDocument) >= 5)
    stored_before = warehouse.count(ArticleDocument)
    assert 5 <= stored_before < len(links)

    output = _finish("digital-data-etl", "--config", str(config))

    assert f"{len(links) - stored_before} stored, {stored_before} skipped, 0 failed" in output
    stored = [doc.link for doc in warehouse.find(ArticleDocument)]
    assert sorted(stored) == sorted(links)  # every link, once


def _chunk_counts(state_dir: Path) -> tuple[collections.Counter, set[str], int]:
    """(chunks per (document, index), documents with chunks, cleaned documents) in the vector store."""
    from llm_engineering.application.feature_store import scroll_all
    from llm_engineering.infrastructure.vector_stores.qdrant_edge import QdrantEdgeStore

    store = QdrantEdgeStore(state_dir / "qdrant")
    try:
        keys: collections.Counter = collections.Counter()
        documents: set[str] = set()
        for point in scroll_all(store, "embedded_articles"):
            keys[(point.payload["document_id"], point.payload["index"])] += 1
            documents.add(point.payload["document_id"])
        cleaned = sum(1 for _ in scroll_all(store, "cleaned_articles"))
        return keys, documents, cleaned
    finally:
        store.close()


def test_feature_pipeline_killed_mid_embedding_then_rerun_embeds_every_document_once(
    project_env, shared_corpus, tmp_path: Path
) -> None:
    from llm_engineering.infrastructure.warehouse_json import import_warehouse

    warehouse = project_env
    import_warehouse(warehouse, shared_corpus)
    # A third of the corpus keeps the test short; the kill still lands mid-way through the embedding.
    articles = sorted(warehouse.find(ArticleDocument), key=lambda doc: doc.link)
    for doc in articles[24:]:
        warehouse.delete(ArticleDocument, _id=doc.id)
    authors = sorted({doc.author_full_name for doc in articles[:24]})
    documents = warehouse.count(ArticleDocument)
    config = tmp_path / "features.yaml"
    config.write_text(yaml.safe_dump({"author_full_names": authors}))
    state_dir = Path(os.environ["STATE_DIR"])

    run = _Run("feature-engineering", "--config", str(config))
    # Kill a few seconds into the chunk-and-embed step: some chunks written, most not.
    started: list[float] = []

    def embedding_for_a_while() -> bool:
        if (
            not started
            and "chunk_and_embed" in run.output
            and "started" in run.output.split("chunk_and_embed")[-1]
        ):
            started.append(time.monotonic())
        return bool(started) and time.monotonic() - started[0] > 4

    run.kill_when(embedding_for_a_while)

    _finish("feature-engineering", "--config", str(config))

    keys, embedded_documents, cleaned = _chunk_counts(state_dir)
    assert cleaned == documents
    assert len(embedded_documents) == documents
    assert max(keys.values()) == 1  # no chunk twice
    # Chunk indexes of each document are 0..n-1 with no gap.
    per_document = collections.defaultdict(list)
    for document_id, index in keys:
        per_document[document_id].append(index)
    assert all(sorted(indexes) == list(range(len(indexes))) for indexes in per_document.values())

    # A third run finds nothing to do.
    again = _finish("feature-engineering", "--config", str(config))
    assert _chunk_counts(state_dir)[0] == keys
    assert "0 new" in again or "unchanged" in again


def test_training_killed_after_a_checkpoint_then_rerun_resumes_and_registers_once(
    project_env, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from llm_engineering.model.registry import ModelRegistry
    from tests.model_fixtures import save_training_datasets

    state_dir = Path(os.environ["STATE_DIR"])
    save_training_datasets(state_dir / "datasets", rows=12)
    overrides = [
        f"--set=base_model={tiny_model_dir}",
        "--set=sft.max_steps=30",
        "--set=sft.save_steps=2",
        "--set=sft.packing=false",
        "--set=dpo.max_steps=2",
    ]

    run = _Run("training", *overrides)
    runs = state_dir / "models" / "runs"
    run.kill_when(lambda: any(runs.glob("*/sft/checkpoints/checkpoint-4")))

    output = _finish("training", *overrides)

    assert "resumed from checkpoint-" in output
    [run_dir] = runs.iterdir()  # the rerun found the killed run's folder
    registry = ModelRegistry(state_dir / "models")
    names = sorted(version.name for version in registry.versions() if version.stage != "base")
    assert names == [f"{run_dir.name}-dpo", f"{run_dir.name}-sft"]  # each stage registered once
    sft = registry.get(f"{run_dir.name}-sft")
    assert sft.metrics["sft_steps"] == 30
    assert (sft.folder / "config.json").is_file()
