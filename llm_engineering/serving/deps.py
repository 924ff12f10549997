"""What the routes depend on: the options, the services container, the admission bound, and auth.

Routes get the container with ``services: ServicesDep`` (FastAPI ``Depends`` on the app's state),
as in the FastAPI template's ``api/deps.py``. Auth and the body bound are one pure-ASGI
middleware (:class:`GuardMiddleware`): it must answer before a body is read or parsed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from llm_engineering.domain.chat import CONTEXT_PASSAGES
from llm_engineering.domain.decoding import Decoding
from llm_engineering.serving.backends import ECHO_MODEL_ID, TWIN_MODEL_ID, Backend, EchoBackend
from llm_engineering.serving.control import PipelineRuns
from llm_engineering.serving.errors import APIError, error_response
from llm_engineering.serving.rag import RagService
from llm_engineering.settings import Settings

PUBLIC_PATHS = frozenset({"/health", "/", "/favicon.ico"})
"""Paths open without the API key: liveness, and the chat page's static files (they hold no data;
the page sends the key with every API call)."""


@dataclass(frozen=True)
class ServingOptions:
    """Limits and defaults of the API.

    Attributes:
        max_body_bytes: largest request body (413 above).
        max_prompt_chars: largest total length of a request's messages (400 above).
        max_tokens_limit: largest ``max_tokens`` accepted (400 above).
        rag_k: chunks of context per chat answer: the one context budget training and evaluation use.
        snapshot_check_seconds: how often the vector store is checked for new chunks.
        decoding: the server's default decoding; a request overrides only the fields it names.
            ``/rag``, ``/poe``, the chat page and ``twin-generate`` use the same defaults.
        max_queue: generation requests running or waiting at once; one more gets 429.
        request_timeout: seconds one generation request may take (then 504, or an error event).
        retry_after_seconds: the ``Retry-After`` of a 429.
    """

    max_body_bytes: int = 1_000_000
    max_prompt_chars: int = 32_000
    max_tokens_limit: int = 2048
    rag_k: int = CONTEXT_PASSAGES
    snapshot_check_seconds: float = 1.0
    decoding: Decoding = field(default_factory=Decoding)
    max_queue: int = 64
    request_timeout: float = 300.0
    retry_after_seconds: int = 2

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServingOptions:
        """Options with the queue bound and timeout of ``settings`` (``SERVING_MAX_QUEUE``, ``SERVING_REQUEST_TIMEOUT``)."""
        values: dict[str, Any] = {
            "max_queue": settings.serving_max_queue,
            "request_timeout": settings.serving_request_timeout,
        }
        return cls(**{**values, **overrides})


class Admission:
    """The bound on generation requests in flight or waiting (one event loop: a plain counter)."""

    def __init__(self, limit: int, *, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.active = 0
        self.refused = 0

    def enter(self) -> Slot:
        """A slot for one request; 429 with ``Retry-After`` when ``limit`` are taken."""
        if self.active >= self.limit:
            self.refused += 1
            raise APIError(
                429,
                f"the server is busy: {self.active} requests are running or waiting (at most {self.limit}); "
                f"retry in {self.retry_after} s",
                code="queue_full",
                headers={"Retry-After": str(self.retry_after)},
            )
        self.active += 1
        return Slot(self)


class Slot:
    """One admitted request; :meth:`release` is idempotent."""

    def __init__(self, admission: Admission) -> None:
        self._admission: Admission | None = admission

    def release(self) -> None:
        if self._admission is not None:
            self._admission.active -= 1
            self._admission = None


class Services:
    """What the routes share: backends, retrieval, runs, options, the admission bound.

    Args:
        settings: the service's settings.
        backend: the twin's generator.
        rag: retrieval (None: off).
        runs: the control API's runs (None: off; ``runs_off`` says why).
        options: limits and defaults.
        runs_off: the message a control API call gets when ``runs`` is None.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend,
        rag: RagService | None,
        runs: PipelineRuns | None,
        options: ServingOptions,
        runs_off: str = "the control API is off in this server",
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.echo = backend if isinstance(backend, EchoBackend) else EchoBackend()
        self.rag = rag
        self.runs = runs
        self.runs_off = runs_off
        self.options = options
        self.admission = Admission(options.max_queue, retry_after=options.retry_after_seconds)
        self.started_at = time.time()

    async def backend_for(self, model: str) -> Backend:
        """The backend serving ``model``: only ids ``GET /v1/models`` lists (404 in OpenAI's shape otherwise)."""
        if model == ECHO_MODEL_ID:
            return self.echo
        if model == TWIN_MODEL_ID:
            return self.backend
        cards = await run_in_threadpool(self.backend.models)
        if any(card.id == model for card in cards):
            return self.backend
        raise APIError(
            404,
            f"the model {model!r} does not exist; GET /v1/models lists them",
            param="model",
            code="model_not_found",
        )

    def decoding(self, overrides: dict[str, Any] | None = None) -> Decoding:
        """The server's default decoding with a request's ``overrides`` (400 naming a bad field)."""
        overrides = overrides or {}
        limit = self.options.max_tokens_limit
        if overrides.get("max_new_tokens", 0) > limit:
            raise APIError(
                400, f"max_tokens must be at most {limit}", param="max_tokens", code="invalid_value"
            )
        try:
            decoding = Decoding.model_validate({**self.options.decoding.model_dump(), **overrides})
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(part) for part in first["loc"])
            raise APIError(400, f"{name}: {first['msg']}", param=name, code="invalid_value") from exc
        if decoding.max_new_tokens > limit:  # the server's default above the bound: the bound wins
            decoding = decoding.model_copy(update={"max_new_tokens": limit})
        return decoding

    def control(self) -> PipelineRuns:
        if self.runs is None:
            raise APIError(404, self.runs_off, code="control_api_off")
        return self.runs


def get_services(request: Request) -> Services:
    """The app's services container (built by ``create_app``)."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_json(request: Request) -> None:
    """Refuse a body that is not ``application/json`` (415): an HTML form cannot send one cross-site."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise APIError(
            415,
            f"send the body as application/json (got {content_type or 'no content type'})",
            code="unsupported_media_type",
        )


class GuardMiddleware:
    """Bearer key on every path but the public ones, and a bound on the request body (pure ASGI).

    Args:
        app: the wrapped app.
        api_key: the key every non-public path needs (None: none asked).
        poe_key: the key of ``/poe`` when set (else ``api_key``).
        max_body_bytes: largest body (413 above, before it is read whole).
    """

    def __init__(self, app: Any, *, api_key: str | None, poe_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key
        self.poe_key = poe_key
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        key = self.poe_key if path == "/poe" and self.poe_key else self.api_key
        public = path in PUBLIC_PATHS or path.startswith("/static/")
        if key and not public:
            headers = dict(scope["headers"])
            given = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), key.encode()):
                await error_response(401, "missing or wrong API key: send 'Authorization: Bearer <key>'")(
                    scope, receive, send
                )
                return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: dict, receive: Any, send: Any) -> None:
        response = error_response(
            413, f"the request body is larger than {self.max_body_bytes} bytes", code="too_large"
        )
        await response(scope, receive, send)


def build_backend(settings: Settings) -> Backend:
    """The generation backend the settings name (``TWIN_BACKEND``: local, openai, echo)."""
    if settings.twin_backend == "echo":
        return EchoBackend()
    if settings.twin_backend == "openai":
        from llm_engineering.serving.openai_backend import OpenAIBackend

        if not settings.openai_base_url:
            raise ValueError("TWIN_BACKEND=openai needs OPENAI_BASE_URL (the upstream's API root)")
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIBackend(
            base_url=settings.openai_base_url, api_key=api_key, model_id=settings.openai_model_id
        )
    if settings.twin_backend == "local":
        from llm_engineering.model.registry import ModelRegistry
        from llm_engineering.serving.twin_backend import LocalTwinBackend

        def base_folder() -> Path:
            from llm_engineering.model.base_model import resolve_base_model

            return resolve_base_model(settings.base_model, models_dir=settings.models_dir)

        return LocalTwinBackend(
            registry=ModelRegistry(settings.models_dir),
            twin_model=settings.twin_model,
            fallback_folder=base_folder,
            runtime=settings.twin_runtime,
        )
    raise ValueError(f"TWIN_BACKEND must be local, openai or echo, not {settings.twin_backend!r}")
