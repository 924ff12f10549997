"""Article extraction from HTML, shared by the crawlers that read web pages.

BeautifulSoup reads the page's DOM (its language, title, the element that holds the
article); trafilatura turns the article into Markdown text without the boilerplate.
"""

from __future__ import annotations

import trafilatura
from bs4 import BeautifulSoup, Tag

from llm_engineering.application.crawlers.base import CrawlError


def parse_html(html: str | bytes) -> BeautifulSoup:
    """The DOM of ``html``; bytes are decoded as the page declares (``<meta charset>``), else guessed."""
    return BeautifulSoup(html, "lxml")


def element_text(element: Tag) -> str:
    """The text of ``element`` as a reader sees it: ``<br>`` and blocks break lines, spaces folded."""
    for br in element.find_all("br"):
        br.replace_with("\n")
    lines = (" ".join(line.split()) for line in element.get_text().splitlines())
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def _first_text(soup: BeautifulSoup | Tag, selectors: tuple[str, ...]) -> str:
    for selector in selectors:
        found = soup.select_one(selector)
        if found is not None:
            text = " ".join(found.get_text(" ").split())
            if text:
                return text
    return ""


def extract_article(
    html: str | bytes,
    *,
    url: str | None = None,
    root_selector: str | None = None,
    title_selectors: tuple[str, ...] = (),
    subtitle_selectors: tuple[str, ...] = (),
) -> dict[str, str]:
    """Extract an article's title, subtitle, main text and language from an HTML page.

    Navigation, footers and other boilerplate are left out by trafilatura; the main text
    keeps its paragraphs and headings as Markdown.

    Args:
        html: the page, as served or as rendered by a browser.
        url: the page's address; helps trafilatura with relative links and metadata.
        root_selector: CSS selector of the element that holds the article (Medium's
            ``article``); only that element's text is extracted when the page has one.
        title_selectors: CSS selectors tried, in order, for the title before the page's metadata.
        subtitle_selectors: CSS selectors tried, in order, for the subtitle before the metadata.

    Returns:
        ``{"Title", "Subtitle", "Content"}`` plus ``"language"`` when the page declares one.

    Raises:
        CrawlError: if the page holds no extractable text.
    """
    soup = parse_html(html)
    if soup.find() is None:
        raise CrawlError("no article text found (the page is not parseable HTML)")
    root = soup.html if soup.html is not None else soup
    language = str(root.get("lang") or "").strip().lower() if isinstance(root, Tag) else ""
    body = soup.select_one(root_selector) if root_selector else None
    source = f"<html><head>{soup.head or ''}</head><body>{body}</body></html>" if body else str(soup)
    result = trafilatura.bare_extraction(
        source,
        url=url,
        with_metadata=True,
        include_formatting=True,
        include_comments=False,
    )
    text = (result.text or "").strip() if result is not None else ""
    if not text:
        raise CrawlError("no article text found")
    title = _first_text(soup, title_selectors) or result.title or _first_text(soup, ("title", "h1"))
    subtitle = _first_text(soup, subtitle_selectors) or result.description or ""
    content = {"Title": title, "Subtitle": subtitle, "Content": text}
    if language:
        content["language"] = language
    return content
