"""Crawler for LinkedIn posts: logs in with Selenium, then reads the posts of a page."""

from __future__ import annotations

from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from llm_engineering.application.crawlers.base import Crawler, CrawlError
from llm_engineering.application.crawlers.browsing import (
    DriverFactory,
    browser,
    has_elements,
    open_page,
    wait_until,
)
from llm_engineering.domain.documents import ContentDocument, PostDocument, UserDocument

LINKEDIN_BASE_URL = "https://www.linkedin.com"
LINKEDIN_LOGIN_URL = "https://www.linkedin.com/login"

# Markup of LinkedIn's pages; a fixture site in the tests mimics it.
POST_SELECTOR = "div.feed-shared-update-v2"
TEXT_SELECTOR = ".update-components-text"
IMAGE_SELECTOR = ".update-components-image img"
LOGIN_ERROR_SELECTOR = "#error-for-username, #error-for-password"


class LinkedInCrawler(Crawler):
    """Logs in to LinkedIn, opens a page of posts (a profile's activity, a post) and reads each post.

    Links are opened on ``base_url`` with their own path and query, so a local site can
    stand in for linkedin.com; the documents keep the links as given.

    Args:
        driver_factory: starts a fresh browser for each crawl (quit afterwards).
        username: LinkedIn login (``LINKEDIN_USERNAME``); None refuses every crawl.
        password: LinkedIn password (``LINKEDIN_PASSWORD``); None refuses every crawl.
        timeout_seconds: how long to wait for the login and for the posts to appear.
        login_url: address of the login form.
        base_url: address that links are re-rooted on.
    """

    name = "linkedin"
    document_type = PostDocument

    def __init__(
        self,
        *,
        driver_factory: DriverFactory,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 30.0,
        login_url: str = LINKEDIN_LOGIN_URL,
        base_url: str = LINKEDIN_BASE_URL,
    ) -> None:
        self._driver_factory = driver_factory
        self._username = username
        self._password = password
        self.timeout_seconds = timeout_seconds
        self.login_url = login_url
        self.base_url = base_url.rstrip("/")

    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        if not self._username or not self._password:
            raise CrawlError(
                "LinkedIn needs LINKEDIN_USERNAME and LINKEDIN_PASSWORD (in the environment or .env) "
                "to read posts; set both or remove the LinkedIn links"
            )
        parts = urlsplit(link)
        page = self.base_url + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with browser(self._driver_factory) as driver:
            self._log_in(driver)
            open_page(driver, page)
            posts = wait_until(
                driver, has_elements(POST_SELECTOR), timeout=self.timeout_seconds, what="LinkedIn posts"
            )
            return [
                PostDocument(
                    content={"Content": text},
                    image=image,
                    platform="linkedin",
                    author_id=user.id,
                    author_full_name=user.full_name,
                    link=post_link,
                )
                for post_link, text, image in self._read_posts(posts, link=link)
            ]

    def _log_in(self, driver: WebDriver) -> None:
        open_page(driver, self.login_url)
        wait_until(
            driver,
            lambda d: d.find_elements(By.ID, "username"),
            timeout=self.timeout_seconds,
            what="the LinkedIn login form",
        )
        driver.find_element(By.ID, "username").send_keys(self._username)
        driver.find_element(By.ID, "password").send_keys(self._password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # Done when the browser leaves the login page, or the page says the login failed.
        wait_until(
            driver,
            lambda d: (
                not d.current_url.startswith(self.login_url)
                or d.find_elements(By.CSS_SELECTOR, LOGIN_ERROR_SELECTOR)
            ),
            timeout=self.timeout_seconds,
            what="the page after logging in to LinkedIn",
        )
        if driver.current_url.startswith(self.login_url):
            raise CrawlError("LinkedIn login failed: check LINKEDIN_USERNAME and LINKEDIN_PASSWORD")

    @staticmethod
    def _read_posts(posts: list[WebElement], *, link: str) -> list[tuple[str, str, str | None]]:
        """``(link, text, image)`` per post that has text.

        Each post needs a link of its own (links are unique in the warehouse): its
        permalink from the activity URN when the page gives one, else the page link
        with the post's number as fragment.
        """
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(link))
        found = []
        for number, post in enumerate(posts, start=1):
            texts = post.find_elements(By.CSS_SELECTOR, TEXT_SELECTOR)
            text = (texts[0] if texts else post).text.strip()
            if not text:
                continue
            urn = post.get_attribute("data-urn")
            post_link = f"{origin}/feed/update/{urn}/" if urn else f"{link}#post-{number}"
            images = post.find_elements(By.CSS_SELECTOR, IMAGE_SELECTOR)
            found.append((post_link, text, images[0].get_attribute("src") if images else None))
        return found
