"""crawl_links against a real nx-27017 warehouse and the loopback fixture site."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from selenium.common.exceptions import WebDriverException

from llm_engineering.application.crawlers.base import Crawler, CrawlReport, LinkOutcome, LinkStatus
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.application.crawlers.flow import crawl_links
from llm_engineering.configs.etl import CrawlConfig, GitHubRules
from llm_engineering.domain.documents import ArticleDocument, RepositoryDocument, UserDocument
from llm_engineering.infrastructure.crawlers import LINK_ERRORS, build_dispatcher
from llm_engineering.settings import Settings


def _settings(**overrides) -> CrawlConfig:
    defaults = {"max_workers": 4, "timeout_seconds": 0.5, "retries": 1, "backoff_seconds": 0.0}
    return CrawlConfig(**{**defaults, "github": GitHubRules(max_file_bytes=4096), **overrides})


def _dispatcher(settings: CrawlConfig, **options) -> CrawlerDispatcher:
    return build_dispatcher(settings, Settings(_env_file=None), **options)


@pytest.fixture
def author(warehouse) -> UserDocument:
    return warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")[0]


def _crawl(links, *, author, warehouse, settings, **options) -> tuple[CrawlReport, dict[str, LinkOutcome]]:
    """Crawl ``links``; the report and its outcomes by link."""
    with _dispatcher(settings, **options) as dispatcher:
        report = crawl_links(
            links, user=author, warehouse=warehouse, dispatcher=dispatcher, settings=settings, progress=False
        )
    return report, {outcome.link: outcome for outcome in report.outcomes}


def test_mixed_links_store_the_good_ones_and_explain_the_bad_ones(
    warehouse, author, site_server, site_dir, git_repo
) -> None:
    good = [site_server.url("article.html"), str(site_dir / "notes.md"), git_repo.as_uri()]
    bad = {
        site_server.url("status/404"): "HTTP 404",
        site_server.url("slow/3/article.html"): "TransientCrawlError: timed out after 0.5s",
        "htp//x": "CrawlError: malformed URL 'htp//x'",
        "ftp://files.example.com/a.txt": "unsupported scheme 'ftp'",
    }
    links = [good[0], *bad, good[1], good[0], good[2], f"  {good[1]}"]
    report, outcomes = _crawl(links, author=author, warehouse=warehouse, settings=_settings())

    assert [o.link for o in report.outcomes] == [good[0], *bad, good[1], good[2]]  # deduplicated, in order
    assert report.counts == {"stored": 3, "skipped": 0, "failed": 4}
    for link in good:
        assert outcomes[link].status == LinkStatus.STORED and outcomes[link].documents == 1
    for link, reason in bad.items():
        assert outcomes[link].status == LinkStatus.FAILED
        assert reason in outcomes[link].reason
    assert outcomes[site_server.url("slow/3/article.html")].attempts == 2  # retried once
    assert outcomes[site_server.url("status/404")].attempts == 1  # not worth a retry
    assert outcomes[git_repo.as_uri()].crawler == "github"
    assert warehouse.count(ArticleDocument) == 2 and warehouse.count(RepositoryDocument) == 1
    assert all(o.seconds > 0 for o in report.outcomes if o.status == LinkStatus.STORED)


def test_rerun_skips_stored_links_and_force_replaces_them_in_place(
    warehouse, author, site_server, site_dir, git_repo
) -> None:
    links = [site_server.url("article.html"), str(site_dir / "notes.md"), str(git_repo)]
    first, _ = _crawl(links, author=author, warehouse=warehouse, settings=_settings())
    assert first.counts["stored"] == 3
    ids = {doc.link: doc.id for doc in warehouse.find(ArticleDocument)}

    again, outcomes = _crawl(links, author=author, warehouse=warehouse, settings=_settings())
    assert again.counts == {"stored": 0, "skipped": 3, "failed": 0}
    assert all(o.attempts == 0 and "already" in o.reason for o in outcomes.values())

    forced, _ = _crawl(links, author=author, warehouse=warehouse, settings=_settings(force=True))
    assert forced.counts == {"stored": 3, "skipped": 0, "failed": 0}
    assert warehouse.count(ArticleDocument) == 2 and warehouse.count(RepositoryDocument) == 1
    assert {doc.link: doc.id for doc in warehouse.find(ArticleDocument)} == ids


def test_a_transient_error_is_retried_with_backoff(warehouse, author, site_server) -> None:
    key = uuid.uuid4().hex
    recovers = site_server.url(f"flaky/1/article.html?key={key}")
    never = site_server.url(f"flaky/9/article.html?key={key}")
    settings = _settings(timeout_seconds=5, retries=2, backoff_seconds=0.05)
    report, outcomes = _crawl([recovers, never], author=author, warehouse=warehouse, settings=settings)

    assert outcomes[recovers].status == LinkStatus.STORED and outcomes[recovers].attempts == 2
    assert outcomes[never].status == LinkStatus.FAILED and outcomes[never].attempts == 3
    assert "HTTP 500" in outcomes[never].reason and "after 3 attempts" in outcomes[never].reason
    assert outcomes[never].seconds >= 0.05 + 0.1  # waited 0.05s, then 0.1s
    assert (
        warehouse.find_one(ArticleDocument, link=recovers).content["Title"] == "Truing a bicycle wheel by ear"
    )


class _Failing(Crawler):
    """A crawler that raises ``error`` for links with "boom" in them, and stores the others."""

    name = "article"
    document_type = ArticleDocument

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def crawl(self, link, *, user):
        if "boom" in link:
            raise self.error
        return [
            ArticleDocument(
                content={"Content": "ok"},
                platform="t",
                author_id=user.id,
                author_full_name=user.full_name,
                link=link,
            )
        ]


@pytest.mark.parametrize(
    "error", [KeyError("Title"), TypeError("unsupported operand"), AttributeError("'NoneType' has no 'text'")]
)
def test_a_programming_error_fails_the_run_instead_of_its_link(warehouse, author, error) -> None:
    links = ["http://a.example/boom", *(f"http://a.example/fine-{i}" for i in range(3))]
    dispatcher = CrawlerDispatcher({"article": lambda: _Failing(error)}, link_errors=LINK_ERRORS)
    with pytest.raises(type(error)) as caught:
        crawl_links(
            links,
            user=author,
            warehouse=warehouse,
            dispatcher=dispatcher,
            settings=_settings(),
            progress=False,
        )
    assert "while crawling http://a.example/boom" in "".join(caught.value.__notes__)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (WebDriverException("chrome not reachable"), "WebDriverException"),
        (ConnectionResetError("peer reset"), "ConnectionResetError: peer reset"),
        (PermissionError("denied"), "PermissionError: denied"),
    ],
)
def test_expected_adapter_errors_fail_only_their_link(warehouse, author, error, reason) -> None:
    links = ["http://a.example/boom", "http://a.example/fine"]
    dispatcher = CrawlerDispatcher({"article": lambda: _Failing(error)}, link_errors=LINK_ERRORS)
    report = crawl_links(
        links, user=author, warehouse=warehouse, dispatcher=dispatcher, settings=_settings(), progress=False
    )
    assert [o.status for o in report.outcomes] == [LinkStatus.FAILED, LinkStatus.STORED]
    assert reason in report.outcomes[0].reason


class _FakeBrowser:
    """Just enough of a WebDriver for the Medium crawler; counts the browsers open at once."""

    open_now = 0
    most_open = 0
    lock = threading.Lock()

    def __init__(self) -> None:
        with self.lock:
            _FakeBrowser.open_now += 1
            _FakeBrowser.most_open = max(_FakeBrowser.most_open, _FakeBrowser.open_now)
        self.page_source = ""

    def get(self, url: str) -> None:
        time.sleep(0.15)  # rendering takes a while: browsers overlap when the bound lets them
        self.page_source = (
            f"<html lang='en'><head><title>x</title></head><body><article><h1>Story {url[-1]}</h1>"
            f"<p>{'Text of the story number ' + url[-1] + '. ' * 20}</p></article></body></html>"
        )

    def find_elements(self, by: str, selector: str) -> list:
        return [type("Element", (), {"text": "rendered"})()]

    def quit(self) -> None:
        with self.lock:
            _FakeBrowser.open_now -= 1


@pytest.mark.parametrize(("max_workers", "max_browsers"), [(6, 1), (6, 2)])
def test_browsers_have_their_own_bound_below_max_workers(
    warehouse, author, site_server, max_workers, max_browsers
) -> None:
    _FakeBrowser.open_now = _FakeBrowser.most_open = 0
    medium = [f"https://medium.com/@ada/story-{i}" for i in range(6)]
    http = [site_server.url(f"slow/0.3/article.html?key={uuid.uuid4().hex}") for _ in range(3)]
    settings = _settings(max_workers=max_workers, max_browsers=max_browsers, timeout_seconds=5)
    report, outcomes = _crawl(
        medium + http, author=author, warehouse=warehouse, settings=settings, driver_factory=_FakeBrowser
    )
    assert report.counts == {"stored": 9, "skipped": 0, "failed": 0}
    assert _FakeBrowser.most_open == max_browsers and _FakeBrowser.open_now == 0
    assert warehouse.find_one(ArticleDocument, link=medium[3]).content["Title"] == "Story 3"
