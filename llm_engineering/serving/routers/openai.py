"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions`` (whole or streamed)."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm_engineering.serving.answers import AnswerStream, ClientGone, collect, start_answer
from llm_engineering.serving.backends import TWIN_MODEL_ID, Finished, ModelCard
from llm_engineering.serving.deps import ServicesDep
from llm_engineering.serving.errors import APIError, sse_error
from llm_engineering.serving.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Citation,
    Delta,
    ErrorBody,
    ModelCardOut,
    ModelList,
    Usage,
)

logger = logging.getLogger(__name__)

router = APIRouter(tags=["openai"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "bad request"),
        (401, "no key"),
        (404, "unknown model"),
        (429, "queue full (see Retry-After)"),
        (504, "the answer took too long"),
    )
}


class EventStream(StreamingResponse):
    """Server-sent events that stop decoding when the client goes, whatever the ASGI version.

    The body is streamed while the client's disconnect is watched; either ending cancels the
    other, and ``on_close`` (closing the answer: the backend's stream and the admission slot)
    always runs, even when the body never started.
    """

    def __init__(self, content: AsyncIterator[str], *, on_close: Callable[[], Any]) -> None:
        super().__init__(content, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self.on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with contextlib.suppress(OSError):  # the client went away mid-send
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                group.start_soon(watch)
        finally:
            with anyio.CancelScope(shield=True):
                close = getattr(self.body_iterator, "aclose", None)
                if close is not None:
                    await close()
                await self.on_close()


@router.get("/v1/models", response_model=ModelList)
async def models(services: ServicesDep) -> ModelList:
    """The twin (``llm-twin``), its registry versions (base, sft, dpo) and ``echo``."""
    cards = await run_in_threadpool(services.backend.models)
    if services.backend is not services.echo:
        cards += services.echo.models()
    if not any(card.id == TWIN_MODEL_ID for card in cards):  # TWIN_BACKEND=echo: the twin is echo
        cards.insert(0, ModelCard(TWIN_MODEL_ID, "llm-twin", f"the {services.backend.kind} backend"))
    created = int(services.started_at)
    return ModelList(
        data=[
            ModelCardOut(id=c.id, created=created, owned_by=c.owned_by, description=c.description)
            for c in cards
        ]
    )


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(body: ChatCompletionRequest, services: ServicesDep, request: Request) -> Response:
    """OpenAI chat completions, streamed (``stream: true``, server-sent events) or whole.

    The last user message is the question; earlier user/assistant turns are history; the
    client's system (and developer) messages are appended to the twin's own system prompt.
    Decoding is the server's default with the fields the request names (``temperature``,
    ``top_p``, ``max_tokens``, ``stop``, ``seed``, ``frequency_penalty``, ``presence_penalty``,
    and the extensions ``repetition_penalty`` and ``no_repeat_ngram_size``). ``citations``
    (title, link, author) come in the first chunk, or beside ``choices`` in a whole answer.
    """
    options = services.options
    total = sum(len(m.text) for m in body.messages)
    if total > options.max_prompt_chars:
        raise APIError(
            400,
            f"the messages hold {total} characters; at most {options.max_prompt_chars} are accepted",
            param="messages",
            code="context_length_exceeded",
        )
    decoding = services.decoding(body.decoding_overrides())
    turns = [{"role": m.role, "content": m.text} for m in body.messages if m.role in ("user", "assistant")]
    last = max(i for i, m in enumerate(turns) if m["role"] == "user")
    answer = await start_answer(
        services,
        turns[last]["content"],
        turns[:last],
        model=body.model,
        decoding=decoding,
        author=body.author,
        use_rag=body.rag,
        k=options.rag_k,
        client_system=body.client_system,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    citations = [Citation.model_validate(c) for c in answer.citations]
    if not body.stream:
        try:
            text, finished = await collect(answer, request=request)
        except ClientGone:
            return Response(status_code=499)  # nobody reads it; decoding has stopped
        completion = ChatCompletion(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[Choice(message=AssistantMessage(content=text), finish_reason=finished.reason)],
            usage=Usage.of(finished.prompt_tokens, finished.completion_tokens),
            citations=citations,
        )
        return Response(completion.model_dump_json(), media_type="application/json")
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return EventStream(
        _events(answer, completion_id, created, body.model, citations, include_usage),
        on_close=answer.aclose,
    )


async def _events(
    answer: AnswerStream,
    completion_id: str,
    created: int,
    model: str,
    citations: list[Citation],
    include_usage: bool,
) -> AsyncIterator[str]:
    """The answer as ``chat.completion.chunk`` events, an error event if it fails midway, then ``[DONE]``."""

    def chunk(delta: Delta, finish: str | None = None, **extra: Any) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            **extra,
        )

    yield chunk(Delta(role="assistant", content=""), citations=citations).sse()
    try:
        async for event in answer:
            if isinstance(event, Finished):
                yield chunk(Delta(), event.reason).sse()
                if include_usage:
                    usage = Usage.of(event.prompt_tokens, event.completion_tokens)
                    yield ChatCompletionChunk(
                        id=completion_id, created=created, model=model, choices=[], usage=usage
                    ).sse()
            elif event:
                yield chunk(Delta(content=event)).sse()
    except APIError as exc:
        yield sse_error(exc.message, status=exc.status, code=exc.code)
    except Exception:  # the stream has started: the error goes in an event, its details in the log
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        logger.exception("stream %s of %s failed (request %s)", completion_id, model, request_id)
        yield sse_error(
            f"generation failed (request id {request_id}; the log has the details)", code="internal_error"
        )
    yield "data: [DONE]\n\n"
