"""Generation backends: the local twin, an OpenAI-compatible upstream, and ``echo``.

Every backend streams: :meth:`Backend.stream` is an async iterator of text pieces ending
with one :class:`~llm_engineering.serving.batching.Finished`. Blocking work (loading a
model, decoding) never runs on the event loop: the local twin decodes in its scheduler's
thread and hands pieces over with ``call_soon_threadsafe``; loading runs in a thread.

- :class:`EchoBackend` returns the last user message, word by word (for tests and demos).
- :class:`OpenAIBackend` forwards to any OpenAI-compatible server (vLLM, TGI, Ollama,
  llama.cpp's server) with the ``openai`` SDK, streamed.
- :class:`LocalTwinBackend` serves the registry's production version (or a folder, or a
  named version) with :func:`~llm_engineering.model.generation.load_generator` (ONNX Runtime
  GenAI on the CPU unless ``TWIN_RUNTIME=transformers``), and swaps in a newly promoted version
  without a restart: every request compares the registry's production stamp with the one it
  loaded; the old model finishes its answers in flight, then its thread stops and frees it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.generation import TextGenerator
from llm_engineering.model.registry import ModelRegistry, UnknownModelVersion
from llm_engineering.model.runtimes.rows import Finished
from llm_engineering.model.runtimes.scheduler import SchedulerClosed
from llm_engineering.serving.errors import APIError

logger = logging.getLogger(__name__)

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


class OpenAIBackend:
    """Any OpenAI-compatible server, streamed through the ``openai`` SDK.

    Args:
        base_url: the server's API root (``http://host:8000/v1``).
        api_key: its key (any string for servers without one).
        model_id: the model to ask for there; this server lists it under the same id.
        author: whose twin the upstream model is.
        timeout: seconds per request.
    """

    kind = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model_id: str,
        author: str | None = None,
        timeout: float = 120,
    ) -> None:
        self.base_url, self.model_id, self._author = base_url, model_id, author
        self._api_key = api_key or "none"
        self._timeout = timeout
        self._client: Any = None

    def models(self) -> list[ModelCard]:
        return [
            ModelCard(TWIN_MODEL_ID, "llm-twin", f"{self.model_id} at {self.base_url}"),
            ModelCard(self.model_id, "upstream", f"served by {self.base_url}"),
        ]

    def author(self, model: str) -> str | None:
        return self._author

    def status(self) -> tuple[bool, str]:
        return True, f"OpenAI-compatible upstream {self.base_url} ({self.model_id})"

    async def start(self) -> None:
        from openai import AsyncOpenAI

        self._client = AsyncOpenAI(
            base_url=self.base_url, api_key=self._api_key, timeout=self._timeout, max_retries=1
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def room(self, model: str, messages: list[dict[str, str]], max_tokens: int) -> int | None:
        return None  # the upstream server knows its own window and refuses what does not fit

    async def stream(
        self, model: str, messages: list[dict[str, str]], params: Decoding
    ) -> AsyncIterator[str | Finished]:
        import openai

        if self._client is None:
            await self.start()
        kwargs: dict[str, Any] = {
            "model": self.model_id,
            "messages": messages,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if params.seed is not None:
            kwargs["seed"] = params.seed
        reason, usage, pieces = "stop", None, 0
        try:
            stream = await self._client.chat.completions.create(**kwargs)
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        pieces += 1
                        yield choice.delta.content
                    if choice.finish_reason:
                        reason = "length" if choice.finish_reason == "length" else "stop"
        except openai.APIStatusError as exc:
            raise APIError(
                502, f"the upstream model server answered {exc.status_code}: {exc.message}"
            ) from exc
        except openai.APIError as exc:
            raise APIError(502, f"the upstream model server failed: {exc}") from exc
        yield Finished(
            reason,  # type: ignore[arg-type]
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else pieces,
        )


@dataclass
class _Loaded:
    name: str
    folder: Path
    author: str | None
    stamp: float | None
    generator: TextGenerator

    @property
    def max_positions(self) -> int:
        return self.generator.max_positions

    @property
    def scheduler(self) -> Any:
        return self.generator.scheduler

    def close(self) -> None:
        self.generator.close(wait=False)  # finishes the answers in flight, then frees the model


class LocalTwinBackend:
    """The twin in this process: a registry version or a folder, decoded by the batching scheduler.

    Args:
        registry: the model registry (``STATE_DIR/models``).
        twin_model: a model folder or a version name to serve as ``llm-twin``; None: the
            production version (followed across promotions), else the newest version, else
            ``fallback_folder``.
        fallback_folder: called for a folder when the registry holds nothing (the packaged base model).
        max_batch: requests decoded together.
        dtype: precision: ``int8``/``int4``/``fp32`` for onnx, a torch dtype name for transformers (None: the
            runtime's default, int8 / float32).
        runtime: ``onnx`` or ``transformers`` (None: ``TWIN_RUNTIME``, else onnx on the CPU).
    """

    kind = "local"

    def __init__(
        self,
        *,
        registry: ModelRegistry,
        twin_model: str | None = None,
        fallback_folder: Any = None,
        max_batch: int = 16,
        dtype: str | None = None,
        runtime: str | None = None,
    ) -> None:
        from llm_engineering.model.generation import resolve_runtime

        self.runtime = resolve_runtime(runtime)
        self.registry = registry
        self.twin_model = twin_model
        self.fallback_folder = fallback_folder
        self.max_batch = max_batch
        self.dtype = dtype
        self.reloads = 0
        self._loaded: dict[str, _Loaded] = {}  # model id -> loaded twin ("llm-twin" or a version name)
        self._loading: dict[str, asyncio.Future] = {}
        self._lock = threading.Lock()
        self.last_error: str | None = None

    # -- which model -----------------------------------------------------------------

    def _target(self, model: str) -> tuple[str, Path, str | None, float | None]:
        """``(name, folder, author, stamp)`` of what ``model`` means now."""
        if model != TWIN_MODEL_ID:
            version = self.registry.get(model)
            return version.name, Path(version.folder), version.author, None
        if self.twin_model:
            folder = Path(self.twin_model)
            if folder.is_dir():
                return folder.name, folder, None, None
            version = self.registry.get(self.twin_model)
            return version.name, Path(version.folder), version.author, None
        stamp = self.registry.production_stamp()
        version = self.registry.default_version()  # the pick order the CLI shares
        if version is not None:
            return version.name, Path(version.folder), version.author, stamp
        if self.fallback_folder is None:
            raise APIError(
                503, "no model to serve: train one (`poe run-training-pipeline`) or set TWIN_MODEL"
            )
        folder = Path(self.fallback_folder())
        return folder.name, folder, None, stamp

    def models(self) -> list[ModelCard]:
        cards = [ModelCard(TWIN_MODEL_ID, "llm-twin", "the production twin (or TWIN_MODEL)")]
        for version in self.registry.versions():
            cards.append(
                ModelCard(version.name, "llm-twin", f"{version.stage} version, {version.created_at}")
            )
        return cards

    def author(self, model: str) -> str | None:
        loaded = self._loaded.get(model)
        if loaded is not None:
            return loaded.author
        try:
            return self._target(model)[2]
        except (UnknownModelVersion, APIError, OSError):
            return None

    def status(self) -> tuple[bool, str]:
        loaded = self._loaded.get(TWIN_MODEL_ID)
        if loaded is None:
            return False, self.last_error or "the twin model is loading"
        return True, f"{loaded.name} loaded from {loaded.folder}"

    # -- loading ---------------------------------------------------------------------

    def _load(self, model: str) -> _Loaded:
        from llm_engineering.model.generation import load_generator

        name, folder, author, stamp = self._target(model)
        if not (folder / "config.json").is_file():
            raise APIError(503, f"model {name} has no weights at {folder}")
        with MODEL_LOADING:
            generator = load_generator(
                folder, runtime=self.runtime, dtype=self.dtype, max_batch=self.max_batch
            )
        logger.info("loaded %s from %s (%s)", name, folder, self.runtime)
        return _Loaded(name, folder, author, stamp, generator)

    async def _get(self, model: str) -> _Loaded:
        loaded = self._loaded.get(model)
        follows_production = model == TWIN_MODEL_ID and not self.twin_model
        if loaded is not None and not (
            follows_production and loaded.stamp != await asyncio.to_thread(self.registry.production_stamp)
        ):
            return loaded
        pending = self._loading.get(model)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(self._load, model))
            self._loading[model] = pending
            try:
                fresh = await pending
            except UnknownModelVersion as exc:
                raise APIError(404, str(exc), param="model", code="model_not_found") from exc
            except APIError:
                raise
            except Exception as exc:
                self.last_error = f"loading {model} failed: {exc}"
                raise APIError(503, self.last_error) from exc
            finally:
                self._loading.pop(model, None)
            old = self._loaded.get(model)
            self._loaded[model] = fresh
            if old is not None:
                self.reloads += 1
                old.close()
            self._evict(keep=model)
            return fresh
        return await asyncio.shield(pending) if loaded is None else loaded

    def _evict(self, *, keep: str) -> None:
        extra = [m for m in self._loaded if m not in (keep, TWIN_MODEL_ID)]
        for model in extra[:-1]:  # at most one named version besides the twin
            self._loaded.pop(model).close()

    async def start(self) -> None:
        try:
            await self._get(TWIN_MODEL_ID)
        except APIError as exc:
            self.last_error = exc.message
            logger.warning("twin not loaded at start: %s", exc.message)

    async def close(self) -> None:
        for loaded in self._loaded.values():
            loaded.close()
        self._loaded.clear()

    # -- generation ------------------------------------------------------------------

    async def room(self, model: str, messages: list[dict[str, str]], max_tokens: int) -> int | None:
        loaded = await self._get(model)
        prompt_ids = await asyncio.to_thread(loaded.generator.prompt_ids, messages)
        return loaded.max_positions - len(prompt_ids) - max_tokens

    async def stream(
        self, model: str, messages: list[dict[str, str]], params: Decoding
    ) -> AsyncIterator[str | Finished]:
        loaded = await self._get(model)
        prompt_ids = await asyncio.to_thread(loaded.generator.prompt_ids, messages)
        if len(prompt_ids) + params.max_new_tokens > loaded.max_positions:
            raise APIError(
                400,
                f"the prompt ({len(prompt_ids)} tokens) plus max_tokens ({params.max_new_tokens}) exceeds the "
                f"model's context of {loaded.max_positions} tokens",
                param="messages",
                code="context_length_exceeded",
            )
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        try:
            ticket = loaded.generator.submit(
                prompt_ids, params, lambda event: loop.call_soon_threadsafe(events.put_nowait, event)
            )
        except SchedulerClosed:  # swapped out between lookup and submit: take the new model
            loaded = await self._get(model)
            ticket = loaded.generator.submit(
                prompt_ids, params, lambda event: loop.call_soon_threadsafe(events.put_nowait, event)
            )
        try:
            while True:
                event = await events.get()
                if isinstance(event, BaseException):
                    raise APIError(500, f"generation failed: {event}")
                yield event
                if isinstance(event, Finished):
                    return
        finally:
            ticket.cancel()  # a client that went away frees its row at the next step
