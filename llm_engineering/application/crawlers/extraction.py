"""Article extraction from HTML, shared by the crawlers that read web pages."""

from __future__ import annotations

import trafilatura

from llm_engineering.application.crawlers.base import CrawlError


def extract_article(html: str | bytes, *, url: str | None = None) -> dict[str, str]:
    """Extract an article's title, subtitle, main text and language from an HTML page.

    Navigation, footers and other boilerplate are left out by trafilatura; the main text
    keeps its paragraphs and headings as Markdown.

    Args:
        html: the page, as served or as rendered by a browser.
        url: the page's address; helps trafilatura with relative links and metadata.

    Returns:
        ``{"Title", "Subtitle", "Content"}`` plus ``"language"`` when the page declares one.

    Raises:
        CrawlError: if the page holds no extractable text.
    """
    tree = trafilatura.load_html(html)
    if tree is None:
        raise CrawlError("no article text found (the page is not parseable HTML)")
    # Read before extraction: trafilatura prunes the tree it is given.
    language = (tree.get("lang") or "").strip().lower()
    result = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_formatting=True,
        include_comments=False,
    )
    text = (result.text or "").strip() if result is not None else ""
    if not text:
        raise CrawlError("no article text found")
    content = {"Title": result.title or "", "Subtitle": result.description or "", "Content": text}
    if language:
        content["language"] = language
    return content
