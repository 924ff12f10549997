"""Cleaning per data category: keep the meaning, drop the page around it.

The warehouse holds text as crawled: articles are Markdown made from HTML pages (by
trafilatura, or html2text in the handbook corpus) and still carry menus, share buttons,
bylines and footers; posts are LinkedIn text; repositories map file paths to file contents.
Cleaning turns each into one text that the chunker and the dataset generator can trust.

Rules, per category (each has a unit test on an inline case and on a real page):

**Articles** (:func:`clean_article`)

1. Characters: Unicode NFC for everything, NFKC for prose (maps styled letters such as
   𝗯𝗼𝗹𝗱 to plain ones, which the embedding tokenizer knows); Windows and old Mac line
   endings become ``\\n``; no-break and other odd spaces become spaces; zero-width
   characters go.
2. Page chrome in run-together text (pages whose text has no line breaks, e.g. Medium):
   everything up to the ``ListenShare`` button row near the top, and everything from a
   known footer (``Sign up to discover human stories``, ``Discussion about this post``, ...)
   on, is cut.
3. Code survives verbatim: fenced blocks (```` ``` ````) and indented blocks (4 spaces or a
   tab, after a blank line, not a list item) are kept character for character, re-emitted
   as fenced blocks; only the copy-button marker ``__`` glued to their last line goes.
4. Boilerplate lines go: share/subscribe/sign-in widgets, comment-section labels, the
   "requires JavaScript" notice, copyright lines, bare site domains, lone numbers
   (like and comment counters), lines of only punctuation or icon markers, and headings
   that repeat the title or subtitle.
5. The page header goes: the run of short lines (at most 8 words: bylines, dates, menus,
   tables of contents) before the first sentence-length paragraph is dropped when it holds
   at least 3 such lines; a heading or one short line before the text stays.
6. Prose is normalised: lines wrapped inside a paragraph are joined (``pre-`` +
   ``trained`` -> ``pre-trained``), runs of spaces become one, ``**bold**`` markers and
   stray ``__`` icon markers go; paragraphs, headings, list items and quotes keep their
   own lines, and paragraphs are separated by exactly one blank line.
7. The title and the subtitle open the text as its first paragraphs (the subtitle only
   when the body does not already start with it).

**Posts** (:func:`clean_post`): the character rules above, ``hashtag#`` -> ``#``, the
``…see more`` and ``See translation`` buttons go; the author's own line breaks stay
(they are part of the style), runs of blank lines become one.

**Repositories** (:func:`clean_repository`): code whitespace is kept as it is (indentation,
tabs, blank lines); only line endings are normalised and trailing blank lines trimmed.
Files are sorted by path and joined under ``## File: <path>`` headers after a ``# <name>``
title; empty files and binary files (with NUL bytes) are left out.

A document whose cleaned text is empty yields None: the caller counts it as skipped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.documents import ContentDocument
from llm_engineering.domain.types import DataCategory

# -- characters --------------------------------------------------------------------------

_ODD_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")


def normalise_characters(text: str) -> str:
    """NFC, ``\\n`` line endings, plain spaces, no zero-width characters or soft hyphens."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ZERO_WIDTH.sub("", text)
    return _ODD_SPACES.sub(" ", text)


# -- boilerplate -------------------------------------------------------------------------

BOILERPLATE_LINES = frozenset(
    line.casefold()
    for line in (
        # share and subscribe widgets (Substack, Medium)
        "Share this post",
        "Share",
        "Copy link",
        "Facebook",
        "Email",
        "Note",
        "Other",
        "Subscribe",
        "SubscribeSign in",
        "Sign in",
        "Sign up",
        "Listen",
        "ListenShare",
        "Top highlight",
        "Open in app",
        "PreviousNext",
        "Previous",
        "Next",
        "Start WritingGet the app",
        "Substack is the home for great culture",
        "Privacy ∙ Terms ∙ Collection notice",
        # comment sections
        "Discussion about this post",
        "Comments",
        "Restacks",
        "Top",
        "Latest",
        "Discussions",
        "No posts",
        "Ready for more?",
        # notices
        "This site requires JavaScript to run correctly. Please turn on JavaScript or unblock scripts",
        "To make Medium work, we log user data. By using Medium, you agree to our Privacy Policy, "
        "including cookie policy.",
        # generic captions that say nothing about the picture
        "Image by author",
        "Image by the author",
        "Image by Author",
    )
)
"""Lines dropped wherever they stand (compared case-insensitively, markup stripped)."""

FOOTER_MARKERS: tuple[str, ...] = (
    "Discussion about this post",
    "Sign up to discover human stories",
    "Recommended from Medium",
    "This site requires JavaScript to run correctly",
)
"""Text from the first of these on (in the second half of a page) is page footer."""

HEADER_END_MARKERS: tuple[str, ...] = ("ListenShare",)
"""In run-together text, everything up to one of these (near the top) is page header."""

_HEADER_SEARCH_CHARS = 3000
_SHORT_LINE_WORDS = 8
_MIN_HEADER_LINES = 3

_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s*(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ONLY_MARKS = re.compile(r"^[\W_\d]*$")  # punctuation, icons, underscores, digits (counters)
_COUNTER = re.compile(r"^[\d.,]+\s*[KkMm]?$")
_DOMAIN = re.compile(
    r"^(?:[A-Za-z0-9-]+\.)+(?:com|org|net|io|ai|dev|co|me|app|blog|substack)$", re.IGNORECASE
)
_COPYRIGHT = re.compile(r"^(?:__)?\s*(?:©|\(c\)|copyright\b)", re.IGNORECASE)
_BOLD = re.compile(r"\*\*|(?<!\w)__(?!\w)|(?<=\s)__(?=\w)|^__(?=\w)")
_SPACES = re.compile(r"[ \t]{2,}")


def _plain(line: str) -> str:
    """A line without Markdown markers, for comparisons."""
    heading = _HEADING.match(line)
    if heading and heading.group(1):
        line = heading.group(2)
    line = _LIST_ITEM.sub("", line)
    return _SPACES.sub(" ", line.replace("**", "").replace("__", "").strip(" *_#>")).strip()


def is_boilerplate_line(line: str, *, title_keys: Iterable[str] = ()) -> bool:
    """Whether a prose line is page chrome rather than writing (see the module rules 4)."""
    plain = _plain(line)
    if not plain:
        return True
    folded = plain.casefold()
    if folded in BOILERPLATE_LINES or _ONLY_MARKS.match(plain) or _COUNTER.match(plain):
        return True
    if _DOMAIN.match(plain) or (_COPYRIGHT.match(line.strip()) and len(plain) < 120):
        return True
    return bool(_HEADING.match(line)) and any(_repeats_title(folded, key) for key in title_keys)


def _repeats_title(heading: str, title: str) -> bool:
    """Whether a heading repeats the title: equal, or the title's part before/after a separator."""
    if heading == title:
        return True
    if len(heading.split()) < 3:
        return False
    return title.startswith(heading + " ") or title.endswith(" " + heading)


# -- blocks ------------------------------------------------------------------------------


@dataclass
class _Block:
    lines: list[str]
    code: bool = False


def _is_indented(line: str) -> bool:
    return line.startswith(("    ", "\t"))


def _split_blocks(text: str) -> list[_Block]:
    """Blank-line separated blocks; fenced and indented code blocks kept whole and marked."""
    lines = text.split("\n")
    blocks: list[_Block] = []
    current: list[str] = []
    i = 0

    def flush() -> None:
        if current:
            blocks.append(_Block(list(current)))
            current.clear()

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            end = i + 1
            while end < len(lines) and not lines[end].lstrip().startswith(marker):
                end += 1
            blocks.append(_Block(lines[i : end + 1], code=True))
            i = end + 1
            continue
        if (
            not current
            and _is_indented(line)
            and (i == 0 or not lines[i - 1].strip())
            and not _LIST_ITEM.match(line)
        ):
            end = i
            while end < len(lines) and (_is_indented(lines[end]) or not lines[end].strip()):
                end += 1
            body = lines[i:end]
            if any(row.strip() for row in body) and not any(
                _LIST_ITEM.match(row) for row in body if row.strip()
            ):
                blocks.append(_Block(_fence_indented(body), code=True))
                i = end
                continue
        if not line.strip():
            flush()
        else:
            current.append(line)
        i += 1
    flush()
    return blocks


def _fence_indented(body: list[str]) -> list[str]:
    """An indented code block as a fenced one: dedented, blank edges and copy icon removed."""
    rows = [row.expandtabs(4) if row.startswith("\t") else row for row in body]
    while rows and not rows[0].strip():
        rows.pop(0)
    while rows and not rows[-1].strip():
        rows.pop()
    indent = min(len(row) - len(row.lstrip(" ")) for row in rows if row.strip())
    rows = [row[indent:].rstrip() for row in rows]
    rows[-1] = re.sub(r"\s*__$", "", rows[-1])  # html2text's copy-button icon
    return ["```", *rows, "```"]


# -- prose -------------------------------------------------------------------------------


def _clean_prose_line(line: str) -> str:
    line = unicodedata.normalize("NFKC", line)
    indent = ""
    item = _LIST_ITEM.match(line)
    if item:
        indent = " " * min(len(line) - len(line.lstrip(" ")), 8)
        line = line.lstrip(" ")
    line = _BOLD.sub("", line)
    line = _SPACES.sub(" ", line.replace("\t", " ")).strip()
    return indent + line


def _starts_own_line(line: str) -> bool:
    stripped = line.lstrip()
    return bool(
        _LIST_ITEM.match(line) or _HEADING.match(line) or stripped.startswith(("|", ">")) or not stripped
    )


def _join_wrapped(lines: list[str]) -> list[str]:
    """Join lines wrapped inside a paragraph; list items, headings, quotes and tables keep their lines."""
    joined: list[str] = []
    for line in lines:
        if joined and not _starts_own_line(line) and not _HEADING.match(joined[-1]):
            previous = joined[-1]
            if re.search(r"\w-$", previous) and line[:1].islower():
                joined[-1] = previous + line
            else:
                joined[-1] = previous + " " + line
        else:
            joined.append(line)
    return joined


def _word_count(line: str) -> int:
    return len(_plain(line).split())


def _is_sentence_paragraph(block: _Block) -> bool:
    if block.code:
        return False
    first = block.lines[0]
    return (
        not _LIST_ITEM.match(first)
        and not _HEADING.match(first)
        and _word_count(" ".join(block.lines)) > _SHORT_LINE_WORDS
    )


def _drop_header(blocks: list[_Block]) -> list[_Block]:
    """Drop the run of short lines before the first sentence-length paragraph (rule 5)."""
    for position, block in enumerate(blocks):
        if _is_sentence_paragraph(block):
            header = blocks[:position]
            if sum(len(b.lines) for b in header) >= _MIN_HEADER_LINES and not any(b.code for b in header):
                return blocks[position:]
            return blocks
    return blocks


def _cut_page_chrome(text: str) -> str:
    """Cut the header and footer of run-together pages (rule 2)."""
    for marker in HEADER_END_MARKERS:
        position = text.find(marker, 0, _HEADER_SEARCH_CHARS)
        if position >= 0:
            text = text[position + len(marker) :]
    half = len(text) // 2
    cuts = [p for p in (text.find(m, half) for m in FOOTER_MARKERS) if p >= 0]
    if cuts:
        text = text[: min(cuts)]
    return text


def _title_keys(*titles: str | None) -> set[str]:
    keys = set()
    for title in titles:
        if title:
            plain = _plain(unicodedata.normalize("NFKC", normalise_characters(title)))
            keys.add(plain.casefold())
    return keys


def clean_article_text(text: str, *, title: str | None = None, subtitle: str | None = None) -> str:
    """The article body with the rules 1-6 of the module applied.

    Args:
        text: the crawled Markdown text of the page.
        title: the article's title; headings that repeat it are dropped.
        subtitle: the article's subtitle; headings that repeat it are dropped.
    """
    text = _cut_page_chrome(normalise_characters(text))
    keys = _title_keys(title, subtitle)
    kept: list[_Block] = []
    for block in _split_blocks(text):
        if block.code:
            kept.append(block)
            continue
        lines = [line for line in block.lines if not is_boilerplate_line(line, title_keys=keys)]
        lines = [_clean_prose_line(line) for line in lines]
        lines = [line for line in lines if line.strip() and not is_boilerplate_line(line, title_keys=keys)]
        if lines:
            kept.append(_Block(_join_wrapped(lines)))
    kept = _drop_header(kept)
    return "\n\n".join("\n".join(block.lines) for block in kept).strip()


def clean_article(content: Mapping[str, Any]) -> tuple[str | None, str]:
    """Title and cleaned text of an article's crawled ``content`` (rules 1-7).

    Args:
        content: ``{"Title", "Subtitle", "Content"}`` as the crawlers store it.

    Returns:
        The title (None when the page has none) and the cleaned text, title and subtitle first;
        the text is empty when the page body holds nothing but boilerplate.
    """
    title = _clean_prose_line(normalise_characters(str(content.get("Title") or ""))) or None
    subtitle = _clean_prose_line(normalise_characters(str(content.get("Subtitle") or ""))) or None
    body = clean_article_text(str(content.get("Content") or ""), title=title, subtitle=subtitle)
    if not body:
        return title, ""
    parts = [title] if title else []
    if subtitle and subtitle.casefold() not in body[: len(subtitle) + 200].casefold():
        parts.append(subtitle)
    parts.append(body)
    return title, "\n\n".join(parts)


_SEE_MORE = re.compile(r"^\s*(?:…|\.\.\.)\s*see more\s*$|^\s*see translation\s*$", re.IGNORECASE)


def clean_post(content: Mapping[str, Any]) -> str:
    """Cleaned text of a post's crawled ``content`` (``{"Content": text}``); see the module rules."""
    text = normalise_characters(str(content.get("Content") or content.get("text") or ""))
    text = re.sub(r"\bhashtag#", "#", text)
    text = re.sub(r"(?:…|\.\.\.)\s*see more\s*$", "", text, flags=re.IGNORECASE)
    lines = []
    for line in text.split("\n"):
        if _SEE_MORE.match(line):
            continue
        lines.append(_SPACES.sub(" ", unicodedata.normalize("NFKC", line).replace("\t", " ")).strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_repository(name: str, files: Mapping[str, Any]) -> str:
    """Files of a repository joined under path headers; code whitespace kept (see the module rules).

    Args:
        name: the repository's name (the text's title line).
        files: file path -> file content.
    """
    sections = []
    for path in sorted(files):
        body = files[path]
        if not isinstance(body, str) or "\x00" in body:
            continue
        body = body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
        if not body.strip():
            continue
        sections.append(f"## File: {path}\n\n{body}")
    if not sections:
        return ""
    return f"# {name}\n\n" + "\n\n".join(sections)


def clean_document(document: ContentDocument) -> CleanedDocument | None:
    """The cleaned form of a warehouse document, or None when nothing is left of it.

    Args:
        document: an article, post or repository document.

    Returns:
        The cleaned document, carrying the raw document's id and content hash; None when
        its cleaned text is empty (the caller counts it as skipped).
    """
    category = DataCategory(document.category)
    title: str | None = None
    if category == DataCategory.ARTICLES:
        title, text = clean_article(document.content)
    elif category == DataCategory.POSTS:
        text = clean_post(document.content)
    else:
        title = getattr(document, "name", None) or None
        text = clean_repository(title or "repository", document.content)
    if not text.strip():
        return None
    return CleanedDocument(
        id=document.id,
        category=category,
        title=title,
        content=text,
        platform=document.platform,
        author_id=document.author_id,
        author_full_name=document.author_full_name,
        link=document.link,
        source_hash=document.content_hash,
    )
