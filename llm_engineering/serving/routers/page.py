"""The chat page at ``/``, its static files, and ``POST /v1/markdown``, the renderer the page uses.

Answers are Markdown. The page never puts model text into HTML itself: it asks the server,
which renders with markdown-it-py with raw HTML **off** (a ``<script>`` in an answer becomes
text) and then sanitises the result with nh3 (an allow-list of tags and attributes, no event
handlers, http(s)/mailto links only). The page is also served with a Content-Security-Policy
that allows only its own scripts, so nothing inline could run even if it got through.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from llm_engineering.serving.errors import APIError
from llm_engineering.serving.schemas import MarkdownRequest, MarkdownResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
"""The page's Content-Security-Policy: its own script file only, no inline or remote script."""

ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
     "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "ol": {"start"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
}

router = APIRouter()


@lru_cache(maxsize=1)
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    # "js-default": CommonMark with tables and strikethrough, and raw HTML off.
    return MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})


def render_markdown(text: str) -> str:
    """``text`` as safe HTML: Markdown rendered with raw HTML off, then sanitised by an allow-list."""
    import nh3

    html = _renderer().render(text)
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


@router.post("/v1/markdown", tags=["page"], response_model=MarkdownResponse)
async def markdown(body: MarkdownRequest) -> MarkdownResponse:
    """``text`` (an answer) rendered as sanitised HTML: what the chat page shows."""
    return MarkdownResponse(html=render_markdown(body.text))


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html", media_type="text/html", headers={"Content-Security-Policy": PAGE_POLICY}
    )


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise APIError(404, f"no static file {name!r}")
    return FileResponse(path, headers={"X-Content-Type-Options": "nosniff"})
