"""``POST /rag``: the retrieved context and, unless ``generate`` is false, the twin's answer from it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from llm_engineering.serving.answers import ClientGone, collect, start_answer
from llm_engineering.serving.backends import TWIN_MODEL_ID
from llm_engineering.serving.deps import ServicesDep
from llm_engineering.serving.schemas import ContextItem, ErrorBody, RagRequest, RagResponse

router = APIRouter(tags=["rag"])


def _items(chunks) -> list[ContextItem]:
    return [
        ContextItem(title=c.title, link=c.link, author=c.author_full_name, score=c.score, content=c.content)
        for c in chunks
    ]


@router.post(
    "/rag",
    response_model=RagResponse,
    responses={429: {"model": ErrorBody}, 504: {"model": ErrorBody}},
)
async def rag_endpoint(body: RagRequest, services: ServicesDep, request: Request) -> RagResponse | Response:
    """The context for ``query`` (title, link, author, score, content) and, unless ``generate`` is false,
    the twin's answer, decoded with the server's default decoding (``max_tokens`` aside)."""
    if not body.generate:
        twin_author = await run_in_threadpool(services.backend.author, TWIN_MODEL_ID)
        result = (
            await run_in_threadpool(
                services.rag.retrieve, body.query, k=body.k, author=body.author, default_author=twin_author
            )
            if services.rag is not None
            else None
        )
        return RagResponse(
            answer=None,
            author=result.author if result is not None else body.author,
            queries=result.queries if result is not None else [body.query],
            context=_items(result.chunks if result is not None else []),
        )
    overrides = {"max_new_tokens": body.max_tokens} if body.max_tokens else {}
    answer = await start_answer(
        services,
        body.query,
        [],
        model=TWIN_MODEL_ID,
        decoding=services.decoding(overrides),
        author=body.author,
        use_rag=True,
        k=body.k,
    )
    try:
        text, _ = await collect(answer, request=request)
    except ClientGone:
        return Response(status_code=499)
    result = answer.result
    return RagResponse(
        answer=text,
        author=result.author if result is not None else body.author,
        queries=result.queries if result is not None else [body.query],
        context=_items(result.chunks if result is not None else []),
    )
