"""Crawler for Medium articles, which render their text with JavaScript."""

from __future__ import annotations

from llm_engineering.application.crawlers.base import Crawler
from llm_engineering.application.crawlers.browsing import (
    DriverFactory,
    browser,
    has_elements,
    open_page,
    wait_until,
)
from llm_engineering.application.crawlers.extraction import extract_article
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, UserDocument


class MediumCrawler(Crawler):
    """Renders a Medium article in headless Chromium, then extracts it from the page source.

    A plain HTTP fetch of a Medium page often holds no article text (it is inserted by
    scripts), so the crawler waits until the browser shows it.

    Args:
        driver_factory: starts a fresh browser for each crawl (quit afterwards).
        timeout_seconds: how long to wait for the article text to appear.
        content_selector: CSS selector of the article's paragraphs.
    """

    name = "medium"
    document_type = ArticleDocument

    def __init__(
        self,
        *,
        driver_factory: DriverFactory,
        timeout_seconds: float = 30.0,
        content_selector: str = "article p",
    ) -> None:
        self._driver_factory = driver_factory
        self.timeout_seconds = timeout_seconds
        self.content_selector = content_selector

    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        with browser(self._driver_factory) as driver:
            open_page(driver, link)
            wait_until(
                driver,
                has_elements(self.content_selector),
                timeout=self.timeout_seconds,
                what=f"article text ({self.content_selector!r})",
            )
            html = driver.page_source
        return [
            ArticleDocument(
                content=extract_article(html, url=link),
                platform="medium",
                author_id=user.id,
                author_full_name=user.full_name,
                link=link,
            )
        ]
