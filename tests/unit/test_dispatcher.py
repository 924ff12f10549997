"""Routing links to crawlers: by domain, local paths, malformed links, unsupported schemes."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.crawlers.base import CrawlError
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.medium import MediumCrawler
from llm_engineering.configs.etl import CrawlSettings
from llm_engineering.settings import Settings


def _no_browser():
    raise AssertionError("routing must not start a browser")


@pytest.fixture
def dispatcher() -> CrawlerDispatcher:
    return CrawlerDispatcher.from_settings(
        CrawlSettings(), Settings(_env_file=None), driver_factory=_no_browser
    )


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
