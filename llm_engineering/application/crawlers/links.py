"""Reading links: which ones name local files, and where."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from llm_engineering.application.crawlers.base import CrawlError


def local_path(link: str) -> Path | None:
    """The local path that ``link`` names, or None when it is not a local link.

    Local links are ``file://`` URLs and absolute paths (``~`` is expanded).

    Raises:
        CrawlError: for a ``file://`` URL on another host.
    """
    if link.startswith(("/", "~")):
        return Path(link).expanduser()
    parts = urlsplit(link)
    if parts.scheme != "file":
        return None
    if parts.netloc not in ("", "localhost"):
        raise CrawlError(f"file:// URL names another host ({parts.netloc!r}): {link}")
    return Path(url2pathname(parts.path))


def is_git_repository(path: Path) -> bool:
    """Whether ``path`` is the top folder of a git working tree or a bare repository."""
    return path.is_dir() and (
        (path / ".git").exists() or (path / "HEAD").is_file() and (path / "objects").is_dir()
    )
