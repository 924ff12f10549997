"""Generation backends: what the API needs from one, and ``echo``.

Every backend streams: :meth:`Backend.stream` is an async iterator of text pieces ending
with one :class:`~llm_engineering.model.runtimes.rows.Finished`. Blocking work (loading a
model, decoding) never runs on the event loop.

- :class:`EchoBackend` returns the last user message, word by word (for tests and demos).
- :class:`~llm_engineering.serving.openai_backend.OpenAIBackend` forwards to any
  OpenAI-compatible server.
- :class:`~llm_engineering.serving.twin_backend.LocalTwinBackend` serves the twin in this process.

:mod:`~llm_engineering.serving.deps` picks one from the settings.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.runtimes.rows import Finished

MODEL_LOADING = threading.Lock()
"""Held while a model loads (or exports): transformers' loading uses process-wide state, so two
loads must not overlap."""

TWIN_MODEL_ID = "llm-twin"
"""The model id that always means "the twin this server serves" (production version or folder)."""
ECHO_MODEL_ID = "echo"


@dataclass(frozen=True)
class ModelCard:
    """One entry of ``GET /v1/models``."""

    id: str
    owned_by: str
    description: str = ""


class Backend(Protocol):
    """What the API needs from a generator."""

    kind: str

    def models(self) -> list[ModelCard]: ...

    def author(self, model: str) -> str | None:
        """Whose twin ``model`` is (the default author filter of retrieval)."""
        ...

    def status(self) -> tuple[bool, str]:
        """Whether it can answer now, and why not."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def room(self, model: str, messages: list[dict[str, str]], max_tokens: int) -> int | None:
        """Tokens left in ``model``'s context after ``messages`` and ``max_tokens`` (negative: too long);
        None when the backend cannot tell (a remote server checks for itself)."""
        ...

    def stream(
        self, model: str, messages: list[dict[str, str]], params: Decoding
    ) -> AsyncIterator[str | Finished]: ...


def last_user_message(messages: Sequence[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


class EchoBackend:
    """Answers with the last user message (split into word pieces), as if generated."""

    kind = "echo"

    def models(self) -> list[ModelCard]:
        return [ModelCard(ECHO_MODEL_ID, "llm-twin", "returns the last user message (tests, demos)")]

    def author(self, model: str) -> str | None:
        return None

    def status(self) -> tuple[bool, str]:
        return True, "echo"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def room(self, model: str, messages: list[dict[str, str]], max_tokens: int) -> int | None:
        return None  # echo has no context window

    async def stream(
        self, model: str, messages: list[dict[str, str]], params: Decoding
    ) -> AsyncIterator[str | Finished]:
        text = last_user_message(messages)
        for stop in params.stop:
            if stop in text:
                text = text[: text.index(stop)]
        words = text.split(" ")
        pieces = [word if i == 0 else " " + word for i, word in enumerate(words)]
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        for i, piece in enumerate(pieces[: params.max_new_tokens]):
            yield piece
            if i % 8 == 7:
                await asyncio.sleep(0)
        reason = "length" if len(pieces) > params.max_new_tokens else "stop"
        yield Finished(reason, prompt_tokens, min(len(pieces), params.max_new_tokens))
