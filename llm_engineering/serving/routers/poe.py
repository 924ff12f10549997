"""``POST /poe``: the Poe server-bot protocol, answered by the same pipeline as the chat API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from llm_engineering.serving.answers import AnswerStream, start_answer
from llm_engineering.serving.backends import TWIN_MODEL_ID
from llm_engineering.serving.deps import Services, ServicesDep
from llm_engineering.serving.errors import APIError
from llm_engineering.serving.poe import TwinPoeBot, parse_poe_request

router = APIRouter(tags=["poe"])


def poe_bot(services: Services) -> TwinPoeBot:
    """The app's one Poe bot (built on first use, answering with the server's default decoding)."""
    bot = getattr(services, "_poe_bot", None)
    if bot is not None:
        return bot

    async def answer(question: str, history: list[dict[str, str]]) -> AnswerStream:
        return await start_answer(
            services,
            question,
            history,
            model=TWIN_MODEL_ID,
            decoding=services.decoding(),
            author=None,
            use_rag=True,
            k=services.options.rag_k,
        )

    async def suggest(n: int) -> list[str]:
        if services.rag is None:
            return []
        return await run_in_threadpool(services.rag.suggestions, author=None, n=n)

    key = services.settings.poe_access_key
    bot = TwinPoeBot(
        answer=answer,
        suggest=suggest,
        introduction="Ask me anything about what I wrote.",
        access_key=key.get_secret_value() if key else None,
    )
    services._poe_bot = bot  # type: ignore[attr-defined]
    return bot


@router.post("/poe")
async def poe(request: Request, services: ServicesDep) -> Response:
    """The Poe server-bot protocol (query, settings, report_feedback, report_reaction, report_error)."""
    import fastapi_poe as fp
    from sse_starlette.sse import EventSourceResponse

    try:
        parsed = parse_poe_request(await request.json())
    except ValueError as exc:  # also json.JSONDecodeError and pydantic's ValidationError
        raise APIError(400, f"not a Poe request: {str(exc).splitlines()[0]}") from exc
    bot = poe_bot(services)
    context = fp.RequestContext(http_request=request)
    if isinstance(parsed, fp.QueryRequest):
        return EventSourceResponse(bot.handle_query(parsed, context))
    if isinstance(parsed, fp.SettingsRequest):
        return await bot.handle_settings(parsed, context)
    if isinstance(parsed, fp.ReportFeedbackRequest):
        return await bot.handle_report_feedback(parsed, context)
    if isinstance(parsed, fp.ReportReactionRequest):
        return await bot.handle_report_reaction(parsed, context)
    return await bot.handle_report_error(parsed, context)
