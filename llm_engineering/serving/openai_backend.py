"""The OpenAI-compatible upstream backend: vLLM, TGI, Ollama or llama.cpp's server, streamed
through the ``openai`` SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.runtimes.rows import Finished
from llm_engineering.serving.backends import TWIN_MODEL_ID, ModelCard
from llm_engineering.serving.errors import APIError


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
