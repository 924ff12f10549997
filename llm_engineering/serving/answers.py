"""One answer of the twin, as every route asks for it: admitted, retrieved, prompted, primed, bounded in time.

:func:`start_answer` takes a slot of the admission bound (429 when full), retrieves the
context, builds the twin's prompt (the client's system messages appended to the twin's own
system prompt), fits the passages into the model's context and primes the backend's stream,
so errors before the first token are HTTP errors. The :class:`AnswerStream` it returns
enforces the request's deadline (504) and, when closed, closes the backend's stream (the
local twin cancels its ticket) and frees the slot: every consumer closes it in ``finally``.
:func:`collect` reads a whole answer and stops decoding when its client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from llm_engineering.domain.chat import build_messages
from llm_engineering.domain.decoding import Decoding
from llm_engineering.serving.backends import Finished
from llm_engineering.serving.deps import Services, Slot
from llm_engineering.serving.errors import APIError


class ClientGone(Exception):
    """The client closed its connection before the answer was whole."""


class AnswerStream:
    """The answer's text pieces, then one :class:`Finished`; close it when done (idempotent).

    Attributes:
        citations: the retrieved sources (title, link, author, ...).
        author: whose writing was searched.
        queries: the retrieval's queries.
        chunks: the retrieved chunks.
    """

    def __init__(
        self,
        first: str | Finished,
        events: AsyncIterator[str | Finished],
        *,
        slot: Slot,
        deadline: float,
        timeout: float,
        result: Any,
    ) -> None:
        self._first: str | Finished | None = first
        self._events = events
        self._slot = slot
        self._deadline = deadline
        self._timeout = timeout
        self._done = isinstance(first, Finished)
        self.result = result
        self.citations = [c.model_dump() for c in result.citations] if result is not None else []

    def __aiter__(self) -> AnswerStream:
        return self

    async def __anext__(self) -> str | Finished:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if self._done:
            raise StopAsyncIteration
        try:
            async with asyncio.timeout_at(self._deadline):
                event = await self._events.__anext__()
        except TimeoutError as exc:
            await self.aclose()
            raise APIError(
                504, f"the answer took longer than {self._timeout:g} s and was stopped", code="timeout"
            ) from exc
        except StopAsyncIteration:
            self._done = True
            raise
        if isinstance(event, Finished):
            self._done = True
        return event

    async def aclose(self) -> None:
        """Stop decoding (the backend's stream is closed) and free the admission slot."""
        self._done = True
        try:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self._slot.release()


async def start_answer(
    services: Services,
    question: str,
    history: list[dict[str, str]],
    *,
    model: str,
    decoding: Decoding,
    author: str | None,
    use_rag: bool,
    k: int,
    client_system: str = "",
) -> AnswerStream:
    """Admit, retrieve, prompt and prime one answer (see the module doc).

    Raises:
        APIError: 429 queue full, 404 unknown model, 504 too slow, or the backend's own errors.
    """
    slot = services.admission.enter()
    loop = asyncio.get_running_loop()
    timeout = services.options.request_timeout
    deadline = loop.time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            chosen = await services.backend_for(model)
            twin_author = await run_in_threadpool(chosen.author, model)
            result = None
            if use_rag and services.rag is not None:
                result = await run_in_threadpool(
                    services.rag.retrieve, question, k=k, author=author, default_author=twin_author
                )
            chunks = result.chunks if result is not None else []
            who = (result.author if result is not None else None) or twin_author
            passages = [chunk.content for chunk in chunks]

            def prompt() -> list[dict[str, str]]:
                messages = build_messages(question, author=who, context=passages, history=history)
                if client_system:  # honoured: appended to the twin's own system prompt
                    messages[0] = {
                        "role": "system",
                        "content": f"{messages[0]['content']}\n\n{client_system}",
                    }
                return messages

            messages = prompt()
            # Retrieved passages fill what the model's context leaves: the lowest-ranked go first.
            while passages and ((await chosen.room(model, messages, decoding.max_new_tokens)) or 0) < 0:
                passages.pop()
                messages = prompt()
            if chosen.kind == "echo":  # echo answers with the user's own message, not the augmented prompt
                messages = [*messages[:-1], {"role": "user", "content": question}]
            events = chosen.stream(model, messages, decoding)
            try:
                first = await events.__anext__()
            except StopAsyncIteration:
                first = Finished("stop", 0, 0)
            except BaseException:
                with contextlib.suppress(Exception):
                    await events.aclose()
                raise
    except TimeoutError as exc:
        slot.release()
        raise APIError(504, f"the answer did not start within {timeout:g} s", code="timeout") from exc
    except BaseException:
        slot.release()
        raise
    return AnswerStream(first, events, slot=slot, deadline=deadline, timeout=timeout, result=result)


async def collect(answer: AnswerStream, *, request: Request | None = None) -> tuple[str, Finished]:
    """The whole answer and how it ended; the answer is closed (decoding stops) when the client goes.

    Raises:
        ClientGone: ``request``'s client disconnected first.
        APIError: the deadline passed (504) or the backend failed.
    """

    async def drain() -> tuple[str, Finished]:
        pieces: list[str] = []
        finished = Finished("stop", 0, 0)
        async for event in answer:
            if isinstance(event, Finished):
                finished = event
            else:
                pieces.append(event)
        return "".join(pieces), finished

    task = asyncio.ensure_future(drain())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.25)
            if done:
                return task.result()
            if request is not None and await request.is_disconnected():
                raise ClientGone()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await answer.aclose()
