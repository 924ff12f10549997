"""Adapter: code repositories, by a shallow ``git clone`` and a read of the text files it holds."""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

from llm_engineering.application.crawlers.base import Crawler, CrawlerName, CrawlError, TransientCrawlError
from llm_engineering.application.crawlers.links import local_path
from llm_engineering.configs.etl import GitHubRules
from llm_engineering.domain.documents import ContentDocument, RepositoryDocument, UserDocument

GITHUB_HOST = "github.com"
GITHUB_PREFIX = f"https://{GITHUB_HOST}/"
"""The only address the token is sent to."""

# git's stderr lines that mean "try again later" rather than "this cannot work".
_TRANSIENT_GIT_ERRORS = (
    "could not resolve host",
    "connection timed out",
    "connection reset",
    "connection refused",
    "failed to connect",
    "couldn't connect",
    "operation timed out",
    "early eof",
    "the remote end hung up",
    "http 5",
    "returned error: 5",
    "returned error: 429",
)


class GitHubCrawler(Crawler):
    """Clones a repository (``git clone --depth 1``) and keeps its text files as they are.

    Accepts ``https://github.com/OWNER/REPO`` links (any deeper path is ignored) and, for
    local work and tests, paths or ``file://`` URLs of local git repositories.

    Args:
        rules: which files are kept (size limit, excluded folders and patterns, file count).
        timeout_seconds: timeout of the clone.
        token: GitHub token for private repositories. It reaches git only through git's
            environment, as an ``Authorization`` header scoped to ``https://github.com/``:
            never on the command line (visible to every user in ``ps``), never in the clone's
            ``.git/config``, never sent to another host.
    """

    name = CrawlerName.GITHUB
    document_type = RepositoryDocument

    def __init__(
        self,
        *,
        rules: GitHubRules | None = None,
        timeout_seconds: float = 120.0,
        token: str | None = None,
    ) -> None:
        self.rules = rules or GitHubRules()
        self.timeout_seconds = timeout_seconds
        self._token = token

    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        source, name, platform = self._source(link)
        with tempfile.TemporaryDirectory(prefix="llm-twin-clone-") as tmp:
            checkout = Path(tmp) / name
            self._clone(source, checkout)
            files = read_text_files(checkout, self.rules)
        if not files:
            raise CrawlError(f"repository {name!r} has no text files to keep (see crawl.github rules)")
        return [
            RepositoryDocument(
                name=name,
                content=files,
                platform=platform,
                author_id=user.id,
                author_full_name=user.full_name,
                link=link,
            )
        ]

    def _source(self, link: str) -> tuple[str, str, str]:
        """``(clone source, repository name, platform)`` of ``link``."""
        parts = urlsplit(link)
        if parts.scheme in ("http", "https"):
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) < 2:
                raise CrawlError(f"not a repository URL (expected https://github.com/OWNER/REPO): {link}")
            owner, name = segments[0], segments[1].removesuffix(".git")
            host = (parts.hostname or "").lower()
            netloc = GITHUB_HOST if host in (GITHUB_HOST, "www." + GITHUB_HOST) else parts.netloc
            return f"{parts.scheme}://{netloc}/{owner}/{name}.git", name, "github"
        path = local_path(link)
        if path is None or not path.is_dir():
            raise CrawlError(f"no local repository at {path}")
        # A file:// source makes git honour --depth, which it ignores for plain paths.
        # Not Path.as_uri(): git does not percent-decode file:// URLs.
        return f"file://{path.resolve()}", path.resolve().name.removesuffix(".git"), "local"

    def git_environment(self, source: str) -> dict[str, str]:
        """The environment of the ``git clone`` of ``source``.

        The token, when there is one and ``source`` is on https://github.com/, is passed as
        an extra HTTP header through git's ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/
        ``GIT_CONFIG_VALUE_n`` variables, added after any the caller's environment holds.
        """
        # Never prompt for credentials: a private repository without a token must fail, not hang.
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
        if self._token and source.startswith(GITHUB_PREFIX):
            basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode("ascii")
            index = int(env.get("GIT_CONFIG_COUNT") or 0)
            env[f"GIT_CONFIG_KEY_{index}"] = f"http.{GITHUB_PREFIX}.extraHeader"
            env[f"GIT_CONFIG_VALUE_{index}"] = f"Authorization: Basic {basic}"
            env["GIT_CONFIG_COUNT"] = str(index + 1)
        return env

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _clone(self, source: str, target: Path) -> None:
        command = ["git", "clone", "--depth", "1", "--quiet", "--no-tags", source, str(target)]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=self.timeout_seconds,
                env=self.git_environment(source),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TransientCrawlError(f"git clone timed out after {self.timeout_seconds:g}s") from None
        except FileNotFoundError as exc:
            raise CrawlError("git is not installed") from exc
        if result.returncode != 0:
            message = self._redact(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "")
            error = (
                TransientCrawlError
                if any(m in message.lower() for m in _TRANSIENT_GIT_ERRORS)
                else CrawlError
            )
            raise error(f"git clone failed (exit {result.returncode}): {message}")


def _walk(folder: Path, exclude_dirs: set[str]) -> Iterator[Path]:
    """Files under ``folder`` in a stable order, without descending into excluded folders."""
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():  # may point outside the checkout
            continue
        if entry.is_dir():
            if entry.name not in exclude_dirs:
                yield from _walk(entry, exclude_dirs)
        elif entry.is_file():
            yield entry


def read_text_files(root: Path, rules: GitHubRules) -> dict[str, str]:
    """Relative POSIX path -> exact text of each file kept by ``rules``.

    Binary files (a NUL byte, or not UTF-8), files over ``max_file_bytes``, excluded folders
    and patterns are skipped; at most ``max_files`` files are kept.
    """
    files: dict[str, str] = {}
    for path in _walk(root, set(rules.exclude_dirs)):
        relative = path.relative_to(root).as_posix()
        if any(fnmatch(path.name, glob) or fnmatch(relative, glob) for glob in rules.exclude_globs):
            continue
        if path.stat().st_size > rules.max_file_bytes:
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            files[relative] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(files) >= rules.max_files:
            break
    return files
