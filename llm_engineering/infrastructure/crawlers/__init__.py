"""The crawler adapters (one module per source) and the factory that wires them into a dispatcher.

- ``article``: any HTTP page, fetched with httpx, extracted with trafilatura.
- ``medium``, ``linkedin``: pages rendered by headless Chromium (Selenium), read with BeautifulSoup.
- ``github``: a shallow ``git clone`` of a repository.
- ``local_file``: Markdown, text, HTML and PDF (pypdf) files on this machine.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

import httpx
from pymongo.errors import DocumentTooLarge
from pypdf.errors import PyPdfError
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from llm_engineering.application.crawlers.base import CrawlerName
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher, CrawlerFactory
from llm_engineering.configs.etl import CrawlConfig
from llm_engineering.infrastructure.crawlers.article import ArticleCrawler
from llm_engineering.infrastructure.crawlers.browsing import BrowserPool, DriverFactory
from llm_engineering.infrastructure.crawlers.github import GitHubCrawler
from llm_engineering.infrastructure.crawlers.linkedin import (
    LINKEDIN_BASE_URL,
    LINKEDIN_LOGIN_URL,
    LinkedInCrawler,
)
from llm_engineering.infrastructure.crawlers.local_file import LocalFileCrawler
from llm_engineering.infrastructure.crawlers.medium import MediumCrawler
from llm_engineering.settings import Settings

LINK_ERRORS: tuple[type[BaseException], ...] = (
    WebDriverException,  # a browser that crashed or lost its page
    httpx.HTTPError,  # an HTTP failure the article crawler did not turn into a CrawlError
    subprocess.SubprocessError,  # git
    PyPdfError,  # a broken PDF
    DocumentTooLarge,  # a document over MongoDB's 16 MB record limit
)
"""Errors of the adapters that mean "this link failed"; the runner records them on the link."""


def chrome_factory(settings: Settings, *, page_load_timeout: float) -> DriverFactory:
    """Headless Chromium as configured by ``settings``, started only when a crawl calls it."""

    def start() -> WebDriver:
        from llm_engineering.infrastructure.browser import chrome_driver

        return chrome_driver(
            binary=settings.chromium_binary,
            driver_path=settings.chromedriver_path,
            page_load_timeout=page_load_timeout,
        )

    return start


def build_dispatcher(
    crawl: CrawlConfig,
    settings: Settings,
    *,
    driver_factory: DriverFactory | None = None,
    domain_rules: Mapping[str, str] | None = None,
    linkedin_login_url: str = LINKEDIN_LOGIN_URL,
    linkedin_base_url: str = LINKEDIN_BASE_URL,
) -> CrawlerDispatcher:
    """The dispatcher of the ETL pipeline, with every crawler (each built on first use).

    Medium and LinkedIn share one browser pool of ``crawl.max_browsers`` browsers.

    Args:
        crawl: timeouts, size caps, browser bound and GitHub rules.
        settings: credentials (LinkedIn, GitHub token) and the Chromium paths.
        driver_factory: starts a browser; headless Chromium from ``settings`` by default.
        domain_rules: extra domain -> crawler name rules.
        linkedin_login_url: LinkedIn's login page (a local fixture site in tests).
        linkedin_base_url: the site LinkedIn links are opened on.
    """
    timeout = crawl.timeout_seconds
    browsers = BrowserPool(
        driver_factory or chrome_factory(settings, page_load_timeout=timeout), limit=crawl.max_browsers
    )
    password = settings.linkedin_password.get_secret_value() if settings.linkedin_password else None
    token = settings.github_token.get_secret_value() if settings.github_token else None
    factories: dict[str, CrawlerFactory] = {
        CrawlerName.ARTICLE: lambda: ArticleCrawler(
            timeout_seconds=timeout, max_page_bytes=crawl.max_page_bytes
        ),
        CrawlerName.MEDIUM: lambda: MediumCrawler(
            browsers=browsers, timeout_seconds=timeout, max_page_bytes=crawl.max_page_bytes
        ),
        CrawlerName.LINKEDIN: lambda: LinkedInCrawler(
            browsers=browsers,
            username=settings.linkedin_username,
            password=password,
            timeout_seconds=timeout,
            login_url=linkedin_login_url,
            base_url=linkedin_base_url,
        ),
        CrawlerName.GITHUB: lambda: GitHubCrawler(rules=crawl.github, timeout_seconds=timeout, token=token),
        CrawlerName.LOCAL_FILE: lambda: LocalFileCrawler(max_file_bytes=crawl.max_file_bytes),
    }
    return CrawlerDispatcher(factories, domain_rules=domain_rules, link_errors=LINK_ERRORS)


__all__ = [
    "LINK_ERRORS",
    "ArticleCrawler",
    "BrowserPool",
    "GitHubCrawler",
    "LinkedInCrawler",
    "LocalFileCrawler",
    "MediumCrawler",
    "build_dispatcher",
    "chrome_factory",
]
