"""Helpers shared by the crawlers that drive a browser through Selenium, and their browser pool."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.application.crawlers.base import CrawlError, TransientCrawlError

DriverFactory = Callable[[], WebDriver]
"""Starts a fresh browser; the caller quits it."""

T = TypeVar("T")


def _first_line(exc: WebDriverException) -> str:
    # Selenium messages carry a native stack trace after the first line.
    return ((exc.msg or str(exc)).strip().splitlines() or [type(exc).__name__])[0]


class BrowserPool:
    """Starts browsers for the crawlers that share it, at most ``limit`` at once.

    Browsers cost far more memory and CPU than an HTTP fetch, so they have their own bound
    (``crawl.max_browsers``) below the number of crawl workers: a worker that needs a browser
    while ``limit`` are open waits for one to quit.

    Args:
        driver_factory: starts a fresh browser; the pool quits it.
        limit: browsers open at once.
    """

    def __init__(self, driver_factory: DriverFactory, *, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a browser pool needs a limit of at least 1, not {limit}")
        self._driver_factory = driver_factory
        self._slots = threading.BoundedSemaphore(limit)
        self.limit = limit

    @contextmanager
    def browser(self) -> Iterator[WebDriver]:
        """A browser that is quit however the block ends, once one of the ``limit`` slots is free.

        Raises:
            CrawlError: if the browser cannot start (missing Chromium or ChromeDriver).
        """
        with self._slots:
            try:
                driver = self._driver_factory()
            except WebDriverException as exc:
                raise CrawlError(f"Chromium could not start: {_first_line(exc)}") from exc
            try:
                yield driver
            finally:
                driver.quit()


def open_page(driver: WebDriver, url: str) -> None:
    """Load ``url`` in ``driver``.

    Raises:
        TransientCrawlError: if the page load times out or the connection fails.
    """
    try:
        driver.get(url)
    except TimeoutException as exc:
        raise TransientCrawlError(f"page load timed out: {url}") from exc
    except WebDriverException as exc:  # net::ERR_CONNECTION_REFUSED and friends
        raise TransientCrawlError(f"page load failed: {_first_line(exc)}") from exc


def wait_until(driver: WebDriver, condition: Callable[[WebDriver], T], *, timeout: float, what: str) -> T:
    """Poll ``condition`` until it returns something truthy, instead of sleeping a fixed time.

    Raises:
        CrawlError: naming ``what`` if it did not appear within ``timeout`` seconds.
    """
    try:
        # Scripts may replace elements between finding and reading them: poll again then.
        waiter = WebDriverWait(
            driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        )
        return waiter.until(condition)
    except TimeoutException as exc:
        raise CrawlError(f"{what} did not appear within {timeout:g}s") from exc


def has_elements(css_selector: str) -> Callable[[WebDriver], list[Any]]:
    """A wait condition: the elements matching ``css_selector`` that show some text."""

    def condition(driver: WebDriver) -> list[Any]:
        return [e for e in driver.find_elements(By.CSS_SELECTOR, css_selector) if e.text.strip()]

    return condition
