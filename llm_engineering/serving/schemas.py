"""Request and response bodies of the HTTP API (OpenAI chat-completions shapes, /rag, control API).

Request models are strict (a string is not a number) and list what is supported; an
unsupported OpenAI parameter is refused by name rather than silently ignored. Response models
give the OpenAI bodies (``chat.completion``, ``chat.completion.chunk``, the model list, the
error) their exact shape in one place, and document them in the OpenAPI schema.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HARMLESS_PARAMETERS = {"user", "metadata", "store", "service_tier", "parallel_tool_calls", "reasoning_effort"}
"""OpenAI parameters accepted and ignored: they change nothing about a single answer."""


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["text"]
    text: str


class RequestMessage(BaseModel):
    """One message of a chat completions request; ``content`` is a string or a list of text parts.

    The LLM port's messages (:class:`~llm_engineering.domain.llm.ChatMessage`) are plain
    ``{"role", "content"}`` dicts; this is the wire schema they are read from."""

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

    Beyond OpenAI's fields, ``rag`` (default true) switches retrieval off, ``author`` picks
    whose writing is searched (default: the author the question names, else the twin's), and
    ``repetition_penalty`` / ``no_repeat_ngram_size`` (as in vLLM and transformers) tune the
    decoding. Every decoding field the request leaves out takes the server's default decoding.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1, max_length=200)
    messages: list[RequestMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = None
    stream_options: StreamOptions | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    repetition_penalty: float | None = Field(default=None, ge=1, le=3)
    no_repeat_ngram_size: int | None = Field(default=None, ge=0, le=16)
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

    def decoding_overrides(self) -> dict[str, Any]:
        """The decoding fields this request sets, under :class:`~llm_engineering.domain.decoding.Decoding`'s names."""
        values = {
            "max_new_tokens": self.answer_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": tuple(self.stop) if self.stop is not None else None,
            "seed": self.seed,
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
            "repetition_penalty": self.repetition_penalty,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
        }
        return {name: value for name, value in values.items() if value is not None}

    @property
    def client_system(self) -> str:
        """The client's system (and developer) messages, joined: appended to the twin's system prompt."""
        return "\n\n".join(
            m.text.strip() for m in self.messages if m.role in ("system", "developer") and m.text.strip()
        )


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


# -- OpenAI response bodies ------------------------------------------------------------------


class ModelCardOut(BaseModel):
    """One entry of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    description: str = ""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCardOut]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


class Citation(BaseModel):
    """A source of the answer (extension: clients that do not know the field ignore it)."""

    model_config = ConfigDict(extra="allow")

    title: str | None = None
    link: str
    author: str


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    logprobs: None = None
    finish_reason: Literal["stop", "length"]


class ChatCompletion(BaseModel):
    """``chat.completion``: a whole answer, with its ``citations`` beside ``choices``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation] = Field(default_factory=list)


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    """``chat.completion.chunk``: one server-sent event of a streamed answer.

    The first carries the role and the ``citations``; the last with a choice carries the
    ``finish_reason``; with ``stream_options.include_usage`` one more has no choice and the usage.
    """

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    citations: list[Citation] | None = None

    def sse(self) -> str:
        """The chunk as one ``data:`` event (no ``usage``/``citations`` keys when absent, no empty delta fields)."""
        body = self.model_dump(mode="json")
        for name in ("usage", "citations"):
            if body[name] is None:
                del body[name]
        for choice in body["choices"]:
            choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape, for every 4xx and 5xx."""

    error: ErrorDetail


class SuggestionList(BaseModel):
    object: Literal["list"] = "list"
    author: str | None
    data: list[str]


class MarkdownRequest(BaseModel):
    """``POST /v1/markdown``: text (an answer) to render as sanitised HTML."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(max_length=200_000)


class MarkdownResponse(BaseModel):
    html: str
