"""LLM clients: one small interface, an OpenAI-compatible adapter and a local transformers adapter.

- :class:`OpenAICompatibleClient`: any server speaking the OpenAI chat-completions schema
  (OpenAI, vLLM, TGI, Ollama, this project's serving API), from ``OPENAI_BASE_URL``,
  ``OPENAI_API_KEY`` and ``OPENAI_MODEL_ID``.
- :class:`LocalTransformersClient`: a Hugging Face causal LM from a local folder.

Both implement :class:`~llm_engineering.domain.llm.LLMClient`; the port, its message type and
its errors are imported from :mod:`llm_engineering.domain.llm`, not from here. The factories
below build the clients from the settings when called. Nothing is imported from ``openai``,
``torch`` or ``transformers`` until a client makes its first call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.llm import ENDPOINT_FIX
from llm_engineering.infrastructure.llm.base import BaseLLMClient, Generation, TokenBudget, parse_json_object
from llm_engineering.infrastructure.llm.local import LocalTransformersClient
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleClient
from llm_engineering.settings import Settings, get_settings


def build_endpoint_client(
    settings: Settings | None = None,
    *,
    model_id: str | None = None,
    base_url: str | None = None,
    **options: Any,
) -> OpenAICompatibleClient:
    """A client of the OpenAI-compatible endpoint of the settings.

    Args:
        settings: the settings to read; the process-wide ones by default.
        model_id: the model to ask (default: ``OPENAI_MODEL_ID``).
        base_url: the endpoint (default: ``OPENAI_BASE_URL``).
        **options: :class:`OpenAICompatibleClient` options (timeouts, concurrency, budgets).

    Raises:
        ImproperlyConfigured: no endpoint is configured; the message names the settings to set.
    """
    settings = settings or get_settings()
    base_url = base_url or settings.openai_base_url
    model_id = model_id or settings.openai_model_id
    if not base_url:
        raise ImproperlyConfigured(f"no LLM endpoint is configured: {ENDPOINT_FIX}")
    if not model_id:
        raise ImproperlyConfigured("no LLM model id is configured: set OPENAI_MODEL_ID")
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAICompatibleClient(base_url=base_url, model_id=model_id, api_key=api_key, **options)


def is_local_model(model: str) -> bool:
    """Whether ``model`` names a local model folder (rather than a model id served by an endpoint)."""
    return Path(model).expanduser().is_dir()


def build_model_client(
    model: str,
    settings: Settings | None = None,
    *,
    base_url: str | None = None,
    device: str = "cpu",
    seed: int = 0,
    **options: Any,
) -> BaseLLMClient:
    """A client of ``model``: the local adapter for a folder, else the endpoint that serves that model id.

    Args:
        model: a local model folder, or a model id known to the endpoint.
        settings: the settings to read; the process-wide ones by default.
        base_url: the endpoint of a model id (default: ``OPENAI_BASE_URL``).
        device: torch device of a local model.
        seed: sampling seed of a local model.
        **options: :class:`BaseLLMClient` options; endpoint-only ones (``timeout_seconds``,
            ``request_retries``, ``max_concurrency``, ``json_mode``) are ignored for a local model.

    Raises:
        ImproperlyConfigured: ``model`` is no folder and no endpoint is configured.
    """
    if is_local_model(model):
        local_options = {
            k: v
            for k, v in options.items()
            if k in {"default_max_tokens", "temperature", "json_retries", "token_budget"}
        }
        return LocalTransformersClient(model, device=device, seed=seed, **local_options)
    settings = settings or get_settings()
    if not (base_url or settings.openai_base_url):
        raise ImproperlyConfigured(
            f"model {model!r} is not a local folder and no endpoint serves it: give the path of a "
            f"model folder, or {ENDPOINT_FIX}"
        )
    return build_endpoint_client(settings, model_id=model, base_url=base_url, **options)


__all__ = [
    "BaseLLMClient",
    "Generation",
    "LocalTransformersClient",
    "OpenAICompatibleClient",
    "TokenBudget",
    "build_endpoint_client",
    "build_model_client",
    "is_local_model",
    "parse_json_object",
]
