"""Routing links to crawlers (domain, local paths, malformed links, schemes) and closing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import Crawler, CrawlError
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.configs.etl import CrawlConfig
from llm_engineering.infrastructure.crawlers import build_dispatcher
from llm_engineering.infrastructure.crawlers.medium import MediumCrawler
from llm_engineering.settings import Settings


def _no_browser():
    raise AssertionError("routing must not start a browser")


@pytest.fixture
def dispatcher() -> CrawlerDispatcher:
    return build_dispatcher(CrawlConfig(), Settings(_env_file=None), driver_factory=_no_browser)


@pytest.mark.parametrize(
    ("link", "crawler"),
    [
        ("https://medium.com/@ada/truing-a-wheel-123abc", "medium"),
        ("https://ada.medium.com/truing-a-wheel-123abc", "medium"),
        ("https://www.linkedin.com/in/ada-lovelace/recent-activity/all/", "linkedin"),
        ("https://linkedin.com/posts/ada_activity-1", "linkedin"),
        ("https://github.com/ada/engine", "github"),
        ("https://www.github.com/ada/engine/tree/main/src", "github"),
        ("https://ada.substack.com/p/truing-a-wheel", "article"),
        ("http://blog.example.org/2024/wheel.html", "article"),
        ("https://notmedium.com/post", "article"),
        ("https://medium.com.example.net/post", "article"),
        ("http://127.0.0.1:8000/article.html", "article"),
        ("  https://github.com/ada/engine  ", "github"),
        ("file:///home/ada/notes.md", "local_file"),
        ("/home/ada/notes.md", "local_file"),
    ],
)
def test_routes_links_by_domain_and_scheme(dispatcher: CrawlerDispatcher, link: str, crawler: str) -> None:
    assert dispatcher.route(link) == crawler


def test_a_local_git_repository_goes_to_the_github_crawler(
    dispatcher: CrawlerDispatcher, tmp_path: Path
) -> None:
    (tmp_path / "engine" / ".git").mkdir(parents=True)
    (tmp_path / "plain").mkdir()
    assert dispatcher.route(str(tmp_path / "engine")) == "github"
    assert dispatcher.route((tmp_path / "engine").as_uri()) == "github"
    assert dispatcher.route(str(tmp_path / "plain")) == "local_file"


@pytest.mark.parametrize(
    "link",
    [
        "htp//x",
        "http://",
        "",
        "   ",
        "http:///path/only",
        "https://exa mple.com/",
        "http://[::1",
        "http://h:port/",
    ],
)
def test_malformed_links_are_refused_with_a_reason(dispatcher: CrawlerDispatcher, link: str) -> None:
    with pytest.raises(CrawlError, match="malformed URL"):
        dispatcher.route(link)


@pytest.mark.parametrize(
    ("link", "scheme"),
    [
        ("ftp://files.example.com/wheel.txt", "ftp"),
        ("mailto:ada@example.com", "mailto"),
        ("javascript:alert(1)", "javascript"),
    ],
)
def test_unsupported_schemes_are_named(dispatcher: CrawlerDispatcher, link: str, scheme: str) -> None:
    with pytest.raises(CrawlError, match=f"unsupported scheme '{scheme}'"):
        dispatcher.route(link)


def test_extra_rules_route_a_host_and_its_subdomains(dispatcher: CrawlerDispatcher) -> None:
    dispatcher.register("localhost", "medium")
    dispatcher.register("blog.example.org", "medium")
    assert dispatcher.route("http://localhost:8123/medium/js-article.html") == "medium"
    assert dispatcher.route("http://posts.blog.example.org/x") == "medium"
    assert dispatcher.route("http://example.org/x") == "article"


def test_registering_an_unknown_crawler_fails(dispatcher: CrawlerDispatcher) -> None:
    with pytest.raises(ValueError, match="no crawler named 'gopher'"):
        dispatcher.register("example.org", "gopher")


def test_crawlers_are_built_once_and_start_no_browser(dispatcher: CrawlerDispatcher) -> None:
    first = dispatcher.get_crawler("https://medium.com/@ada/a")
    assert isinstance(first, MediumCrawler)
    assert dispatcher.get_crawler("https://ada.medium.com/b") is first


class _Closing(Crawler):
    """Records its close in ``closed``; raises ``error`` from close when given one."""

    document_type = None  # type: ignore[assignment]

    def __init__(self, name: str, closed: list[str], error: Exception | None = None) -> None:
        self.name = name  # type: ignore[misc]
        self._closed, self._error = closed, error

    def crawl(self, link, *, user):
        return []

    def close(self) -> None:
        self._closed.append(self.name)
        if self._error is not None:
            raise self._error


def test_close_closes_every_crawler_even_when_one_fails_then_raises_the_first_error() -> None:
    closed: list[str] = []
    first, second = OSError("pool already closed"), RuntimeError("browser gone")
    dispatcher = CrawlerDispatcher(
        {
            "article": lambda: _Closing("article", closed, first),
            "medium": lambda: _Closing("medium", closed, second),
            "github": lambda: _Closing("github", closed),
        }
    )
    for link in ("https://a.example/x", "https://medium.com/@a/b", "https://github.com/a/b"):
        dispatcher.get_crawler(link)
    with pytest.raises(OSError, match="pool already closed"), dispatcher:
        pass
    assert sorted(closed) == ["article", "github", "medium"]
    dispatcher.close()  # closing again closes nothing twice
    assert len(closed) == 3
