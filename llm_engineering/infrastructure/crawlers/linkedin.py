"""Adapter: LinkedIn posts. Logs in once with Selenium, then reads each page's posts with BeautifulSoup."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urljoin, urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from llm_engineering.application.crawlers.base import Crawler, CrawlerName, CrawlError
from llm_engineering.domain.documents import ContentDocument, PostDocument, UserDocument
from llm_engineering.infrastructure.crawlers.browsing import BrowserPool, has_elements, open_page, wait_until
from llm_engineering.infrastructure.crawlers.extraction import element_text, parse_html

LINKEDIN_BASE_URL = "https://www.linkedin.com"
LINKEDIN_LOGIN_URL = "https://www.linkedin.com/login"

# Markup of LinkedIn's pages; a fixture site in the tests mimics it.
POST_SELECTOR = "div.feed-shared-update-v2"
TEXT_SELECTOR = ".update-components-text"
IMAGE_SELECTOR = ".update-components-image img"
LOGIN_ERROR_SELECTOR = "#error-for-username, #error-for-password"
# The cookie fields a session is carried over with (WebDriver refuses some others it reports).
_COOKIE_FIELDS = ("name", "value", "path", "secure", "httpOnly", "expiry", "sameSite")


class LinkedInCrawler(Crawler):
    """Logs in to LinkedIn, opens a page of posts (a profile's activity, a post) and reads each post.

    The crawler logs in once per run: the first crawl logs in (other threads wait on a lock)
    and keeps the session cookies; every later crawl, in its own browser, starts from those
    cookies, and logs in again only if LinkedIn sends it back to the login page.

    Links are opened on ``base_url`` with their own path and query, so a local site can
    stand in for linkedin.com; the documents keep the links as given.

    Args:
        browsers: the browser pool shared with the other browser crawlers.
        username: LinkedIn login (``LINKEDIN_USERNAME``); None refuses every crawl.
        password: LinkedIn password (``LINKEDIN_PASSWORD``); None refuses every crawl.
        timeout_seconds: how long to wait for the login and for the posts to appear.
        login_url: address of the login form.
        base_url: address that links are re-rooted on.
    """

    name = CrawlerName.LINKEDIN
    document_type = PostDocument

    def __init__(
        self,
        *,
        browsers: BrowserPool,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 30.0,
        login_url: str = LINKEDIN_LOGIN_URL,
        base_url: str = LINKEDIN_BASE_URL,
    ) -> None:
        self._browsers = browsers
        self._username = username
        self._password = password
        self.timeout_seconds = timeout_seconds
        self.login_url = login_url
        self.base_url = base_url.rstrip("/")
        self._session_lock = threading.Lock()
        self._cookies: list[dict[str, Any]] | None = None
        self.logins = 0
        """How many times this crawler submitted the login form (once per run, unless a session expires)."""

    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        if not self._username or not self._password:
            raise CrawlError(
                "LinkedIn needs LINKEDIN_USERNAME and LINKEDIN_PASSWORD (in the environment or .env) "
                "to read posts; set both or remove the LinkedIn links"
            )
        parts = urlsplit(link)
        page = self.base_url + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with self._browsers.browser() as driver:
            used = self._enter_session(driver)
            open_page(driver, page)
            if self._on_login_page(driver):  # the shared session expired or was refused
                self._enter_session(driver, expired=used)
                open_page(driver, page)
            wait_until(
                driver, has_elements(POST_SELECTOR), timeout=self.timeout_seconds, what="LinkedIn posts"
            )
            html, page_url = driver.page_source, driver.current_url
        return [
            PostDocument(
                content={"Content": text},
                image=image,
                platform="linkedin",
                author_id=user.id,
                author_full_name=user.full_name,
                link=post_link,
            )
            for post_link, text, image in read_posts(html, link=link, page_url=page_url)
        ]

    def _on_login_page(self, driver: WebDriver) -> bool:
        return driver.current_url.startswith(self.login_url)

    def _enter_session(
        self, driver: WebDriver, *, expired: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """Give ``driver`` the run's session, logging in if there is none yet (or it is ``expired``).

        Returns:
            The session cookies the driver now holds.
        """
        with self._session_lock:
            if self._cookies is None or self._cookies is expired:
                self._log_in(driver)
                self._cookies = driver.get_cookies()
                return self._cookies
            cookies = self._cookies
        # Cookies can only be set on a page of their own site.
        open_page(driver, self.base_url + "/")
        for cookie in cookies:
            driver.add_cookie({field: cookie[field] for field in _COOKIE_FIELDS if field in cookie})
        return cookies

    def _log_in(self, driver: WebDriver) -> None:
        open_page(driver, self.login_url)
        wait_until(
            driver,
            lambda d: d.find_elements(By.ID, "username"),
            timeout=self.timeout_seconds,
            what="the LinkedIn login form",
        )
        self.logins += 1
        driver.find_element(By.ID, "username").send_keys(self._username)
        driver.find_element(By.ID, "password").send_keys(self._password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # Done when the browser leaves the login page, or the page says the login failed.
        wait_until(
            driver,
            lambda d: not self._on_login_page(d) or d.find_elements(By.CSS_SELECTOR, LOGIN_ERROR_SELECTOR),
            timeout=self.timeout_seconds,
            what="the page after logging in to LinkedIn",
        )
        if self._on_login_page(driver):
            raise CrawlError("LinkedIn login failed: check LINKEDIN_USERNAME and LINKEDIN_PASSWORD")


def read_posts(html: str, *, link: str, page_url: str) -> list[tuple[str, str, str | None]]:
    """``(link, text, image)`` per post with text on a rendered LinkedIn page.

    Each post needs a link of its own (links are unique in the warehouse): its permalink
    from the activity URN when the page gives one, else the page link with the post's
    number as fragment. Image addresses are made absolute against ``page_url``.
    """
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(link))
    found = []
    for number, post in enumerate(parse_html(html).select(POST_SELECTOR), start=1):
        text_element = post.select_one(TEXT_SELECTOR) or post
        text = element_text(text_element)
        if not text:
            continue
        urn = post.get("data-urn")
        post_link = f"{origin}/feed/update/{urn}/" if urn else f"{link}#post-{number}"
        image = post.select_one(IMAGE_SELECTOR)
        src = image.get("src") if image is not None else None
        found.append((post_link, text, urljoin(page_url, str(src)) if src else None))
    return found
