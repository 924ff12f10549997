"""Maps a link to the crawler of its source, and owns the crawlers it builds."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from llm_engineering.application.crawlers.base import Crawler, CrawlerName, CrawlError
from llm_engineering.application.crawlers.links import is_git_repository, local_path

logger = logging.getLogger(__name__)

CrawlerFactory = Callable[[], Crawler]

DEFAULT_DOMAIN_RULES: dict[str, str] = {
    "medium.com": CrawlerName.MEDIUM,
    "linkedin.com": CrawlerName.LINKEDIN,
    "github.com": CrawlerName.GITHUB,
}
"""Domain -> crawler name; a domain also matches its subdomains (``x.medium.com``)."""

# Letters (international names too), digits, dots, hyphens, underscores; IPv6 literals are checked apart.
_HOSTNAME = re.compile(r"^[\w.-]+$")


def _malformed(link: str, why: str) -> CrawlError:
    return CrawlError(
        f"malformed URL {link!r}: {why} (expected http(s)://host/path, file:///path or an absolute path)"
    )


def close_all(closers: Iterable[Callable[[], None]]) -> None:
    """Call every closer even when one fails, then raise the first failure (later ones are logged)."""
    first: Exception | None = None
    for close in closers:
        try:
            close()
        except Exception as exc:  # keep closing the others; the first error is raised below
            if first is None:
                first = exc
            else:
                logger.warning("another close failed as well: %s: %s", type(exc).__name__, exc)
    if first is not None:
        raise first


class CrawlerDispatcher:
    """Chooses and builds the crawler for each link.

    Crawlers are built on first use and shared by the links (and threads) they serve;
    :meth:`close` (or leaving the ``with`` block) closes each of them.

    Args:
        factories: crawler name -> function building that crawler.
        domain_rules: domain -> crawler name, tried before the default rules.
        link_errors: exception types of the adapters that mean "this link failed" (a browser
            or HTTP error, a git failure); the crawl flow records them on the link. Any other
            exception, except :class:`CrawlError` and ``OSError``, is a bug and fails the run.
    """

    def __init__(
        self,
        factories: Mapping[str, CrawlerFactory],
        *,
        domain_rules: Mapping[str, str] | None = None,
        link_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._factories = dict(factories)
        self._rules: dict[str, str] = {}
        self._crawlers: dict[str, Crawler] = {}
        self._lock = threading.Lock()
        self.link_errors = tuple(link_errors)
        for domain, crawler_name in DEFAULT_DOMAIN_RULES.items():
            if crawler_name in self._factories:  # a dispatcher may serve only some sources
                self.register(domain, crawler_name)
        for domain, crawler_name in (domain_rules or {}).items():
            self.register(domain, crawler_name)

    def register(self, domain: str, crawler_name: str) -> None:
        """Route ``domain`` and its subdomains to the crawler ``crawler_name``.

        Raises:
            ValueError: if no crawler has that name.
        """
        if crawler_name not in self._factories:
            raise ValueError(
                f"no crawler named {crawler_name!r} (known: {', '.join(sorted(self._factories))})"
            )
        self._rules[domain.lower().strip(".")] = crawler_name

    def route(self, link: str) -> str:
        """The name of the crawler for ``link``.

        Raises:
            CrawlError: if the link is malformed or its scheme is not supported.
        """
        link = link.strip()
        if not link:
            raise _malformed(link, "empty link")
        try:
            path = local_path(link)
            if path is not None:
                return CrawlerName.GITHUB if is_git_repository(path) else CrawlerName.LOCAL_FILE
            parts = urlsplit(link)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise _malformed(link, str(exc)) from None
        if not parts.scheme:
            raise _malformed(link, "no scheme")
        if parts.scheme not in ("http", "https"):
            raise CrawlError(
                f"unsupported scheme {parts.scheme!r} in {link!r} (supported: http, https, file)"
            )
        if not host or not (_HOSTNAME.match(host) or ":" in host):
            raise _malformed(link, "no valid host name")
        # The most specific matching domain wins (a rule for blog.example.com beats example.com).
        for domain in sorted(self._rules, key=len, reverse=True):
            if host == domain or host.endswith("." + domain):
                return self._rules[domain]
        return CrawlerName.ARTICLE

    def get_crawler(self, link: str) -> Crawler:
        """The crawler for ``link``, built on first use.

        Raises:
            CrawlError: if the link is malformed, its scheme is not supported, or no crawler of
                its kind is configured.
        """
        name = self.route(link)
        if name not in self._factories:
            raise CrawlError(f"no {name} crawler is configured for {link!r}")
        with self._lock:
            if name not in self._crawlers:
                self._crawlers[name] = self._factories[name]()
            return self._crawlers[name]

    def close(self) -> None:
        """Close every crawler built so far, even when one of them fails to close.

        Raises:
            Exception: the first error a crawler raised while closing, once all were closed.
        """
        with self._lock:
            crawlers, self._crawlers = list(self._crawlers.values()), {}
        close_all(crawler.close for crawler in crawlers)

    def __enter__(self) -> CrawlerDispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
