"""Suggested questions the corpus can answer."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from llm_engineering.serving.deps import ServicesDep
from llm_engineering.serving.schemas import SuggestionList

router = APIRouter(tags=["rag"])


@router.get("/v1/suggestions", response_model=SuggestionList)
async def suggestions(
    services: ServicesDep,
    author: str | None = Query(default=None, max_length=200),
    n: int = Query(default=5, ge=1, le=50),
) -> SuggestionList:
    """``n`` questions the corpus can answer (of ``author``, or of every author in turn); each names its topic."""
    found = (
        await run_in_threadpool(services.rag.suggestions, author=author, n=n)
        if services.rag is not None
        else []
    )
    return SuggestionList(author=author, data=found)
