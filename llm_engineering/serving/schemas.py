"""Request and response bodies of the HTTP API (OpenAI chat-completions shapes, /rag, control API).

Request models are strict (a string is not a number) and list what is supported; an
unsupported OpenAI parameter is refused by name rather than silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HARMLESS_PARAMETERS = {"user", "metadata", "store", "service_tier", "parallel_tool_calls", "reasoning_effort"}
"""OpenAI parameters accepted and ignored: they change nothing about a single answer."""


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message; ``content`` is a string or a list of text parts."""

    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``.

    Beyond OpenAI's fields, ``rag`` (default true) switches retrieval off, and ``author``
    picks whose writing is searched (default: the author the question names, else the twin's).
    """

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = None
    stream_options: StreamOptions | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logprobs: bool | None = None
    rag: bool = True
    author: str | None = Field(default=None, max_length=200)

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str] | None:
        if value is None:
            return None
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4 or any(not s for s in stops):
            raise ValueError("stop takes at most 4 non-empty strings")
        return stops

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> ChatCompletionRequest:
        if self.n not in (None, 1):
            raise ValueError("n must be 1: this server returns one choice per request")
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(self, name) not in (None, 0, 0.0):
                raise ValueError(f"{name} is not supported (only 0)")
        if self.logprobs:
            raise ValueError("logprobs is not supported")
        for name, value in (self.model_extra or {}).items():
            if name not in HARMLESS_PARAMETERS and value is not None:
                raise ValueError(f"parameter {name!r} is not supported by this server")
        if not any(m.role == "user" and m.text.strip() for m in self.messages):
            raise ValueError("messages must contain a non-empty user message")
        return self

    @property
    def answer_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class RagRequest(BaseModel):
    """``POST /rag``: the context for ``query`` and, when ``generate``, the twin's answer from it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=5, ge=1, le=50)
    author: str | None = Field(default=None, max_length=200)
    generate: bool = True
    max_tokens: int | None = Field(default=None, ge=1)


class ContextItem(BaseModel):
    title: str | None
    link: str
    author: str
    score: float
    content: str


class RagResponse(BaseModel):
    answer: str | None
    author: str | None
    queries: list[str]
    context: list[ContextItem]


class PipelineRunRequest(BaseModel):
    """``POST /v1/pipelines/{name}/runs``: a config file of the project (default: the pipeline's) and overrides."""

    model_config = ConfigDict(extra="forbid", strict=True)

    config: str | None = Field(default=None, max_length=1000)
    overrides: dict[str, Any] = Field(default_factory=dict)
