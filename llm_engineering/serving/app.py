"""The FastAPI app of the twin: OpenAI-compatible chat, /rag, Poe, suggestions, control API, chat page.

:func:`create_app` only assembles: the services container (``serving/deps.py``), one router per
resource (``serving/routers/``), the error handlers and the auth/body guard. It does no I/O:
the embedding model, the store snapshots and the twin model are loaded by the app's start-up
(in threads, in the background), and ``/ready`` says when they are there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_engineering.serving import routers
from llm_engineering.serving.backends import Backend
from llm_engineering.serving.control import PipelineCommand, PipelineEntryLike, PipelineRuns, RunInspector
from llm_engineering.serving.deps import GuardMiddleware, Services, ServingOptions, build_backend
from llm_engineering.serving.errors import (
    APIError,
    api_error_handler,
    http_error_handler,
    unexpected_error_handler,
    validation_error_handler,
)
from llm_engineering.serving.rag import RagService
from llm_engineering.settings import PROJECT_ROOT, Settings

__all__ = ["ServingOptions", "build_backend", "create_app"]

logger = logging.getLogger(__name__)

CONTROL_OFF = (
    "the control API is off: it needs an API key (SERVING_API_KEY) or SERVING_CONTROL_API=true on the server"
)


def _import_model_libraries(services: Services) -> None:
    if services.backend.kind == "local":
        import transformers

        _ = transformers.AutoModelForCausalLM, transformers.AutoTokenizer
    if services.rag is not None:
        import sentence_transformers  # noqa: F401


def _runs(
    settings: Settings,
    pipelines: Mapping[str, PipelineEntryLike] | None,
    *,
    run_command: PipelineCommand | None,
    api_key: str | None,
    project_root: Path,
    run_inspector: RunInspector | None,
) -> tuple[PipelineRuns | None, str]:
    """The control API's runs, or None with the reason it is off."""
    if pipelines is None or run_command is None:
        return None, "the control API is off in this server"
    if not api_key and not settings.serving_control_api:
        logger.warning(CONTROL_OFF)
        return None, CONTROL_OFF
    runs = PipelineRuns(
        pipelines,
        command=run_command,
        project_root=project_root,
        runs_dir=settings.state_dir / "serving" / "runs",
        inspector=run_inspector,
        allow_publishing=settings.serving_allow_publishing,
    )
    return runs, ""


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    rag: RagService | None | bool = True,
    pipelines: Mapping[str, PipelineEntryLike] | None = None,
    run_command: PipelineCommand | None = None,
    run_inspector: RunInspector | None = None,
    options: ServingOptions | None = None,
    project_root: Path = PROJECT_ROOT,
) -> FastAPI:
    """The service's app; nothing is loaded or opened until it starts.

    Args:
        settings: endpoints, keys, state folder, backend choice, queue bound, timeout.
        backend: the generator (default: the one ``settings.twin_backend`` names).
        rag: the retrieval service; True (default) builds one from the settings; None/False: no retrieval.
        pipelines: the ``tools/run.py`` table for the control API (None: no control API). The
            control API is on only with ``SERVING_API_KEY`` set or ``SERVING_CONTROL_API=true``.
        run_command: the command line of a pipeline run (``tools/commands.py``'s
            ``pipeline_command``; None: no control API).
        run_inspector: ZenML's view of a run for ``GET /v1/pipelines/runs/{id}``.
        options: limits and defaults (default: :meth:`ServingOptions.from_settings`).
        project_root: where pipeline runs start.
    """
    options = options or ServingOptions.from_settings(settings)
    backend = backend or build_backend(settings)
    if rag is True:
        rag = RagService(settings, check_seconds=options.snapshot_check_seconds)
    api_key = settings.serving_api_key.get_secret_value() if settings.serving_api_key else None
    poe_key = settings.poe_access_key.get_secret_value() if settings.poe_access_key else None
    runs, runs_off = _runs(
        settings,
        pipelines,
        run_command=run_command,
        api_key=api_key,
        project_root=project_root,
        run_inspector=run_inspector,
    )
    services = Services(
        settings, backend=backend, rag=rag or None, runs=runs, options=options, runs_off=runs_off
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Import the heavy libraries once, in one thread: transformers' lazy modules are not safe
        # to import from two threads at once.
        await asyncio.to_thread(_import_model_libraries, services)

        async def start_all() -> None:
            # One after the other: transformers' loading uses process-wide state (meta-device
            # initialisation), so two models loading in two threads at once corrupt each other.
            if services.rag is not None:
                try:
                    await asyncio.to_thread(services.rag.start)
                except Exception:
                    logger.exception("retrieval failed to start")
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
        version="0.2.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_exception_handler(APIError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
    app.add_middleware(
        GuardMiddleware, api_key=api_key, poe_key=poe_key, max_body_bytes=options.max_body_bytes
    )
    for module in (
        routers.health,
        routers.openai,
        routers.rag,
        routers.suggestions,
        routers.poe,
        routers.pipelines,
        routers.page,
    ):
        app.include_router(module.router)
    return app
