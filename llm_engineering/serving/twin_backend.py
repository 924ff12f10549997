"""The local twin backend: the twin decoded in this process by the batching scheduler.

:class:`LocalTwinBackend` serves the registry's production version (or a folder, or a named
version) with :func:`~llm_engineering.model.generation.load_generator` (ONNX Runtime GenAI on the
CPU unless ``TWIN_RUNTIME=transformers``), and swaps in a newly promoted version without a
restart: every request compares the registry's production stamp with the one it loaded; the old
model finishes its answers in flight, then its thread stops and frees it. Decoding runs in the
scheduler's thread and hands pieces over with ``call_soon_threadsafe``; loading runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.generation import TextGenerator
from llm_engineering.model.registry import ModelRegistry, UnknownModelVersion
from llm_engineering.model.runtimes.rows import Finished
from llm_engineering.model.runtimes.scheduler import SchedulerClosed
from llm_engineering.serving.backends import MODEL_LOADING, TWIN_MODEL_ID, ModelCard
from llm_engineering.serving.errors import APIError

logger = logging.getLogger(__name__)


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
