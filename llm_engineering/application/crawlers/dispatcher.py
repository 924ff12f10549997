"""Maps a link to the crawler of its source."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from selenium.webdriver.remote.webdriver import WebDriver

from llm_engineering.application.crawlers.article import ArticleCrawler
from llm_engineering.application.crawlers.base import Crawler, CrawlError
from llm_engineering.application.crawlers.browsing import DriverFactory
from llm_engineering.application.crawlers.github import GitHubCrawler
from llm_engineering.application.crawlers.linkedin import (
    LINKEDIN_BASE_URL,
    LINKEDIN_LOGIN_URL,
    LinkedInCrawler,
)
from llm_engineering.application.crawlers.links import is_git_repository, local_path
from llm_engineering.application.crawlers.local_file import LocalFileCrawler
from llm_engineering.application.crawlers.medium import MediumCrawler
from llm_engineering.configs.etl import CrawlSettings
from llm_engineering.settings import Settings

CrawlerFactory = Callable[[], Crawler]

DEFAULT_DOMAIN_RULES: dict[str, str] = {
    "medium.com": MediumCrawler.name,
    "linkedin.com": LinkedInCrawler.name,
    "github.com": GitHubCrawler.name,
}
"""Domain -> crawler name; a domain also matches its subdomains (``x.medium.com``)."""

# Letters (international names too), digits, dots, hyphens, underscores; IPv6 literals are checked apart.
_HOSTNAME = re.compile(r"^[\w.-]+$")


def _malformed(link: str, why: str) -> CrawlError:
    return CrawlError(
        f"malformed URL {link!r}: {why} (expected http(s)://host/path, file:///path or an absolute path)"
    )


class CrawlerDispatcher:
    """Chooses and builds the crawler for each link.

    Crawlers are built on first use and shared by the links (and threads) they serve.

    Args:
        factories: crawler name -> function building that crawler.
        domain_rules: domain -> crawler name, tried before the default rules.
    """

    def __init__(
        self, factories: Mapping[str, CrawlerFactory], *, domain_rules: Mapping[str, str] | None = None
    ) -> None:
        self._factories = dict(factories)
        self._rules: dict[str, str] = {}
        self._crawlers: dict[str, Crawler] = {}
        self._lock = threading.Lock()
        for domain, crawler_name in DEFAULT_DOMAIN_RULES.items():
            if crawler_name in self._factories:  # a dispatcher may serve only some sources
                self.register(domain, crawler_name)
        for domain, crawler_name in (domain_rules or {}).items():
            self.register(domain, crawler_name)

    @classmethod
    def from_settings(
        cls,
        crawl: CrawlSettings,
        settings: Settings,
        *,
        driver_factory: DriverFactory | None = None,
        domain_rules: Mapping[str, str] | None = None,
        linkedin_login_url: str = LINKEDIN_LOGIN_URL,
        linkedin_base_url: str = LINKEDIN_BASE_URL,
    ) -> CrawlerDispatcher:
        """The dispatcher of the ETL pipeline.

        Args:
            crawl: timeouts and GitHub rules.
            settings: credentials (LinkedIn, GitHub token) and the Chromium paths.
            driver_factory: starts a browser; headless Chromium from ``settings`` by default.
            domain_rules: extra domain -> crawler name rules.
            linkedin_login_url: LinkedIn's login page (a local fixture site in tests).
            linkedin_base_url: the site LinkedIn links are opened on.
        """
        timeout = crawl.timeout_seconds
        drivers = driver_factory or _chrome_factory(settings, page_load_timeout=timeout)
        password = settings.linkedin_password.get_secret_value() if settings.linkedin_password else None
        token = settings.github_token.get_secret_value() if settings.github_token else None
        factories: dict[str, CrawlerFactory] = {
            ArticleCrawler.name: lambda: ArticleCrawler(timeout_seconds=timeout),
            MediumCrawler.name: lambda: MediumCrawler(driver_factory=drivers, timeout_seconds=timeout),
            LinkedInCrawler.name: lambda: LinkedInCrawler(
                driver_factory=drivers,
                username=settings.linkedin_username,
                password=password,
                timeout_seconds=timeout,
                login_url=linkedin_login_url,
                base_url=linkedin_base_url,
            ),
            GitHubCrawler.name: lambda: GitHubCrawler(
                rules=crawl.github, timeout_seconds=timeout, token=token
            ),
            LocalFileCrawler.name: LocalFileCrawler,
        }
        return cls(factories, domain_rules=domain_rules)

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
                return GitHubCrawler.name if is_git_repository(path) else LocalFileCrawler.name
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
        return ArticleCrawler.name

    def get_crawler(self, link: str) -> Crawler:
        """The crawler for ``link``, built on first use.

        Raises:
            CrawlError: if the link is malformed or its scheme is not supported.
        """
        name = self.route(link)
        if name not in self._factories:
            raise CrawlError(f"no {name} crawler is configured for {link!r}")
        with self._lock:
            if name not in self._crawlers:
                self._crawlers[name] = self._factories[name]()
            return self._crawlers[name]

    def close(self) -> None:
        """Release what the built crawlers hold open (HTTP connection pools)."""
        with self._lock:
            for crawler in self._crawlers.values():
                close = getattr(crawler, "close", None)
                if close is not None:
                    close()
            self._crawlers.clear()

    def __enter__(self) -> CrawlerDispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chrome_factory(settings: Settings, *, page_load_timeout: float) -> DriverFactory:
    """Headless Chromium as configured by ``settings``, started only when a crawl calls it."""

    def start() -> WebDriver:
        # Imported here: the browser adapter lives in infrastructure, which depends on this layer.
        from llm_engineering.infrastructure.browser import chrome_driver

        return chrome_driver(
            binary=settings.chromium_binary,
            driver_path=settings.chromedriver_path,
            page_load_timeout=page_load_timeout,
        )

    return start
