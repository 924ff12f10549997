"""Adapter: local files. Markdown and text notes, saved HTML pages (BeautifulSoup, trafilatura), PDFs (pypdf)."""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from llm_engineering.application.crawlers.base import Crawler, CrawlerName, CrawlError
from llm_engineering.application.crawlers.links import local_path
from llm_engineering.domain.documents import ArticleDocument, ContentDocument, PostDocument, UserDocument
from llm_engineering.infrastructure.crawlers.extraction import extract_from_dom

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
DEFAULT_MAX_FILE_BYTES = 50_000_000

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


class LocalFileCrawler(Crawler):
    """Reads one local file (absolute path or ``file://`` URL) into an article or a post.

    A file inside a folder named ``posts`` becomes a post (short social writing, as exported
    from LinkedIn or X); any other file becomes an article.

    Args:
        max_file_bytes: a file over this size fails without being read (``crawl.max_file_bytes``).
    """

    name = CrawlerName.LOCAL_FILE
    document_type = ArticleDocument

    def __init__(self, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.max_file_bytes = max_file_bytes

    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        path = local_path(link)
        if path is None:
            raise CrawlError(f"not a local path or file:// URL: {link}")
        if not path.is_file():
            raise CrawlError(f"no such file: {path}" if not path.exists() else f"not a file: {path}")
        size = path.stat().st_size
        if size > self.max_file_bytes:
            raise CrawlError(
                f"{path.name} is {size} bytes, larger than crawl.max_file_bytes ({self.max_file_bytes} bytes)"
            )
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            content = read_text(path)
        elif suffix in HTML_SUFFIXES:
            content = extract_from_dom(path.read_bytes(), url=path.as_uri(), root_selector="article, main")
        elif suffix in PDF_SUFFIXES:
            content = read_pdf(path)
        else:
            supported = ", ".join(TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES)
            raise CrawlError(f"unsupported file type {suffix or '(none)'!r} (supported: {supported})")
        document_type = PostDocument if "posts" in path.parent.parts else ArticleDocument
        return [
            document_type(
                content=content,
                platform="local",
                author_id=user.id,
                author_full_name=user.full_name,
                link=link,
            )
        ]


def read_text(path: Path) -> dict[str, str]:
    """A Markdown or text file: the first heading (or the file name) as title, the text as it is.

    Raises:
        CrawlError: if the file is not UTF-8 or holds no text.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CrawlError(f"{path.name} is not UTF-8 text") from exc
    if not text.strip():
        raise CrawlError(f"{path.name} is empty")
    heading = _HEADING.search(text) if path.suffix.lower() != ".txt" else None
    return {"Title": heading.group(1) if heading else path.stem, "Subtitle": "", "Content": text}


def read_pdf(path: Path) -> dict[str, str]:
    """A PDF: the text of each page, joined by blank lines; the title from its metadata or file name.

    Raises:
        CrawlError: if the PDF cannot be read or holds no text (a scan without a text layer).
    """
    try:
        reader = PdfReader(path)
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except (PdfReadError, ValueError, OSError) as exc:
        raise CrawlError(f"cannot read PDF {path.name}: {exc}") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise CrawlError(f"no text found in PDF {path.name} (scanned pages without a text layer?)")
    return {"Title": str(title).strip(), "Subtitle": "", "Content": text}
