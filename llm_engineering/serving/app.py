"""The FastAPI app of the twin: OpenAI-compatible chat, /rag, Poe, suggestions, control API, chat page.

:func:`create_app` builds everything from its arguments and does no I/O: the embedding model,
the store snapshots and the twin model are loaded by the app's start-up (in threads, in the
background), and ``/ready`` says when they are there. Every blocking call of a request
(retrieval, registry reads, subprocess starts, ZenML queries) runs in a worker thread;
generation runs in the backend's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_engineering.application.rag.hybrid import RetrievalResult
from llm_engineering.model.chat import build_messages
from llm_engineering.model.decoding import Decoding
from llm_engineering.serving.backends import (
    ECHO_MODEL_ID,
    TWIN_MODEL_ID,
    Backend,
    EchoBackend,
    Finished,
    ModelCard,
)
from llm_engineering.serving.control import PipelineEntryLike, PipelineRuns, RunInspector
from llm_engineering.serving.errors import (
    APIError,
    api_error_handler,
    error_response,
    http_error_handler,
    sse_error,
    validation_error_handler,
)
from llm_engineering.serving.rag import RagService
from llm_engineering.serving.schemas import (
    ChatCompletionRequest,
    ContextItem,
    PipelineRunRequest,
    RagRequest,
    RagResponse,
)
from llm_engineering.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
PUBLIC_PATHS = frozenset({"/health", "/", "/favicon.ico"})
"""Paths open without the API key: liveness, and the chat page's static files (they hold no data;
the page sends the key with every API call)."""


@dataclass(frozen=True)
class ServingOptions:
    """Limits and defaults of the API.

    Attributes:
        max_body_bytes: largest request body (413 above).
        max_prompt_chars: largest total length of a request's messages (400 above).
        default_max_tokens: answer tokens when the request gives none.
        max_tokens_limit: largest ``max_tokens`` accepted (400 above).
        rag_k: chunks of context per chat answer.
        snapshot_check_seconds: how often the vector store is checked for new chunks.
    """

    max_body_bytes: int = 1_000_000
    max_prompt_chars: int = 32_000
    default_max_tokens: int = 256
    max_tokens_limit: int = 2048
    rag_k: int = 5
    snapshot_check_seconds: float = 1.0


def build_backend(settings: Settings) -> Backend:
    """The generation backend the settings name (``TWIN_BACKEND``: local, openai, echo)."""
    if settings.twin_backend == "echo":
        return EchoBackend()
    if settings.twin_backend == "openai":
        from llm_engineering.serving.backends import OpenAIBackend

        if not settings.openai_base_url:
            raise ValueError("TWIN_BACKEND=openai needs OPENAI_BASE_URL (the upstream's API root)")
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIBackend(
            base_url=settings.openai_base_url, api_key=api_key, model_id=settings.openai_model_id
        )
    if settings.twin_backend == "local":
        from llm_engineering.model.registry import ModelRegistry
        from llm_engineering.serving.backends import LocalTwinBackend

        def base_folder() -> Path:
            from llm_engineering.model.base_model import resolve_base_model

            return resolve_base_model(settings.base_model, models_dir=settings.models_dir)

        return LocalTwinBackend(
            registry=ModelRegistry(settings.models_dir),
            twin_model=settings.twin_model,
            fallback_folder=base_folder,
        )
    raise ValueError(f"TWIN_BACKEND must be local, openai or echo, not {settings.twin_backend!r}")


class _GuardMiddleware:
    """Bearer key on every path but the public ones, and a bound on the request body (pure ASGI)."""

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


class Services:
    """What the routes share: backends, retrieval, runs, options."""

    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend,
        rag: RagService | None,
        runs: PipelineRuns | None,
        options: ServingOptions,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.echo = backend if isinstance(backend, EchoBackend) else EchoBackend()
        self.rag = rag
        self.runs = runs
        self.options = options
        self.started_at = time.time()

    def backend_for(self, model: str) -> Backend:
        if model == ECHO_MODEL_ID:
            return self.echo
        if model == TWIN_MODEL_ID or self.backend.kind == "local":
            return self.backend  # the local backend answers 404 for an unknown version itself
        if any(card.id == model for card in self.backend.models()):
            return self.backend
        raise APIError(
            404,
            f"the model {model!r} does not exist; GET /v1/models lists them",
            param="model",
            code="model_not_found",
        )

    def params(
        self, max_tokens: int | None, *, temperature: float | None, top_p: float | None, stop, seed
    ) -> Decoding:
        limit = self.options.max_tokens_limit
        if max_tokens is not None and max_tokens > limit:
            raise APIError(
                400, f"max_tokens must be at most {limit}", param="max_tokens", code="invalid_value"
            )
        return Decoding(
            max_new_tokens=max_tokens or self.options.default_max_tokens,
            temperature=0.0 if temperature is None else temperature,
            top_p=1.0 if top_p is None else top_p,
            stop=tuple(stop or ()),
            seed=seed,
        )

    async def context(self, question: str, *, k: int, author: str | None, default_author: str | None):
        if self.rag is None:
            return None
        return await run_in_threadpool(
            self.rag.retrieve, question, k=k, author=author, default_author=default_author
        )


def _import_model_libraries(services: Services) -> None:
    if services.backend.kind == "local":
        import transformers

        _ = transformers.AutoModelForCausalLM, transformers.AutoTokenizer
    if services.rag is not None:
        import sentence_transformers  # noqa: F401


def _chunk(
    completion_id: str, created: int, model: str, delta: dict, finish: str | None, **extra: Any
) -> str:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    rag: RagService | None | bool = True,
    pipelines: Mapping[str, PipelineEntryLike] | None = None,
    run_inspector: RunInspector | None = None,
    options: ServingOptions | None = None,
    project_root: Path = PROJECT_ROOT,
) -> FastAPI:
    """The service's app; nothing is loaded or opened until it starts.

    Args:
        settings: endpoints, keys, state folder, backend choice.
        backend: the generator (default: the one ``settings.twin_backend`` names).
        rag: the retrieval service; True (default) builds one from the settings; None/False: no retrieval.
        pipelines: the ``tools/run.py`` table for the control API (None: no control API).
        run_inspector: ZenML's view of a run for ``GET /v1/pipelines/runs/{id}``.
        options: limits and defaults.
        project_root: where pipeline runs start.
    """
    options = options or ServingOptions()
    backend = backend or build_backend(settings)
    if rag is True:
        rag = RagService(settings, check_seconds=options.snapshot_check_seconds)
    services = Services(
        settings,
        backend=backend,
        rag=rag or None,
        runs=PipelineRuns(
            pipelines,
            project_root=project_root,
            runs_dir=settings.state_dir / "serving" / "runs",
            inspector=run_inspector,
        )
        if pipelines is not None
        else None,
        options=options,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def start_rag() -> None:
            if services.rag is not None:
                try:
                    await asyncio.to_thread(services.rag.start)
                except Exception:
                    logger.exception("retrieval failed to start")

        # Import the heavy libraries once, in one thread: transformers' lazy modules are not safe
        # to import from two threads at once.
        await asyncio.to_thread(_import_model_libraries, services)

        async def start_all() -> None:
            # One after the other: transformers' loading uses process-wide state (meta-device
            # initialisation), so two models loading in two threads at once corrupt each other.
            await start_rag()
            await services.backend.start()

        tasks = [asyncio.create_task(start_all())]
        app.state.startup = tasks
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await services.backend.close()
            if services.rag is not None:
                await asyncio.to_thread(services.rag.stop)

    app = FastAPI(
        title="LLM Twin",
        summary="The twin answers with retrieval: OpenAI-compatible chat, /rag, Poe, suggestions, pipeline control.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_exception_handler(APIError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    api_key = settings.serving_api_key.get_secret_value() if settings.serving_api_key else None
    poe_key = settings.poe_access_key.get_secret_value() if settings.poe_access_key else None
    app.add_middleware(
        _GuardMiddleware, api_key=api_key, poe_key=poe_key, max_body_bytes=options.max_body_bytes
    )

    # -- health ----------------------------------------------------------------------

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers (no key needed)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["health"], responses={503: {"description": "not ready"}})
    async def ready() -> JSONResponse:
        """Readiness: the model is loaded and the vector store has been read."""
        model_ok, model_detail = services.backend.status()
        store_ok, store_detail = (
            services.rag.status() if services.rag is not None else (True, "retrieval off")
        )
        ok = model_ok and store_ok
        body = {
            "status": "ready" if ok else "not ready",
            "model": {"ready": model_ok, "detail": model_detail},
            "store": {"ready": store_ok, "detail": store_detail},
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    # -- OpenAI-compatible -----------------------------------------------------------

    @app.get("/v1/models", tags=["openai"])
    async def models() -> dict[str, Any]:
        """The twin (``llm-twin``), its registry versions (base, sft, dpo) and ``echo``."""
        cards = await run_in_threadpool(services.backend.models)
        if services.backend is not services.echo:
            cards += services.echo.models()
        if not any(card.id == TWIN_MODEL_ID for card in cards):  # TWIN_BACKEND=echo: the twin is echo
            cards.insert(0, ModelCard(TWIN_MODEL_ID, "llm-twin", f"the {services.backend.kind} backend"))
        created = int(services.started_at)
        return {
            "object": "list",
            "data": [
                {
                    "id": c.id,
                    "object": "model",
                    "created": created,
                    "owned_by": c.owned_by,
                    "description": c.description,
                }
                for c in cards
            ],
        }

    async def primed_stream(
        question: str,
        history: list[dict[str, str]],
        *,
        model: str,
        params: Decoding,
        result: RetrievalResult | None,
        twin_author: str | None,
    ) -> AsyncIterator[str | Finished]:
        """The backend's stream for the twin's prompt, primed: errors before the first token are raised here."""
        chosen = services.backend_for(model)
        chunks = result.chunks if result is not None else []
        author = (result.author if result is not None else None) or twin_author
        passages = [chunk.content for chunk in chunks]
        messages = build_messages(question, author=author, context=passages, history=history)
        # Retrieved passages fill what the model's context leaves: the lowest-ranked go first.
        while passages and ((await chosen.room(model, messages, params.max_new_tokens)) or 0) < 0:
            passages.pop()
            messages = build_messages(question, author=author, context=passages, history=history)
        if chosen.kind == "echo":  # echo answers with the user's own message, not the augmented prompt
            messages = [*messages[:-1], {"role": "user", "content": question}]
        stream = chosen.stream(model, messages, params)
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            first = Finished("stop", 0, 0)

        async def primed() -> AsyncIterator[str | Finished]:
            yield first
            if not isinstance(first, Finished):
                async for event in stream:
                    yield event

        return primed()

    async def start_answer(
        question: str,
        history: list[dict[str, str]],
        *,
        model: str,
        params: Decoding,
        author: str | None,
        use_rag: bool,
        k: int,
    ) -> tuple[AsyncIterator[str | Finished], list[dict]]:
        """Retrieval, then the primed stream; returns the stream and the citations."""
        chosen = services.backend_for(model)
        twin_author = await run_in_threadpool(chosen.author, model)
        result = (
            await services.context(question, k=k, author=author, default_author=twin_author)
            if use_rag
            else None
        )
        events = await primed_stream(
            question, history, model=model, params=params, result=result, twin_author=twin_author
        )
        citations = [c.model_dump() for c in result.citations] if result is not None else []
        return events, citations

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        responses={
            400: {"description": "bad request"},
            401: {"description": "no key"},
            404: {"description": "unknown model"},
        },
    )
    async def chat_completions(body: ChatCompletionRequest) -> Response:
        """OpenAI chat completions, streamed (``stream: true``, server-sent events) or whole.

        The last user message is the question; earlier user/assistant turns are history; the
        twin's own system prompt replaces the client's. ``citations`` (title, link, author) come
        in the first chunk, or beside ``choices`` in a whole answer: clients ignore the field.
        """
        total = sum(len(m.text) for m in body.messages)
        if total > options.max_prompt_chars:
            raise APIError(
                400,
                f"the messages hold {total} characters; at most {options.max_prompt_chars} are accepted",
                param="messages",
                code="context_length_exceeded",
            )
        params = services.params(
            body.answer_tokens, temperature=body.temperature, top_p=body.top_p, stop=body.stop, seed=body.seed
        )
        turns = [
            {"role": m.role, "content": m.text} for m in body.messages if m.role in ("user", "assistant")
        ]
        last = max(i for i, m in enumerate(turns) if m["role"] == "user")
        question, history = turns[last]["content"], turns[:last]
        events, citations = await start_answer(
            question,
            history,
            model=body.model,
            params=params,
            author=body.author,
            use_rag=body.rag,
            k=options.rag_k,
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.stream:
            pieces: list[str] = []
            finished = Finished("stop", 0, 0)
            async for event in events:
                if isinstance(event, Finished):
                    finished = event
                else:
                    pieces.append(event)
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": body.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(pieces)},
                            "logprobs": None,
                            "finish_reason": finished.reason,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": finished.prompt_tokens,
                        "completion_tokens": finished.completion_tokens,
                        "total_tokens": finished.prompt_tokens + finished.completion_tokens,
                    },
                    "citations": citations,
                }
            )
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def sse() -> AsyncIterator[str]:
            yield _chunk(
                completion_id,
                created,
                body.model,
                {"role": "assistant", "content": ""},
                None,
                citations=citations,
            )
            try:
                async for event in events:
                    if isinstance(event, Finished):
                        yield _chunk(completion_id, created, body.model, {}, event.reason)
                        if include_usage:
                            usage = {
                                "prompt_tokens": event.prompt_tokens,
                                "completion_tokens": event.completion_tokens,
                                "total_tokens": event.prompt_tokens + event.completion_tokens,
                            }
                            payload = {
                                "id": completion_id,
                                "object": "chat.completion.chunk",
                                "created": created,
                                "model": body.model,
                                "choices": [],
                                "usage": usage,
                            }
                            yield f"data: {json.dumps(payload)}\n\n"
                    elif event:
                        yield _chunk(completion_id, created, body.model, {"content": event}, None)
            except APIError as exc:
                yield sse_error(exc.message, status=exc.status, code=exc.code)
            except Exception as exc:  # the stream has started: the error goes in an event
                logger.exception("stream failed")
                yield sse_error(f"generation failed: {type(exc).__name__}: {exc}")
            yield "data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # -- /rag ------------------------------------------------------------------------

    @app.post("/rag", tags=["rag"], response_model=RagResponse)
    async def rag_endpoint(body: RagRequest) -> RagResponse:
        """The context for ``query`` (title, link, author, score, content) and, unless ``generate`` is false, the twin's answer."""
        model = TWIN_MODEL_ID
        twin_author = await run_in_threadpool(services.backend.author, model)
        result = await services.context(body.query, k=body.k, author=body.author, default_author=twin_author)
        chunks = result.chunks if result is not None else []
        answer = None
        if body.generate:
            params = services.params(body.max_tokens, temperature=None, top_p=None, stop=None, seed=None)
            events = await primed_stream(
                body.query, [], model=model, params=params, result=result, twin_author=twin_author
            )
            answer = "".join([event async for event in events if isinstance(event, str)])
        return RagResponse(
            answer=answer,
            author=result.author if result is not None else body.author,
            queries=result.queries if result is not None else [body.query],
            context=[
                ContextItem(
                    title=c.title, link=c.link, author=c.author_full_name, score=c.score, content=c.content
                )
                for c in chunks
            ],
        )

    # -- suggestions -----------------------------------------------------------------

    @app.get("/v1/suggestions", tags=["rag"])
    async def suggestions(
        author: str | None = Query(default=None, max_length=200), n: int = Query(default=5, ge=1, le=50)
    ) -> dict[str, Any]:
        """``n`` questions the corpus can answer (of ``author``, or of every author in turn)."""
        found = await run_in_threadpool(services.rag.suggestions, author=author, n=n) if services.rag else []
        return {"object": "list", "author": author, "data": found}

    # -- Poe -------------------------------------------------------------------------

    from llm_engineering.serving.poe import TwinPoeBot, parse_poe_request

    async def poe_answer(question: str, history: list[dict[str, str]]):
        params = services.params(None, temperature=None, top_p=None, stop=None, seed=None)
        events, citations = await start_answer(
            question, history, model=TWIN_MODEL_ID, params=params, author=None, use_rag=True, k=options.rag_k
        )
        return events, citations

    async def poe_suggest(n: int) -> list[str]:
        return await run_in_threadpool(services.rag.suggestions, author=None, n=n) if services.rag else []

    bot = TwinPoeBot(
        answer=poe_answer,
        suggest=poe_suggest,
        introduction="Ask me anything about what I wrote.",
        access_key=poe_key,
    )

    @app.post("/poe", tags=["poe"])
    async def poe(request: Request) -> Response:
        """The Poe server-bot protocol (query, settings, report_feedback, report_reaction, report_error)."""
        import fastapi_poe as fp
        from sse_starlette.sse import EventSourceResponse

        try:
            parsed = parse_poe_request(await request.json())
        except ValueError as exc:  # also json.JSONDecodeError and pydantic's ValidationError
            raise APIError(400, f"not a Poe request: {str(exc).splitlines()[0]}") from exc
        context = fp.RequestContext(http_request=request)
        if isinstance(parsed, fp.QueryRequest):
            return EventSourceResponse(bot.handle_query(parsed, context))
        if isinstance(parsed, fp.SettingsRequest):
            return await bot.handle_settings(parsed, context)
        if isinstance(parsed, fp.ReportFeedbackRequest):
            return await bot.handle_report_feedback(parsed, context)
        if isinstance(parsed, fp.ReportReactionRequest):
            return await bot.handle_report_reaction(parsed, context)
        return await bot.handle_report_error(parsed, context)

    # -- control API -----------------------------------------------------------------

    def runs() -> PipelineRuns:
        if services.runs is None:
            raise APIError(404, "the control API is off in this server")
        return services.runs

    @app.post("/v1/pipelines/{name}/runs", tags=["control"], status_code=201)
    async def start_run(name: str, body: PipelineRunRequest | None = None) -> dict[str, Any]:
        """Validate the config and start the pipeline outside the server; returns the run's id."""
        body = body or PipelineRunRequest()
        run = await run_in_threadpool(runs().start, name, config=body.config, overrides=body.overrides)
        return run.to_json()

    @app.get("/v1/pipelines/runs/{run_id}", tags=["control"])
    async def get_run(run_id: str) -> dict[str, Any]:
        """The run's process status and ZenML's status, steps and metadata."""
        return await run_in_threadpool(runs().describe, run_id)

    @app.get("/v1/pipelines/runs/{run_id}/logs", tags=["control"])
    async def run_logs(run_id: str) -> StreamingResponse:
        """The run's output, streamed as it is written, until the run ends."""
        runs().get(run_id)
        return StreamingResponse(runs().follow_log(run_id), media_type="text/plain; charset=utf-8")

    @app.post("/v1/pipelines/runs/{run_id}/cancel", tags=["control"])
    async def cancel_run(run_id: str) -> dict[str, Any]:
        """Stop the run (SIGTERM to its process group, SIGKILL after 10 s)."""
        run = await run_in_threadpool(runs().cancel, run_id)
        return run.to_json()

    # -- chat page -------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        path = STATIC_DIR / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise APIError(404, f"no static file {name!r}")
        return FileResponse(path)

    return app
