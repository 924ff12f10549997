"""Fixtures of the serving tests: a live uvicorn on a free port, and a small embedded demo corpus.

Import the fixtures into a test module (``from tests.serving_fixtures import demo_state  # noqa: F401``).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_engineering.domain.warehouse import Warehouse
from llm_engineering.infrastructure.local_services import WarehouseServer, free_port
from llm_engineering.settings import Settings

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
AUTHOR = "Maya Lindqvist"
API_KEY = "test-key"


class LiveServer:
    """An app served by uvicorn in a thread on a free loopback port; use as a context manager.

    Args:
        app: the ASGI app.
        ready_timeout: seconds to wait for ``/ready`` (None: only for the port to answer).
    """

    def __init__(self, app: Any, *, ready_timeout: float | None = 120) -> None:
        import uvicorn

        self.port = free_port()
        self.app = app
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.ready_timeout = ready_timeout
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        if self.ready_timeout is not None:
            self.wait_ready(self.ready_timeout)
        return self

    def wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        body: dict = {}
        while time.monotonic() < deadline:
            response = httpx.get(
                f"{self.url}/ready", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
            )
            body = response.json()
            if response.status_code == 200:
                return body
            time.sleep(0.2)
        raise TimeoutError(f"the server is not ready: {body}")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)


@dataclass(frozen=True)
class DemoState:
    """A state folder whose Qdrant Edge store holds the demo author's embedded Markdown writing."""

    state_dir: Path
    database_host: str
    database_name: str
    chunks: int

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "state_dir": self.state_dir,
            "database_host": self.database_host,
            "database_name": self.database_name,
            "twin_backend": "echo",
            "serving_api_key": API_KEY,
            "qdrant_url": None,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)


def demo_documents(author_id: str) -> list[Any]:
    """The demo's Markdown articles and posts as warehouse documents."""
    from llm_engineering.domain.documents import ArticleDocument, PostDocument

    documents: list[Any] = []
    for path in sorted(DEMO.glob("articles/*.md")):
        text = path.read_text(encoding="utf-8")
        title = text.split("\n", 1)[0].lstrip("# ").strip()
        content = {"Title": title, "Subtitle": None, "Content": text}
        documents.append(
            ArticleDocument(
                content=content,
                platform="local",
                author_id=author_id,
                author_full_name=AUTHOR,
                link=path.as_uri(),
            )
        )
    for path in sorted(DEMO.glob("posts/*.md")):
        documents.append(
            PostDocument(
                content={"Content": path.read_text(encoding="utf-8")},
                platform="local",
                author_id=author_id,
                author_full_name=AUTHOR,
                link=path.as_uri(),
            )
        )
    return documents


def embed_into(state_dir: Path, warehouse: Warehouse) -> int:
    """Run the feature flow of the warehouse's documents into ``state_dir/qdrant``; returns the chunks stored."""
    from llm_engineering.application.features.flow import run_feature_flow
    from llm_engineering.configs.features import FeatureEngineeringConfig
    from llm_engineering.infrastructure.embeddings import default_model_path, load_embedder
    from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore

    embedder = load_embedder(default_model_path())
    with QdrantEdgeStore(state_dir / "qdrant") as store:
        report = run_feature_flow(
            warehouse=warehouse,
            store=store,
            embedder=lambda: embedder,
            model_name=embedder.model_id,
            config=FeatureEngineeringConfig(author_full_names=[AUTHOR]),
            progress=False,
        )
        return report.embedding.chunks


_DEMO_STATES: dict[str, DemoState] = {}
"""Built demo states by warehouse URI: each test module that imports the fixture gets its own copy of
the fixture definition, so without this the corpus would be embedded once per module."""


@pytest.fixture(scope="session")
def demo_state(warehouse_server: WarehouseServer, tmp_path_factory: pytest.TempPathFactory) -> DemoState:
    """The demo author in a warehouse database of their own, embedded into a fresh state folder (once per session).

    The database and folder live as long as the session's warehouse server and temporary folders.
    """
    from llm_engineering.domain.documents import UserDocument
    from llm_engineering.infrastructure.warehouse import connect

    if warehouse_server.uri in _DEMO_STATES:
        return _DEMO_STATES[warehouse_server.uri]
    name = f"serving_{uuid.uuid4().hex[:8]}"
    state_dir = tmp_path_factory.mktemp("serving-state")
    with connect(warehouse_server.uri, name) as warehouse:
        first, last = UserDocument.split_full_name(AUTHOR)
        user, _ = warehouse.get_or_create(UserDocument, first_name=first, last_name=last)
        warehouse.bulk_insert(demo_documents(user.id))
        chunks = embed_into(state_dir, warehouse)
    state = _DEMO_STATES[warehouse_server.uri] = DemoState(state_dir, warehouse_server.uri, name, chunks)
    return state


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
