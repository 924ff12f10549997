"""The LLM port: what dataset generation, RAG and evaluation need from a language model,
whichever adapter serves it.

Adapters live in :mod:`llm_engineering.infrastructure.llm` (an OpenAI-compatible endpoint,
a local Hugging Face model) and are passed in by the caller; the port sits in the domain,
beside the vector store port, so no layer above it imports an adapter to name the type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, TypedDict, TypeVar

from pydantic import BaseModel

from llm_engineering.domain.exceptions import LLMTwinError

T = TypeVar("T", bound=BaseModel)

ENDPOINT_FIX = "set OPENAI_BASE_URL (and OPENAI_API_KEY, OPENAI_MODEL_ID) in the environment or .env"
"""How to configure the OpenAI-compatible endpoint, for error messages."""


class ChatMessage(TypedDict):
    """One message of a chat, as in the OpenAI chat-completions schema."""

    role: Literal["system", "user", "assistant"]
    content: str


class LLMError(LLMTwinError):
    """A call to the model failed (connection, HTTP error, empty answer)."""


class LLMTimeout(LLMError):
    """The model did not answer within the timeout (after the adapter's own retries)."""


class MalformedOutput(LLMError):
    """The model's answer was not valid JSON for the schema, even after the retries.

    Attributes:
        raw: the last answer received.
    """

    def __init__(self, message: str, *, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class BudgetExhausted(LLMError):
    """The run's overall token budget is spent; no further call is made."""


class LLMClient(Protocol):
    """A chat model: plain completions and JSON completions validated by a pydantic schema.

    Attributes:
        model_id: the model's name (endpoint model id or local path), recorded in sample sources.
        max_concurrency: how many calls may usefully run at once (1 for a local model).
    """

    model_id: str
    max_concurrency: int

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> str:
        """The model's answer to ``messages``.

        Raises:
            LLMTimeout: no answer within the timeout.
            BudgetExhausted: the overall token budget is spent.
            LLMError: any other failure.
        """
        ...

    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        schema: type[T],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> T:
        """The model's answer parsed as JSON and validated by ``schema``, asking again when it is malformed.

        Raises:
            MalformedOutput: still not valid after the adapter's JSON retries.
            LLMTimeout: no answer within the timeout.
            BudgetExhausted: the overall token budget is spent.
            LLMError: any other failure.
        """
        ...
