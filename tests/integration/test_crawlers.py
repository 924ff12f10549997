"""Each crawler on local fixtures: a loopback site, Chromium, a git repository, local files."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_engineering.application.crawlers.base import CrawlError, TransientCrawlError
from llm_engineering.configs.etl import GitHubRules
from llm_engineering.domain.documents import ArticleDocument, PostDocument
from llm_engineering.infrastructure.crawlers.article import ArticleCrawler
from llm_engineering.infrastructure.crawlers.browsing import BrowserPool
from llm_engineering.infrastructure.crawlers.github import GitHubCrawler
from llm_engineering.infrastructure.crawlers.linkedin import LinkedInCrawler, read_posts
from llm_engineering.infrastructure.crawlers.local_file import LocalFileCrawler
from llm_engineering.infrastructure.crawlers.medium import MediumCrawler
from llm_engineering.infrastructure.local_services import free_port

MEDIUM_MARKER = "The notebook turned out to be the real tool"


def _no_browser():
    raise AssertionError("this crawl must not start a browser")


# -- article ---------------------------------------------------------------------------------


def test_article_keeps_title_subtitle_and_paragraphs_without_boilerplate(site_server, user) -> None:
    link = site_server.url("article.html")
    [doc] = ArticleCrawler(timeout_seconds=5).crawl(link, user=user)
    assert doc.content["Title"] == "Truing a bicycle wheel by ear"
    assert (
        doc.content["Subtitle"] == "What a slow afternoon with a spoke key taught me about small corrections"
    )
    assert doc.content["language"] == "en"
    text = doc.content["Content"]
    assert "## Listening instead of measuring" in text
    assert "every spoke is a vote" in text and "stop as soon as the symptom is gone" in text
    assert "share a load.\n\nThe first lesson" in text  # paragraphs stay apart
    for boilerplate in ("Unsubscribe anytime", "Privacy policy", "Archive"):
        assert boilerplate not in text
    assert (doc.platform, doc.link, doc.author_id) == ("127.0.0.1", link, user.id)


def test_article_crawler_over_http_does_not_see_script_rendered_text(site_server, user) -> None:
    [doc] = ArticleCrawler(timeout_seconds=5).crawl(site_server.url("medium/js-article.html"), user=user)
    assert MEDIUM_MARKER not in doc.content["Content"]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, CrawlError),
        (410, CrawlError),
        (429, TransientCrawlError),
        (500, TransientCrawlError),
        (503, TransientCrawlError),
    ],
)
def test_article_http_errors(site_server, user, status: int, error: type[CrawlError]) -> None:
    with pytest.raises(error, match=f"HTTP {status}") as caught:
        ArticleCrawler(timeout_seconds=5).crawl(site_server.url(f"status/{status}"), user=user)
    assert type(caught.value) is error


def test_article_timeout_and_refused_connection_are_transient(site_server, user) -> None:
    with pytest.raises(TransientCrawlError, match="timed out after 0.3s"):
        ArticleCrawler(timeout_seconds=0.3).crawl(site_server.url("slow/2/article.html"), user=user)
    with pytest.raises(TransientCrawlError, match="connection failed"):
        ArticleCrawler(timeout_seconds=2).crawl(f"http://127.0.0.1:{free_port()}/x", user=user)


def test_article_pages_over_max_page_bytes_fail_naming_the_cap(site_server, user) -> None:
    crawler = ArticleCrawler(timeout_seconds=5, max_page_bytes=100_000)
    # No Content-Length: the crawler must stop reading once the cap is passed.
    with pytest.raises(CrawlError, match=r"larger than crawl.max_page_bytes \(100000 bytes\)"):
        crawler.crawl(site_server.url("big/50000000"), user=user)
    [doc] = crawler.crawl(site_server.url("article.html"), user=user)  # below the cap: fine
    with pytest.raises(CrawlError, match=r"crawl.max_page_bytes \(500 bytes\)"):  # declared length
        ArticleCrawler(timeout_seconds=5, max_page_bytes=500).crawl(
            site_server.url("article.html"), user=user
        )


# -- Medium (Chromium) -------------------------------------------------------------------------


@pytest.mark.integration
def test_medium_waits_for_script_rendered_article(site_server, user, chrome_factory) -> None:
    crawler = MediumCrawler(browsers=BrowserPool(chrome_factory, limit=1), timeout_seconds=15)
    [doc] = crawler.crawl(site_server.url("medium/js-article.html"), user=user)
    assert doc.platform == "medium"
    assert doc.content["Title"] == "Sourdough as a feedback loop"
    assert MEDIUM_MARKER in doc.content["Content"]
    assert "Loading" not in doc.content["Content"]


@pytest.mark.integration
def test_medium_without_article_text_fails_with_a_reason(site_server, user, chrome_factory) -> None:
    crawler = MediumCrawler(browsers=BrowserPool(chrome_factory, limit=1), timeout_seconds=1)
    with pytest.raises(CrawlError, match="article text .* did not appear within 1s"):
        crawler.crawl(site_server.url("linkedin/feed/"), user=user)


# -- LinkedIn (Chromium) -----------------------------------------------------------------------


def _linkedin(
    site_server, driver_factory, credentials: tuple[str, str] | None, *, browsers: int = 1
) -> LinkedInCrawler:
    username, password = credentials or (None, None)
    return LinkedInCrawler(
        browsers=BrowserPool(driver_factory, limit=browsers),
        username=username,
        password=password,
        timeout_seconds=10,
        login_url=site_server.url("linkedin/login.html"),
        base_url=site_server.url("linkedin"),
    )


def test_linkedin_without_credentials_says_what_to_set(site_server, user) -> None:
    with pytest.raises(CrawlError, match="LinkedIn needs LINKEDIN_USERNAME and LINKEDIN_PASSWORD"):
        _linkedin(site_server, _no_browser, None).crawl(
            "https://www.linkedin.com/in/ada-lovelace/", user=user
        )


@pytest.mark.integration
def test_linkedin_logs_in_and_reads_each_post(
    site_server, user, chrome_factory, linkedin_credentials
) -> None:
    link = "https://www.linkedin.com/in/ada-lovelace/recent-activity/all/"
    posts = _linkedin(site_server, chrome_factory, linkedin_credentials).crawl(link, user=user)
    assert [post.link for post in posts] == [
        "https://www.linkedin.com/feed/update/urn:li:activity:1001/",
        "https://www.linkedin.com/feed/update/urn:li:activity:1002/",
        f"{link}#post-3",
    ]
    assert posts[0].content["Content"].startswith("Shipped the new ingestion service today.")
    assert posts[1].content == {
        "Content": "Three questions I ask before adding a cache: what is the hit rate, who invalidates it, "
        "and what happens when it is empty?"
    }
    assert posts[0].image == site_server.url("linkedin/media/diagram.png")
    assert posts[1].image is None
    assert {post.platform for post in posts} == {"linkedin"}


@pytest.mark.integration
def test_linkedin_logs_in_once_for_many_pages_in_parallel(
    site_server, user, chrome_factory, linkedin_credentials
) -> None:
    crawler = _linkedin(site_server, chrome_factory, linkedin_credentials, browsers=2)
    before = site_server.hits["POST /linkedin/login-submit"]
    pages = [
        "https://www.linkedin.com/in/ada-lovelace/recent-activity/all/",
        "https://www.linkedin.com/in/ada-lovelace/recent-activity/all/?view=posts",
        "https://www.linkedin.com/in/ada-lovelace/recent-activity/all/?view=shares",
    ]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda link: crawler.crawl(link, user=user), pages))
    assert [len(posts) for posts in results] == [3, 3, 3]
    assert crawler.logins == 1
    assert site_server.hits["POST /linkedin/login-submit"] - before == 1


@pytest.mark.integration
def test_linkedin_wrong_password_is_a_login_failure(site_server, user, chrome_factory) -> None:
    crawler = _linkedin(site_server, chrome_factory, ("ada@example.com", "wrong"))
    with pytest.raises(CrawlError, match="LinkedIn login failed"):
        crawler.crawl("https://www.linkedin.com/in/ada-lovelace/recent-activity/all/", user=user)


# -- GitHub (local git repository) ---------------------------------------------------------------

RULES = GitHubRules(max_file_bytes=4096)


@pytest.mark.parametrize("as_uri", [False, True])
def test_github_keeps_text_files_exactly_and_skips_the_rest(git_repo, user, as_uri: bool) -> None:
    link = git_repo.as_uri() if as_uri else str(git_repo)
    [doc] = GitHubCrawler(rules=RULES, timeout_seconds=30).crawl(link, user=user)
    assert doc.name == "engine"
    assert doc.link == link
    assert sorted(doc.content) == ["README.md", "src/engine/core.py", "src/engine/indented.txt"]
    indented = doc.content["src/engine/indented.txt"]
    assert indented.startswith("    four") and indented.endswith("  \n\n")
    assert indented == (git_repo / "src/engine/indented.txt").read_text()
    assert doc.content["README.md"] == "# Engine\n\nA tiny engine that returns 42.\n"  # the last commit


def test_github_max_files_and_extra_exclusions(git_repo, user) -> None:
    rules = GitHubRules(max_file_bytes=10_000, max_files=2, exclude_globs=["*.md", "*.json"])
    [doc] = GitHubCrawler(rules=rules).crawl(str(git_repo), user=user)
    assert sorted(doc.content) == ["data/big.txt", "src/engine/core.py"]


def test_github_missing_repository_and_non_repository_url(tmp_path, user) -> None:
    with pytest.raises(CrawlError, match="no local repository"):
        GitHubCrawler().crawl(str(tmp_path / "nope"), user=user)
    with pytest.raises(CrawlError, match="not a repository URL"):
        GitHubCrawler().crawl("https://github.com/ada", user=user)


_RECORDING_GIT = """#!{python}
# Stands in for git on PATH: records how it was called, clones github.com URLs from a local
# repository instead (no network), and keeps a copy of the clone's .git/config.
import json, os, pathlib, subprocess, sys
args = sys.argv[1:]
local = [os.environ["REDIRECT_GITHUB_TO"] if a.startswith("https://github.com/") else a for a in args]
code = subprocess.call([os.environ["REAL_GIT"], *local])
config = pathlib.Path(args[-1], ".git", "config")
record = {{
    "argv": sys.argv,
    "env": {{k: v for k, v in os.environ.items() if k.startswith("GIT_CONFIG")}},
    "git_config": config.read_text() if config.exists() else None,
}}
pathlib.Path(os.environ["GIT_RECORD"]).write_text(json.dumps(record))
sys.exit(code)
"""


@pytest.fixture
def recording_git(tmp_path, monkeypatch, git_repo):
    """Puts a recording ``git`` first on PATH; returns a function reading the last call's record."""
    real_git = shutil.which("git")
    folder = tmp_path / "bin"
    folder.mkdir()
    wrapper = folder / "git"
    wrapper.write_text(_RECORDING_GIT.format(python=sys.executable))
    wrapper.chmod(0o755)
    record = tmp_path / "git-call.json"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("REAL_GIT", real_git)
    monkeypatch.setenv("REDIRECT_GITHUB_TO", f"file://{git_repo}")
    monkeypatch.setenv("GIT_RECORD", str(record))
    return lambda: json.loads(record.read_text())


def test_github_token_goes_through_gits_environment_never_argv_or_git_config(recording_git, user) -> None:
    token = "ghp_s3cr3tTOKEN"
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    [doc] = GitHubCrawler(rules=RULES, token=token).crawl(
        "https://www.github.com/ada/engine/tree/main", user=user
    )
    assert doc.content["README.md"] == "# Engine\n\nA tiny engine that returns 42.\n"  # a real clone
    call = recording_git()
    assert "https://github.com/ada/engine.git" in call["argv"]
    assert not any(token in arg or basic in arg for arg in call["argv"])
    assert token not in call["git_config"] and basic not in call["git_config"]
    assert call["env"]["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraHeader"
    assert call["env"]["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {basic}"


def test_github_token_is_sent_to_github_com_only(user, monkeypatch) -> None:
    token = "ghp_s3cr3tTOKEN"
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")  # the user's own git settings stay first
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.askPass")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "")
    crawler = GitHubCrawler(token=token)

    def header_for(source: str, url: str) -> str:
        # git itself answers which extra header it would send to ``url``.
        result = subprocess.run(
            ["git", "config", "--get-urlmatch", "http.extraHeader", url],
            env=crawler.git_environment(source),
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip()

    github = "https://github.com/ada/engine.git"
    assert header_for(github, github).startswith("Authorization: Basic ")
    assert crawler.git_environment(github)["GIT_CONFIG_COUNT"] == "2"
    assert header_for(github, "https://gitlab.com/ada/engine.git") == ""
    assert header_for(github, "https://github.com.evil.example/ada/engine.git") == ""
    for source in (
        "https://gitlab.com/ada/engine.git",
        "http://github.com/ada/engine.git",
        "file:///srv/engine",
    ):
        env = crawler.git_environment(source)
        assert not any(token in value or "Authorization" in value for value in env.values())
    assert "GIT_CONFIG_KEY_1" not in GitHubCrawler().git_environment(github)  # no token, no header


def test_github_clone_errors_are_crawl_errors(user) -> None:
    crawler = GitHubCrawler(token="ghp_s3cr3t", timeout_seconds=20)
    with pytest.raises(TransientCrawlError, match="git clone failed"):  # connection refused: worth a retry
        crawler.crawl(f"https://127.0.0.1:{free_port()}/ada/engine", user=user)


# -- local files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("as_uri", [False, True])
def test_local_markdown_keeps_text_and_takes_the_first_heading(user, site_dir, as_uri: bool) -> None:
    path = site_dir / "notes.md"
    [doc] = LocalFileCrawler().crawl(path.as_uri() if as_uri else str(path), user=user)
    assert doc.content["Title"] == "Field notes on small batch jobs"
    assert doc.content["Content"] == path.read_text()
    assert doc.platform == "local"


def test_local_text_html_and_pdf(user, tmp_path, site_dir, pdf_file) -> None:
    text = tmp_path / "plain-notes.txt"
    text.write_text("# not a heading in a .txt\nJust text.\n")
    [doc] = LocalFileCrawler().crawl(str(text), user=user)
    assert doc.content["Title"] == "plain-notes"

    [doc] = LocalFileCrawler().crawl(str(site_dir / "article.html"), user=user)
    assert doc.content["Title"] == "Truing a bicycle wheel by ear"
    assert "Privacy policy" not in doc.content["Content"]

    [doc] = LocalFileCrawler().crawl(str(pdf_file), user=user)
    assert doc.content["Title"] == "Notes on retries"
    assert doc.content["Content"] == (
        "Retry only what can succeed later.\nTimeouts and 503s qualify.\n\nA 404 will not fix itself."
    )


def test_local_missing_and_unsupported_files(user, tmp_path) -> None:
    with pytest.raises(CrawlError, match="no such file"):
        LocalFileCrawler().crawl(str(tmp_path / "missing.md"), user=user)
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(CrawlError, match="unsupported file type '.docx'"):
        LocalFileCrawler().crawl((tmp_path / "report.docx").as_uri(), user=user)


def test_a_local_file_in_a_posts_folder_becomes_a_post(user, tmp_path) -> None:
    post = tmp_path / "posts" / "shipping-friday.md"
    post.parent.mkdir()
    post.write_text("# Shipping on Friday\nWe shipped. Nothing broke.\n")
    [doc] = LocalFileCrawler().crawl(str(post), user=user)
    assert isinstance(doc, PostDocument)
    assert doc.content["Content"] == post.read_text()
    article_path = tmp_path / "shipping-friday.md"
    article_path.write_text(post.read_text())
    [article] = LocalFileCrawler().crawl(str(article_path), user=user)
    assert isinstance(article, ArticleDocument)


def test_local_files_over_max_file_bytes_fail_naming_the_cap(user, tmp_path) -> None:
    big = tmp_path / "big.md"
    big.write_text("# Big\n" + "word " * 400)
    size = big.stat().st_size
    with pytest.raises(
        CrawlError, match=rf"big.md is {size} bytes, larger than crawl.max_file_bytes \(1000 bytes\)"
    ):
        LocalFileCrawler(max_file_bytes=1000).crawl(str(big), user=user)
    [doc] = LocalFileCrawler(max_file_bytes=size).crawl(str(big), user=user)  # at the cap: read
    assert doc.content["Title"] == "Big"


def test_linkedin_posts_are_read_from_the_rendered_dom() -> None:
    html = """<html><body><main>
      <div class="feed-shared-update-v2" data-urn="urn:li:activity:7">
        <div class="update-components-text"><span>First line<br>second   line</span>
          <span><br><br><br>after a gap</span></div>
        <div class="update-components-image"><img src="/media/a.png"></div>
      </div>
      <div class="feed-shared-update-v2"><div class="update-components-text"> </div></div>
      <div class="feed-shared-update-v2"><p>No text block, <b>still</b> a post</p></div>
    </main></body></html>"""
    link = "https://www.linkedin.com/in/ada/recent-activity/all/"
    posts = read_posts(html, link=link, page_url="http://127.0.0.1:9/linkedin/in/ada/")
    assert posts == [
        (
            "https://www.linkedin.com/feed/update/urn:li:activity:7/",
            "First line\nsecond line\n\nafter a gap",
            "http://127.0.0.1:9/media/a.png",
        ),
        (f"{link}#post-3", "No text block, still a post", None),  # numbered by position on the page
    ]


def test_a_saved_html_page_is_decoded_as_it_declares(user, tmp_path) -> None:
    body = "Un café crème bien chaud, servi au comptoir. " * 8
    page = tmp_path / "cafe.html"
    page.write_bytes(
        (
            '<html lang="fr"><head><meta charset="windows-1252"><title>Café crème</title></head>'
            f"<body><nav>Accueil</nav><article><h1>Café crème</h1><p>{body}</p></article></body></html>"
        ).encode("cp1252")
    )
    [doc] = LocalFileCrawler().crawl(str(page), user=user)
    assert doc.content["Title"] == "Café crème"
    assert "Un café crème bien chaud" in doc.content["Content"] and "Accueil" not in doc.content["Content"]
    assert doc.content["language"] == "fr"
