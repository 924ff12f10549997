"""Fixtures of the crawler tests: the loopback site, a local git repository, a PDF, Chromium.

The root conftest loads them with ``pytest_plugins``, so every test can use them.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.crawlers.browsing import DriverFactory
from tools.fixture_server import FixtureServer

SITE = Path(__file__).resolve().parent / "fixtures" / "site"
CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_PATH", "/usr/bin/chromedriver")
LINKEDIN_CREDENTIALS = ("ada@example.com", "analytical-engine")


@pytest.fixture(scope="session")
def site_server() -> Iterator[FixtureServer]:
    """tests/fixtures/site on a loopback port, with the failure and login routes."""
    with FixtureServer(SITE, credentials=LINKEDIN_CREDENTIALS) as server:
        yield server


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The fixture site's folder (pages, a Markdown note)."""
    return SITE


@pytest.fixture(scope="session")
def linkedin_credentials() -> tuple[str, str]:
    """The username and password that the fixture site's LinkedIn-like login accepts."""
    return LINKEDIN_CREDENTIALS


@pytest.fixture
def user() -> UserDocument:
    return UserDocument(first_name="Ada", last_name="Lovelace")


@pytest.fixture(scope="session")
def chrome_factory() -> DriverFactory:
    """Starts headless Debian Chromium; tests that need it skip where it is not installed."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"Chromium ({CHROMIUM}) or ChromeDriver ({CHROMEDRIVER}) is not installed")
    from llm_engineering.infrastructure.browser import chrome_driver

    return functools.partial(chrome_driver, binary=CHROMIUM, driver_path=CHROMEDRIVER, page_load_timeout=20)


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args], cwd=repo, env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="session")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local git repository with two commits and files the GitHub crawler must skip.

    Kept: README.md (second commit's text), src/engine/core.py, src/engine/indented.txt.
    Skipped: a binary PNG, vendor/ and node_modules/, data/big.txt (5000 bytes, over a
    4096-byte limit), package-lock.json (glob), docs/latin1.txt (not UTF-8).
    """
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("repos") / "engine"
    files: dict[str, str | bytes] = {
        "README.md": "# Engine\n\nFirst draft.\n",
        "src/engine/core.py": "def run() -> int:\n    return 42\n",
        "src/engine/indented.txt": "    four spaces lead this line\n\ttab here\n  trailing blanks stay  \n\n",
        "assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
        "vendor/lib/dep.py": "print('vendored')\n",
        "node_modules/pkg/index.js": "module.exports = 1;\n",
        "data/big.txt": "x" * 5000,
        "package-lock.json": "{}\n",
        "docs/latin1.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
    }
    for name, data in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", "first commit")
    (repo / "README.md").write_text("# Engine\n\nA tiny engine that returns 42.\n")
    _git(repo, "commit", "--quiet", "--all", "-m", "second commit")
    return repo


def minimal_pdf(pages: list[str], *, title: str) -> bytes:
    """A valid PDF with one Helvetica text page per item of ``pages`` (ASCII text, one line per ``\\n``)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    page_ids = [5 + 2 * i for i in range(len(pages))]
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(pages)} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({escape(title)}) /Producer (llm-twin tests) >>",
    ]
    for page_id, text in zip(page_ids, pages, strict=True):
        lines = " ".join(f"({escape(line)}) Tj T*" for line in text.split("\n"))
        stream = f"BT /F1 12 Tf 16 TL 72 720 Td {lines} ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("ascii")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode("ascii")
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)


@pytest.fixture
def pdf_file(tmp_path: Path) -> Path:
    """A two-page PDF titled "Notes on retries"."""
    path = tmp_path / "retries.pdf"
    path.write_bytes(
        minimal_pdf(
            ["Retry only what can succeed later.\nTimeouts and 503s qualify.", "A 404 will not fix itself."],
            title="Notes on retries",
        )
    )
    return path
