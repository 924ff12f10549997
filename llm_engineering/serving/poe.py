"""The twin as a Poe server bot (``fastapi_poe``): meta first, the answer as text events, its sources,
suggested replies, then ``done`` (added by ``PoeBot.handle_query``).

The route is this project's own (``POST /poe``) rather than ``fastapi_poe.make_app``'s, so a
malformed body gets a 400 in the API's error shape instead of a server error, and the
access key comes from the settings (``POE_ACCESS_KEY``), checked as a bearer token.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import fastapi_poe as fp

Answer = Callable[[str, list[dict[str, str]]], Awaitable[Any]]
"""``(question, history) -> answer``: the app's own chat pipeline; the answer iterates text pieces then one
:class:`Finished`, has ``citations`` and ``aclose()`` (which stops decoding and frees its slot)."""
Suggest = Callable[[int], Awaitable[list[str]]]


class TwinPoeBot(fp.PoeBot):
    """A Poe bot that answers with the twin and retrieval.

    Args:
        answer: starts the answer to a question (retrieval, prompt, backend).
        suggest: ``n`` suggested questions.
        introduction: the bot's introduction message.
    """

    def __init__(
        self, *, answer: Answer, suggest: Suggest, introduction: str, access_key: str | None
    ) -> None:
        super().__init__(path="/poe", access_key=access_key, should_insert_attachment_messages=False)
        self._answer = answer
        self._suggest = suggest
        self._introduction = introduction

    async def get_response(self, request: fp.QueryRequest) -> AsyncIterable[fp.PartialResponse]:
        yield fp.MetaResponse(
            text="",
            content_type="text/markdown",
            linkify=True,
            refetch_settings=False,
            suggested_replies=True,
        )
        messages = [
            {"role": "assistant" if m.role == "bot" else "user", "content": m.content}
            for m in request.query
            if m.role in ("user", "bot")
        ]
        if not messages or messages[-1]["role"] != "user":
            yield fp.ErrorResponse(text="the last message must come from the user", allow_retry=False)
            return
        answer = await self._answer(messages[-1]["content"], messages[:-1])
        try:
            async for piece in answer:
                if isinstance(piece, str):
                    yield fp.PartialResponse(text=piece)
        finally:  # also when Poe hangs up mid-answer: decoding stops
            await answer.aclose()
        citations = answer.citations
        if citations:
            lines = [f"- [{c.get('title') or c['link']}]({c['link']}), {c['author']}" for c in citations]
            yield fp.PartialResponse(text="\n\nSources:\n" + "\n".join(lines))
        for question in await self._suggest(3):
            yield fp.PartialResponse(text=question, is_suggested_reply=True)

    async def get_settings(self, setting: fp.SettingsRequest) -> fp.SettingsResponse:
        return fp.SettingsResponse(introduction_message=self._introduction, allow_attachments=False)


def parse_poe_request(body: Any) -> Any:
    """The typed fastapi_poe request of a body, by its ``type``.

    Raises:
        ValueError: not an object, an unknown type, or fields that do not validate.
    """
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    kinds = {
        "query": fp.QueryRequest,
        "settings": fp.SettingsRequest,
        "report_feedback": fp.ReportFeedbackRequest,
        "report_reaction": fp.ReportReactionRequest,
        "report_error": fp.ReportErrorRequest,
    }
    kind = body.get("type")
    if kind not in kinds:
        raise ValueError(f"type must be one of {', '.join(kinds)}")
    extra = {"access_key": "<checked>", "api_key": "<checked>"} if kind == "query" else {}
    return kinds[kind].model_validate({**body, **extra})
