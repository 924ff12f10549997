"""Adapter for any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, TGI, Ollama, our own API).

Only ``POST {base_url}/chat/completions`` is used, with the fields every such server
understands (``model``, ``messages``, ``max_tokens``, ``temperature``; ``response_format``
only when ``json_mode`` is on, since not every server supports it). The SDK's client is
built on first use, never at import.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from llm_engineering.domain.llm import ChatMessage, LLMError, LLMTimeout
from llm_engineering.infrastructure.llm.base import BaseLLMClient, Generation

NO_API_KEY = "EMPTY"
"""Sent when no key is configured: local servers (vLLM, Ollama) accept any key, the SDK needs one."""


class OpenAICompatibleClient(BaseLLMClient):
    """An LLM behind an OpenAI-compatible endpoint.

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        model_id: the model name the server knows.
        api_key: the key; None sends a placeholder (local servers need none).
        timeout_seconds: how long one request may take before it is abandoned.
        request_retries: the SDK's own retries of a timed-out or failed (429, 5xx) request.
        max_concurrency: requests in flight at once (a semaphore, whatever the callers' threads).
        json_mode: ask for ``response_format={"type": "json_object"}`` in JSON calls.
        **kwargs: :class:`BaseLLMClient` options (``default_max_tokens``, ``temperature``,
            ``json_retries``, ``token_budget``).
    """

    def __init__(
        self,
        *,
        base_url: str,
        model_id: str,
        api_key: str | None = None,
        timeout_seconds: float = 60.0,
        request_retries: int = 2,
        max_concurrency: int = 4,
        json_mode: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_id=model_id, max_concurrency=max_concurrency, **kwargs)
        self.base_url = base_url
        self.timeout_seconds = timeout_seconds
        self.request_retries = request_retries
        self.json_mode = json_mode
        self._api_key = api_key or NO_API_KEY
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._client: Any = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient({self.base_url!r}, model_id={self.model_id!r})"

    @property
    def client(self) -> Any:
        """The ``openai.OpenAI`` client, built on first use."""
        with self._client_lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self._api_key,
                    timeout=self.timeout_seconds,
                    max_retries=self.request_retries,
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP connections."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _generate(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float, json_answer: bool
    ) -> Generation:
        import openai

        extra: dict[str, Any] = {}
        if self.json_mode and json_answer:
            extra["response_format"] = {"type": "json_object"}
        with self._slots:
            try:
                response = self.client.chat.completions.create(
                    model=self.model_id,
                    messages=list(messages),
                    max_tokens=max_tokens,
                    temperature=temperature,
                    **extra,
                )
            except openai.APITimeoutError as exc:
                raise LLMTimeout(
                    f"{self.base_url}: no answer from {self.model_id} within {self.timeout_seconds:g}s "
                    f"({self.request_retries + 1} attempts)"
                ) from exc
            except openai.APIStatusError as exc:
                raise LLMError(
                    f"{self.base_url}: HTTP {exc.status_code} from {self.model_id}: {exc.message}"
                ) from exc
            except openai.APIConnectionError as exc:
                raise LLMError(f"{self.base_url}: cannot reach the endpoint: {exc}") from exc
            except openai.OpenAIError as exc:
                raise LLMError(f"{self.base_url}: {exc}") from exc
        if not response.choices or response.choices[0].message is None:
            raise LLMError(f"{self.base_url}: {self.model_id} answered with no choices")
        text = response.choices[0].message.content or ""
        usage = response.usage
        return Generation(
            text=text,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )
