"""The line and block machinery that cleaning and boilerplate detection share.

A page is parsed into blocks by the one Markdown parser
(:mod:`~llm_engineering.application.preprocessing.markdown`) and each becomes a :class:`TextUnit`:
code kept verbatim (indented code re-emitted as a fenced block), prose lines with their characters
normalised. The rules that decide which lines are page chrome live in
:mod:`~llm_engineering.application.preprocessing.cleaning`; this module only reads and shapes
lines.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from llm_engineering.application.preprocessing.markdown import CODE_KINDS, BlockKind, parse_blocks

_ODD_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")


def normalise_characters(text: str) -> str:
    """NFC, ``\\n`` line endings, plain spaces, no zero-width characters or soft hyphens."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ZERO_WIDTH.sub("", text)
    return _ODD_SPACES.sub(" ", text)


SHORT_LINE_WORDS = 8
"""A paragraph of at most this many words is a short line (a byline, a menu entry), not body text."""

_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d{1,3}[.)])\s+")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s*(.*?)\s*#*\s*$")
_BOLD = re.compile(r"\*\*|(?<!\w)__(?!\w)|(?<=\s)__(?=\w)|^__(?=\w)")
SPACE_RUNS = re.compile(r"[ \t]{2,}")


def plain_text(line: str) -> str:
    """A line without Markdown markers, for comparisons."""
    heading = HEADING.match(line)
    if heading and heading.group(1):
        line = heading.group(2)
    line = _LIST_ITEM.sub("", line)
    return SPACE_RUNS.sub(" ", line.replace("**", "").replace("__", "").strip(" *_#>")).strip()


def line_key(cleaned_line: str) -> str:
    """:func:`boilerplate_key` of a line that is already a cleaned prose line."""
    return plain_text(cleaned_line).casefold()


# -- prose -------------------------------------------------------------------------------


def clean_prose_line(line: str) -> str:
    line = unicodedata.normalize("NFKC", line)
    indent = ""
    item = _LIST_ITEM.match(line)
    if item:
        indent = " " * min(len(line) - len(line.lstrip(" ")), 8)
        line = line.lstrip(" ")
    line = _BOLD.sub("", line)
    line = SPACE_RUNS.sub(" ", line.replace("\t", " ")).strip()
    return indent + line


def _join(previous: str, line: str) -> str:
    """Two wrapped lines of one paragraph as one (``pre-`` + ``trained`` -> ``pre-trained``)."""
    if re.search(r"\w-$", previous) and line[:1].islower():
        return previous + line
    return previous + " " + line


def logical_lines(kind: BlockKind, lines: list[str]) -> list[str]:
    """A prose block's lines with the wrapped ones joined: a paragraph or list item is one line,
    a wrapped heading one line, a quote one line per ``>``; tables keep their lines."""
    if kind == BlockKind.TABLE:
        return lines
    joined: list[str] = []
    for line in lines:
        if joined and not (kind == BlockKind.QUOTE and line.lstrip().startswith(">")):
            joined[-1] = _join(joined[-1], line)
        else:
            joined.append(line)
    return joined


def _word_count(line: str) -> int:
    return len(plain_text(line).split())


def _fence_indented(body: list[str]) -> list[str]:
    """An indented code block as a fenced one: dedented, blank edges and copy icon removed."""
    rows = [row.expandtabs(4) if row.startswith("\t") else row for row in body]
    indent = min(len(row) - len(row.lstrip(" ")) for row in rows if row.strip())
    rows = [row[indent:].rstrip() for row in rows]
    rows[-1] = re.sub(r"\s*__$", "", rows[-1])  # html2text's copy-button icon
    return ["```", *rows, "```"]


# -- articles ----------------------------------------------------------------------------


@dataclass
class TextUnit:
    """One block of the page, cleaned: its kind, its lines, and whether a blank line preceded it."""

    kind: BlockKind
    lines: list[str]
    blank_before: bool

    @property
    def verbatim(self) -> bool:
        return self.kind in CODE_KINDS or self.kind == BlockKind.TABLE

    def is_anchor(self) -> bool:
        """Whether the unit is body text: code, or a sentence-length paragraph or quote (tables are
        kept wherever they stand but do not mark the body: sites render bylines as tables)."""
        if self.kind in CODE_KINDS:
            return True
        if self.kind not in (BlockKind.PARAGRAPH, BlockKind.QUOTE):
            return False
        return _word_count(" ".join(self.lines)) > SHORT_LINE_WORDS


def text_units(text: str) -> list[TextUnit]:
    """The page's blocks with code kept verbatim and prose characters normalised (lines unjoined)."""
    units: list[TextUnit] = []
    blank = False
    for block in parse_blocks(text):
        raw = text[block.start : block.end].split("\n")
        if block.kind in (BlockKind.BLANK, BlockKind.RULE):
            blank = True
            continue
        if block.kind == BlockKind.FENCED_CODE:
            units.append(TextUnit(block.kind, raw, True))
        elif block.kind == BlockKind.INDENTED_CODE:
            units.append(TextUnit(block.kind, _fence_indented(raw), True))
        elif block.kind == BlockKind.TABLE:
            units.append(TextUnit(block.kind, [row.rstrip() for row in raw], blank))
        else:
            lines = [clean_prose_line(line) for line in raw]
            units.append(TextUnit(block.kind, [line for line in lines if line], blank))
        blank = block.is_code  # code always stands apart
    return units
