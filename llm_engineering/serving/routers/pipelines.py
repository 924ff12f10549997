"""The control API: start, follow, inspect and cancel pipeline runs.

Off unless the server has an API key (``SERVING_API_KEY``) or ``SERVING_CONTROL_API=true``;
every POST must be ``application/json`` (an HTML form cannot send it cross-site), and
overrides may not publish (``push_to_hub``, hub ids) unless ``SERVING_ALLOW_PUBLISHING=true``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm_engineering.serving.deps import ServicesDep, require_json
from llm_engineering.serving.schemas import ErrorBody, PipelineRunRequest

router = APIRouter(
    prefix="/v1/pipelines",
    tags=["control"],
    responses={
        403: {"model": ErrorBody, "description": "publishing not allowed"},
        404: {"model": ErrorBody, "description": "off, or unknown"},
        415: {"model": ErrorBody, "description": "not application/json"},
    },
)


@router.post("/{name}/runs", status_code=201, dependencies=[Depends(require_json)])
async def start_run(
    name: str, services: ServicesDep, body: PipelineRunRequest | None = None
) -> dict[str, Any]:
    """Validate the config and start the pipeline outside the server; returns the run's id."""
    runs = services.control()
    body = body or PipelineRunRequest()
    run = await run_in_threadpool(runs.start, name, config=body.config, overrides=body.overrides)
    return run.to_json()


@router.get("/runs/{run_id}")
async def get_run(run_id: str, services: ServicesDep) -> dict[str, Any]:
    """The run's process status and ZenML's status, steps and metadata."""
    return await run_in_threadpool(services.control().describe, run_id)


@router.get("/runs/{run_id}/logs")
async def run_logs(run_id: str, services: ServicesDep) -> StreamingResponse:
    """The run's output, streamed as it is written, until the run ends."""
    runs = services.control()
    runs.get(run_id)
    return StreamingResponse(runs.follow_log(run_id), media_type="text/plain; charset=utf-8")


@router.post("/runs/{run_id}/cancel", dependencies=[Depends(require_json)])
async def cancel_run(run_id: str, services: ServicesDep) -> dict[str, Any]:
    """Stop the run (SIGTERM to its process group, SIGKILL after 10 s)."""
    run = await run_in_threadpool(services.control().cancel, run_id)
    return run.to_json()
