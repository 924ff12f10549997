"""Shared fixtures: real local services, started per test session on free ports."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Keep every library off the network and off the user's own ZenML/HF state.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
os.environ["ZENML_AUTO_OPEN_DASHBOARD"] = "false"
# Every pipeline test runs against a ZenML store of its own, never the developer's.
os.environ["ZENML_CONFIG_PATH"] = tempfile.mkdtemp(prefix="llm-twin-zenml-")
atexit.register(shutil.rmtree, os.environ["ZENML_CONFIG_PATH"], ignore_errors=True)

from llm_engineering.infrastructure.local_services import WarehouseServer, free_port  # noqa: E402
from llm_engineering.infrastructure.warehouse import MongoWarehouse, connect  # noqa: E402

# Loopback fixture site, Chromium, a local git repository and a PDF for the crawler tests;
# a tiny causal LM and the converted packaged SmolLM2 for the model tests.
pytest_plugins = ["tests.crawl_fixtures", "tests.model_fixtures"]

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "llm-engineers-handbook"


@pytest.fixture(scope="session")
def warehouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarehouseServer]:
    """An nx-27017 server on a free loopback port, with its data in a temporary folder."""
    server = WarehouseServer(data_dir=tmp_path_factory.mktemp("nx27017"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def warehouse(warehouse_server: WarehouseServer) -> Iterator[MongoWarehouse]:
    """A warehouse on its own fresh database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    store = connect(warehouse_server.uri, name)
    yield store
    store.database.client.drop_database(name)
    store.close()


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The handbook corpus beside the project (../shared); tests that need it skip without it."""
    if not (SHARED_CORPUS / "ArticleDocument.json").exists():
        pytest.skip(f"shared corpus not found at {SHARED_CORPUS}")
    return SHARED_CORPUS


@pytest.fixture
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings on a temporary state folder (returned) with no env file, no LLM endpoint, no Qdrant
    server and no hub token: the embedded stores and offline strategies, whatever the machine has set."""
    from llm_engineering.settings import get_settings

    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "QDRANT_URL", "HUGGINGFACE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LLM_TWIN_ENV_FILE", str(tmp_path / "no.env"))
    get_settings.cache_clear()
    yield tmp_path / "state"
    get_settings.cache_clear()


@pytest.fixture
def project_env(
    warehouse: MongoWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MongoWarehouse]:
    """Point the settings (and so every step) at the test warehouse and a temporary state folder."""
    from llm_engineering.settings import get_settings

    client = warehouse.database.client
    host, port = client.address
    monkeypatch.setenv("DATABASE_HOST", f"mongodb://{host}:{port}")
    monkeypatch.setenv("DATABASE_NAME", warehouse.database.name)
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LLM_TWIN_ENV_FILE", str(tmp_path / "no.env"))
    get_settings.cache_clear()
    yield warehouse
    get_settings.cache_clear()
