"""Adapter: article pages served over plain HTTP (Substack, personal blogs, ...), via httpx and trafilatura."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import httpx

from llm_engineering.application.crawlers.base import Crawler, CrawlerName, CrawlError, TransientCrawlError
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, UserDocument
from llm_engineering.infrastructure.crawlers.extraction import extract_article

USER_AGENT = "Mozilla/5.0 (compatible; llm-twin-crawler/0.1; +https://github.com/)"
DEFAULT_MAX_PAGE_BYTES = 10_000_000


class ArticleCrawler(Crawler):
    """Fetches a page with httpx and extracts its article with trafilatura.

    One HTTP client (and its connection pool) is shared by every thread that uses the
    crawler; it is created on the first crawl, never at construction.

    Args:
        timeout_seconds: timeout of each connect, read and write of a fetch.
        max_page_bytes: a page whose body passes this size fails (``crawl.max_page_bytes``);
            the body is streamed and the download stops there.
        user_agent: the User-Agent header sent with every request.
    """

    name = CrawlerName.ARTICLE
    document_type = ArticleDocument

    def __init__(
        self,
        *,
        timeout_seconds: float = 30.0,
        max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.max_page_bytes = max_page_bytes
        self._user_agent = user_agent
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=self.timeout_seconds,
                    follow_redirects=True,
                    headers={"User-Agent": self._user_agent, "Accept": "text/html,application/xhtml+xml"},
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP client, if one was opened."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def fetch(self, link: str) -> str:
        """The HTML of ``link``.

        Raises:
            TransientCrawlError: on a timeout, a connection error, HTTP 429 or 5xx.
            CrawlError: on another HTTP error, a response that is not HTML, or a body over
                ``max_page_bytes``.
        """
        try:
            with self._http().stream("GET", link) as response:
                self._check(response, link)
                body = self._read_capped(response, link)
                encoding = response.encoding or "utf-8"
        except httpx.TimeoutException as exc:
            raise TransientCrawlError(f"timed out after {self.timeout_seconds:g}s fetching {link}") from exc
        except httpx.TransportError as exc:
            raise TransientCrawlError(f"connection failed ({type(exc).__name__}: {exc})") from exc
        except httpx.HTTPError as exc:  # invalid URL, too many redirects: retrying will not help
            raise CrawlError(f"{type(exc).__name__}: {exc}") from exc
        return body.decode(encoding, errors="replace")

    def _too_large(self, link: str) -> CrawlError:
        return CrawlError(f"page larger than crawl.max_page_bytes ({self.max_page_bytes} bytes): {link}")

    def _check(self, response: httpx.Response, link: str) -> None:
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientCrawlError(f"HTTP {status} {response.reason_phrase} from {link}")
        if status >= 400:
            raise CrawlError(f"HTTP {status} {response.reason_phrase} from {link}")
        content_type = response.headers.get("content-type", "")
        if content_type and "html" not in content_type and "xml" not in content_type:
            raise CrawlError(f"not an HTML page (content-type {content_type!r})")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_page_bytes:
            raise self._too_large(link)

    def _read_capped(self, response: httpx.Response, link: str) -> bytes:
        # The declared length may be absent or wrong: count what actually arrives.
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self.max_page_bytes:
                raise self._too_large(link)
        return bytes(body)

    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        content = extract_article(self.fetch(link), url=link)
        return [
            ArticleDocument(
                content=content,
                platform=urlsplit(link).hostname or "web",
                author_id=user.id,
                author_full_name=user.full_name,
                link=link,
            )
        ]
