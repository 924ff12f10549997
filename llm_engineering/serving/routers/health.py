"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from llm_engineering.serving.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers (no key needed)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "not ready"}})
async def ready(services: ServicesDep) -> JSONResponse:
    """Readiness: the model is loaded and the vector store has been read."""
    model_ok, model_detail = services.backend.status()
    store_ok, store_detail = services.rag.status() if services.rag is not None else (True, "retrieval off")
    ok = model_ok and store_ok
    body = {
        "status": "ready" if ok else "not ready",
        "model": {"ready": model_ok, "detail": model_detail},
        "store": {"ready": store_ok, "detail": store_detail},
        "queue": {"active": services.admission.active, "limit": services.admission.limit},
    }
    return JSONResponse(body, status_code=200 if ok else 503)
