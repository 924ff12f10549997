"""Cleaning per data category: keep the meaning, drop the page around it.

The warehouse holds text as crawled: articles are Markdown made from HTML pages (by
trafilatura, or html2text in the handbook corpus) and still carry menus, share buttons,
bylines and footers; posts are LinkedIn text; repositories map file paths to file contents.
Cleaning turns each into one text that the chunker and the dataset generator can trust.
Blocks and lines come from :mod:`~llm_engineering.application.preprocessing.lines`; this module holds
the rules.

Rules, per category (each has a unit test on an inline case and on a real page):

**Articles** (:func:`clean_article`)

1. Characters: Unicode NFC for everything, NFKC for prose (maps styled letters such as
   𝗯𝗼𝗹𝗱 to plain ones, which the embedding tokenizer knows); Windows and old Mac line
   endings become ``\\n``; no-break and other odd spaces become spaces; zero-width
   characters go.
2. Page chrome in run-together text (pages whose text has no line breaks, e.g. Medium):
   everything up to the ``ListenShare`` button row near the top, and everything from a
   known footer (``Sign up to discover human stories``, ``Discussion about this post``, ...)
   in the second half of the page on, is cut.
3. Code and tables survive verbatim: fenced blocks (```` ``` ````) and indented blocks (4
   spaces or a tab, not a list item) are kept character for character, indented ones
   re-emitted as fenced blocks without the copy-button marker ``__`` glued to their last
   line; table rows (``| 1999 | 0.5 |``, ``|---|``) keep their characters.
4. Noise goes wherever it stands: site notices (``SubscribeSign in``, the "requires
   JavaScript" notice, ...), generic captions (``Image by author``), lines of only marks
   (``* * *``, ``↓↓↓``), empty headings, lines of only links, and the author's repeated
   lines passed as ``boilerplate`` (:func:`boilerplate.repeated_lines`).
5. Page chrome goes only where it lives: the *head* (before the first sentence-length
   paragraph, code block or table) and the *foot* (after the last one) lose share and
   subscribe widgets, counters (``13``, ``2.1K``), bare domains, copyright lines,
   "Follow" / "Sign up" lines and headings that repeat the title or subtitle; a head that
   still holds at least 3 short lines (bylines, dates, menus) goes whole but for the
   headings right before the text. In the body, ``## Note``, ``1999`` or ``socket.io`` are
   the author's words and stay.
6. Prose is normalised: lines wrapped inside a paragraph are joined (``pre-`` +
   ``trained`` -> ``pre-trained``), runs of spaces become one, ``**bold**`` markers and
   stray ``__`` icon markers go; paragraphs, headings, list items and quotes keep their
   own lines, and blocks keep the separator they had (one line break, or exactly one blank
   line).
7. The title and the subtitle open the text as its first paragraphs (the subtitle only
   when the body does not already start with it).

**Posts** (:func:`clean_post`): the character rules above, ``hashtag#`` -> ``#``, the
``…see more`` and ``See translation`` buttons and the author's repeated lines go; the
author's own line breaks stay (they are part of the style), runs of blank lines become one.

**Repositories** (:func:`clean_repository`): code whitespace is kept as it is (indentation,
tabs, blank lines); only line endings are normalised and trailing blank lines trimmed.
Files are sorted by path and joined under ``## File: <path>`` headers after a ``# <name>``
title; empty files and binary files (with NUL bytes) are left out.

A document whose cleaned text is empty yields None: the caller counts it as skipped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from llm_engineering.application.preprocessing.lines import (
    HEADING,
    SHORT_LINE_WORDS,
    SPACE_RUNS,
    TextUnit,
    clean_prose_line,
    line_key,
    logical_lines,
    normalise_characters,
    plain_text,
    text_units,
)
from llm_engineering.application.preprocessing.markdown import CODE_KINDS, BlockKind
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.documents import ContentDocument
from llm_engineering.domain.types import DataCategory

RULES_VERSION = "2"
# bump when the rules change: features are re-cleaned / re-chunked once

# -- boilerplate vocabulary ----------------------------------------------------------------

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
        "Sign in",
        "Sign up",
        "Listen",
        "Top highlight",
        "Open in app",
        "Previous",
        "Next",
        "Follow",
        # comment sections
        "Discussion about this post",
        "Comments",
        "Restacks",
        "Top",
        "Latest",
        "Discussions",
        "No posts",
        "Ready for more?",
    )
)
"""Widget lines dropped in the page head and foot only (compared case-insensitively, markup stripped);
in the body ``## Note`` or ``Next`` are the author's words."""

NOTICE_LINES = frozenset(
    line.casefold()
    for line in (
        "SubscribeSign in",
        "ListenShare",
        "PreviousNext",
        "Start WritingGet the app",
        "Substack is the home for great culture",
        "Privacy ∙ Terms ∙ Collection notice",
        "This site requires JavaScript to run correctly. Please turn on JavaScript or unblock scripts",
        "To make Medium work, we log user data. By using Medium, you agree to our Privacy Policy, "
        "including cookie policy.",
    )
)
"""Site notices and run-together button rows that no author writes: dropped wherever they stand."""

CAPTION_LINES = frozenset(
    line.casefold() for line in ("Image by author", "Image by the author", "Image by DALL-E")
)
"""Generic image captions that say nothing about the picture: dropped wherever they stand."""

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
_MIN_HEADER_LINES = 3

_NO_WORDS = re.compile(r"^[\W_]*$")  # punctuation, icons and arrows only
_COUNTER = re.compile(r"^[\d.,]+\s*[KkMm]?$")
_DOMAIN = re.compile(
    r"^(?:[A-Za-z0-9-]+\.)+(?:com|org|net|io|ai|dev|co|me|app|blog|substack)$", re.IGNORECASE
)
_COPYRIGHT = re.compile(r"^(?:__)?\s*(?:©|\(c\)|copyright\b)", re.IGNORECASE)
_FOLLOW = re.compile(r"^(?:·\s*)?(?:follow|sign (?:up|in)|subscribe)\b", re.IGNORECASE)
_LINK = r"(?:!?\[[^\]]*\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|<https?://[^>\s]+>|https?://\S+)"
_LINK_ONLY = re.compile(rf"^\s*(?:[*+-]\s+)?{_LINK}(?:[\s·|•,]*{_LINK})*[\s·|•,]*$")


def boilerplate_key(line: str) -> str:
    """The form in which lines are compared with a ``boilerplate`` set: plain text, case-folded."""
    return line_key(clean_prose_line(normalise_characters(line)))


def is_anywhere_noise(line: str) -> bool:
    """Whether a prose line is noise wherever it stands: a site notice, a generic caption, a line of
    only marks (``* * *``, ``↓↓↓``), an empty heading, or only links (rule 4)."""
    plain = plain_text(line)
    folded = plain.casefold()
    return bool(
        not plain
        or folded in NOTICE_LINES
        or folded in CAPTION_LINES
        or _NO_WORDS.match(plain)
        or _LINK_ONLY.match(line)
    )


def is_boilerplate_line(line: str, *, title_keys: Iterable[str] = ()) -> bool:
    """Whether a line of the page head or foot is page chrome rather than writing (rule 5).

    Widgets, counters, bare domains, copyright lines, "Follow" / "Sign up" lines, headings that
    repeat the title, and the noise of :func:`is_anywhere_noise`.
    """
    if is_anywhere_noise(line):
        return True
    plain = plain_text(line)
    folded = plain.casefold()
    if folded in BOILERPLATE_LINES or _COUNTER.match(plain) or _DOMAIN.match(plain):
        return True
    if _COPYRIGHT.match(line.strip()) and len(plain) < 120:
        return True
    if _FOLLOW.match(plain) and len(plain.split()) <= SHORT_LINE_WORDS:
        return True
    return bool(HEADING.match(line)) and any(_repeats_title(folded, key) for key in title_keys)


def _repeats_title(heading: str, title: str) -> bool:
    """Whether a heading repeats the title: equal, or the title's part before/after a separator."""
    if heading == title:
        return True
    if len(heading.split()) < 3:
        return False
    return title.startswith(heading + " ") or title.endswith(" " + heading)


# -- articles ----------------------------------------------------------------------------


def _filter_unit(
    unit: TextUnit, *, drop: Callable[[str], bool], boilerplate: frozenset[str]
) -> TextUnit | None:
    """The unit without the lines ``drop`` names and the author's repeated lines; None when empty."""
    if unit.verbatim:
        return unit
    lines = unit.lines
    if len(lines) > 1 and unit.kind != BlockKind.HEADING:  # a widget line inside a block of short lines
        lines = [line for line in lines if not drop(line)]
    lines = [line for line in logical_lines(unit.kind, lines) if not drop(line)]
    if boilerplate:
        lines = [line for line in lines if line_key(line) not in boilerplate]
    return TextUnit(unit.kind, lines, unit.blank_before) if lines else None


def _keep_body(units: list[TextUnit], *, title_keys: set[str], boilerplate: frozenset[str]) -> list[TextUnit]:
    """The body (first to last sentence-length paragraph, code or table) loses only its noise; the
    head and foot around it lose their chrome too, and a head of short lines goes (rules 4-5)."""
    cleaned = [_filter_unit(unit, drop=is_anywhere_noise, boilerplate=boilerplate) for unit in units]
    anchors = [i for i, unit in enumerate(cleaned) if unit is not None and unit.is_anchor()]
    if not anchors:
        first = last = len(units)
    else:
        first, last = anchors[0], anchors[-1]

    def chrome(line: str) -> bool:
        return is_boilerplate_line(line, title_keys=title_keys)

    def without_chrome(part: list[TextUnit]) -> list[TextUnit]:
        kept = (_filter_unit(unit, drop=chrome, boilerplate=boilerplate) for unit in part)
        return [unit for unit in kept if unit is not None]

    head = without_chrome(units[:first])
    if anchors and sum(len(unit.lines) for unit in head) >= _MIN_HEADER_LINES:
        trailing = len(head)
        while trailing > 0 and head[trailing - 1].kind == BlockKind.HEADING:
            trailing -= 1
        head = [unit for unit in head[:trailing] if unit.verbatim] + head[trailing:]  # tables and the
        # section headings right before the text stay
    body = [unit for unit in cleaned[first : last + 1] if unit is not None]
    return head + body + without_chrome(units[last + 1 :])


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
            plain = plain_text(unicodedata.normalize("NFKC", normalise_characters(title)))
            keys.add(plain.casefold())
    return keys


def _normalised_keys(boilerplate: Iterable[str]) -> frozenset[str]:
    return frozenset(key for key in (boilerplate_key(line) for line in boilerplate) if key)


def clean_article_text(
    text: str,
    *,
    title: str | None = None,
    subtitle: str | None = None,
    boilerplate: frozenset[str] = frozenset(),
) -> str:
    """The article body with the rules 1-6 of the module applied.

    Args:
        text: the crawled Markdown text of the page.
        title: the article's title; headings of the head and foot that repeat it are dropped.
        subtitle: the article's subtitle; headings of the head and foot that repeat it are dropped.
        boilerplate: lines that repeat across the author's documents (:func:`boilerplate.repeated_lines`);
            a paragraph, list item or quote line equal to one of them is dropped wherever it stands.
    """
    text = _cut_page_chrome(normalise_characters(text))
    units = _keep_body(
        text_units(text), title_keys=_title_keys(title, subtitle), boilerplate=_normalised_keys(boilerplate)
    )
    parts: list[str] = []
    for unit in units:
        if parts:
            parts.append("\n\n" if unit.blank_before or unit.kind in CODE_KINDS else "\n")
        parts.append("\n".join(unit.lines))
    return "".join(parts).strip()


def clean_article(
    content: Mapping[str, Any], *, boilerplate: frozenset[str] = frozenset()
) -> tuple[str | None, str]:
    """Title and cleaned text of an article's crawled ``content`` (rules 1-7).

    Args:
        content: ``{"Title", "Subtitle", "Content"}`` as the crawlers store it.
        boilerplate: lines that repeat across the author's documents, dropped (:func:`boilerplate.repeated_lines`).

    Returns:
        The title (None when the page has none) and the cleaned text, title and subtitle first;
        the text is empty when the page body holds nothing but boilerplate.
    """
    title = clean_prose_line(normalise_characters(str(content.get("Title") or ""))) or None
    subtitle = clean_prose_line(normalise_characters(str(content.get("Subtitle") or ""))) or None
    body = clean_article_text(
        str(content.get("Content") or ""), title=title, subtitle=subtitle, boilerplate=boilerplate
    )
    if not body:
        return title, ""
    parts = [title] if title else []
    if subtitle and subtitle.casefold() not in body[: len(subtitle) + 200].casefold():
        parts.append(subtitle)
    parts.append(body)
    return title, "\n\n".join(parts)


# -- posts, repositories, documents ------------------------------------------------------

_SEE_MORE = re.compile(r"^\s*(?:…|\.\.\.)\s*see more\s*$|^\s*see translation\s*$", re.IGNORECASE)


def clean_post(content: Mapping[str, Any], *, boilerplate: frozenset[str] = frozenset()) -> str:
    """Cleaned text of a post's crawled ``content`` (``{"Content": text}``); see the module rules.

    Args:
        content: ``{"Content": text}`` as the crawlers store it.
        boilerplate: lines that repeat across the author's posts, dropped (:func:`boilerplate.repeated_lines`).
    """
    keys = _normalised_keys(boilerplate)
    text = normalise_characters(str(content.get("Content") or content.get("text") or ""))
    text = re.sub(r"\bhashtag#", "#", text)
    text = re.sub(r"(?:…|\.\.\.)\s*see more\s*$", "", text, flags=re.IGNORECASE)
    lines = []
    for line in text.split("\n"):
        if _SEE_MORE.match(line) or (keys and boilerplate_key(line) in keys):
            continue
        lines.append(SPACE_RUNS.sub(" ", unicodedata.normalize("NFKC", line).replace("\t", " ")).strip())
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


def clean_document(
    document: ContentDocument, *, boilerplate: frozenset[str] = frozenset()
) -> CleanedDocument | None:
    """The cleaned form of a warehouse document, or None when nothing is left of it.

    Args:
        document: an article, post or repository document.
        boilerplate: lines that repeat across the author's documents (:func:`boilerplate.repeated_lines`),
            dropped from articles and posts; repositories keep every line.

    Returns:
        The cleaned document, carrying the raw document's id and content hash; None when
        its cleaned text is empty (the caller counts it as skipped).
    """
    category = DataCategory(document.category)
    title: str | None = None
    if category == DataCategory.ARTICLES:
        title, text = clean_article(document.content, boilerplate=boilerplate)
    elif category == DataCategory.POSTS:
        text = clean_post(document.content, boilerplate=boilerplate)
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
