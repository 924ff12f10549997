"""Adapter: Medium articles, which render their text with JavaScript (Selenium, then BeautifulSoup)."""

from __future__ import annotations

from llm_engineering.application.crawlers.base import Crawler, CrawlerName, CrawlError
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, UserDocument
from llm_engineering.infrastructure.crawlers.article import DEFAULT_MAX_PAGE_BYTES
from llm_engineering.infrastructure.crawlers.browsing import BrowserPool, has_elements, open_page, wait_until
from llm_engineering.infrastructure.crawlers.extraction import extract_from_dom

# Markup of Medium's article pages: the story is an <article>, its title an h1.
TITLE_SELECTORS = ("article h1.pw-post-title", "article h1")
SUBTITLE_SELECTORS = ("article .pw-subtitle-paragraph",)


class MediumCrawler(Crawler):
    """Renders a Medium article in headless Chromium, then extracts it from the rendered DOM.

    A plain HTTP fetch of a Medium page often holds no article text (it is inserted by
    scripts), so the crawler waits until the browser shows it. The rendered page is read
    with BeautifulSoup: only its ``<article>`` goes to text extraction, the title is the
    article's ``h1``.

    Args:
        browsers: the browser pool shared with the other browser crawlers.
        timeout_seconds: how long to wait for the article text to appear.
        content_selector: CSS selector of the article's paragraphs.
        max_page_bytes: a rendered page over this size fails (``crawl.max_page_bytes``).
    """

    name = CrawlerName.MEDIUM
    document_type = ArticleDocument

    def __init__(
        self,
        *,
        browsers: BrowserPool,
        timeout_seconds: float = 30.0,
        content_selector: str = "article p",
        max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES,
    ) -> None:
        self._browsers = browsers
        self.timeout_seconds = timeout_seconds
        self.content_selector = content_selector
        self.max_page_bytes = max_page_bytes

    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        with self._browsers.browser() as driver:
            open_page(driver, link)
            wait_until(
                driver,
                has_elements(self.content_selector),
                timeout=self.timeout_seconds,
                what=f"article text ({self.content_selector!r})",
            )
            html = driver.page_source
        if len(html.encode("utf-8")) > self.max_page_bytes:
            raise CrawlError(f"page larger than crawl.max_page_bytes ({self.max_page_bytes} bytes): {link}")
        content = extract_from_dom(
            html,
            url=link,
            root_selector="article",
            title_selectors=TITLE_SELECTORS,
            subtitle_selectors=SUBTITLE_SELECTORS,
        )
        return [
            ArticleDocument(
                content=content,
                platform="medium",
                author_id=user.id,
                author_full_name=user.full_name,
                link=link,
            )
        ]
