"""One Markdown block parser for cleaning, chunking and extracts: blocks and sentences as positions.

:func:`parse_blocks` cuts a text into blocks, each a ``(kind, start, end)`` span of the text;
:func:`sentence_spans` and :func:`line_spans` cut a span further. Everything is positions, so
callers slice the text they were given and never rebuild it: a chunk or an extract is an exact
slice of the cleaned text, and cleaning re-emits each block with the separator it had.

Blocks (a pragmatic subset of CommonMark, tuned to what trafilatura and html2text emit):

- ``blank``: a run of blank lines (spaces and tabs only); separates paragraphs.
- ``fenced_code``: from an opening ```` ``` ```` or ``~~~`` fence to the closing fence (of the
  same character, at least as long) or the end of the text; blank lines inside stay in it.
- ``indented_code``: lines indented by 4 spaces or a tab that do not continue a paragraph, list
  item or quote, the first one not a list item; blank lines inside stay in it.
- ``heading``: one ``#`` to ``######`` line (an empty ``#`` line is a heading too), with the
  lines right after it when they wrap it (html2text wraps long headings): a next line that
  starts lower-case, or any next line after a heading line of 60 characters or more.
- ``rule``: a thematic break such as ``* * *`` or ``---``.
- ``table``: a run of lines starting with ``|``, or a line with a ``|`` followed by a delimiter
  row (``---|---``) and the ``|`` lines after it.
- ``quote``: lines starting with ``>``, with the plain lines wrapped after them.
- ``list_item``: a ``*``, ``+``, ``-`` or ``1.``/``1)`` line with the lines wrapped after it.
- ``paragraph``: any other run of lines, up to a blank line or the start of another block.

A block's ``end`` is the end of its last line, without the line break; the line breaks
between blocks belong to no block.

Sentences (:func:`sentence_spans`) end at ``.``, ``!``, ``?`` or ``…`` followed by any closing
quotes, brackets or emphasis marks (``."``, ``.)``, ``!_``), then white space and a character
that is not a lower-case letter. The closing marks stay with their sentence; white space
between sentences belongs to neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class BlockKind(StrEnum):
    """Kinds of Markdown blocks."""

    BLANK = "blank"
    PARAGRAPH = "paragraph"
    HEADING = "heading"
    LIST_ITEM = "list_item"
    QUOTE = "quote"
    TABLE = "table"
    RULE = "rule"
    FENCED_CODE = "fenced_code"
    INDENTED_CODE = "indented_code"


CODE_KINDS = frozenset({BlockKind.FENCED_CODE, BlockKind.INDENTED_CODE})
"""Block kinds whose text is code (kept verbatim, cut at lines)."""


@dataclass(frozen=True)
class Block:
    """A block of a text: its kind and its span (``text[start:end]``, last line break excluded)."""

    kind: BlockKind
    start: int
    end: int

    @property
    def is_code(self) -> bool:
        """Whether the block is a fenced or indented code block."""
        return self.kind in CODE_KINDS


_WRAPPED_HEADING_CHARS = 60
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[*+-]|\d{1,3}[.)])[ \t]+\S")
_QUOTE = re.compile(r"^ {0,3}>")
_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]}*_]*(?=\s+[^\sa-z])")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_indented(line: str) -> bool:
    return line.startswith(("    ", "\t"))


def _is_delimiter_row(line: str) -> bool:
    return "|" in line and bool(_TABLE_DELIMITER.match(line))


def _line_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every line of ``text``, line breaks excluded (``\\n`` only)."""
    spans = []
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            spans.append((start, len(text)))
            return spans
        spans.append((start, end))
        start = end + 1


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = _line_spans(text)
        self.lines = [text[s:e] for s, e in self.spans]

    def _table_starts(self, i: int) -> bool:
        line = self.lines[i]
        if _TABLE_ROW.match(line):
            return True
        following = self.lines[i + 1] if i + 1 < len(self.lines) else ""
        return "|" in line and not _is_delimiter_row(line) and _is_delimiter_row(following)

    def _starts_block(self, i: int) -> bool:
        """Whether line ``i`` opens a block of its own (so it ends a paragraph or item before it)."""
        line = self.lines[i]
        return bool(
            _is_blank(line)
            or _FENCE.match(line)
            or _HEADING.match(line)
            or _RULE.match(line)
            or _QUOTE.match(line)
            or _LIST_ITEM.match(line)
            or self._table_starts(i)
        )

    def _wrapped(self, i: int) -> bool:
        """Whether heading line ``i`` goes on in the next line: html2text wraps long headings at
        about 78 characters; a short heading followed by a capitalised line is followed by text."""
        following = self.lines[i + 1]
        return following[:1].islower() or len(self.lines[i]) >= _WRAPPED_HEADING_CHARS

    def _block(self, kind: BlockKind, first: int, last: int) -> Block:
        return Block(kind, self.spans[first][0], self.spans[last][1])

    def parse(self) -> list[Block]:
        blocks: list[Block] = []
        lines = self.lines
        n = len(lines)
        i = 0
        while i < n:
            line = lines[i]
            if _is_blank(line):
                j = i
                while j + 1 < n and _is_blank(lines[j + 1]):
                    j += 1
                blocks.append(self._block(BlockKind.BLANK, i, j))
                i = j + 1
                continue
            fence = _FENCE.match(line)
            if fence:
                marker = fence.group(1)
                closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
                j = i + 1
                while j < n and not closing.match(lines[j]):
                    j += 1
                j = min(j, n - 1)
                blocks.append(self._block(BlockKind.FENCED_CODE, i, j))
                i = j + 1
                continue
            if _is_indented(line) and not _LIST_ITEM.match(line):  # a paragraph or item took its own
                j = i
                while j + 1 < n and (_is_indented(lines[j + 1]) or _is_blank(lines[j + 1])):
                    j += 1
                while _is_blank(lines[j]):
                    j -= 1
                blocks.append(self._block(BlockKind.INDENTED_CODE, i, j))
                i = j + 1
                continue
            if _HEADING.match(line):
                j = i
                while j + 1 < n and not self._starts_block(j + 1) and self._wrapped(j):
                    j += 1
                blocks.append(self._block(BlockKind.HEADING, i, j))
                i = j + 1
                continue
            if _RULE.match(line):
                blocks.append(self._block(BlockKind.RULE, i, i))
                i += 1
                continue
            if self._table_starts(i):
                j = i + 1 if _TABLE_ROW.match(line) else i + 2  # header row and delimiter row
                while j < n and "|" in lines[j] and not _is_blank(lines[j]):
                    j += 1
                blocks.append(self._block(BlockKind.TABLE, i, min(j, n) - 1))
                i = j
                continue
            kind = (
                BlockKind.QUOTE
                if _QUOTE.match(line)
                else BlockKind.LIST_ITEM
                if _LIST_ITEM.match(line)
                else BlockKind.PARAGRAPH
            )
            j = i
            while j + 1 < n and (
                not self._starts_block(j + 1) or (kind == BlockKind.QUOTE and _QUOTE.match(lines[j + 1]))
            ):
                j += 1
            blocks.append(self._block(kind, i, j))
            i = j + 1
        return blocks


def parse_blocks(text: str) -> list[Block]:
    """The blocks of a Markdown text, in order (see the module docstring for the kinds).

    Args:
        text: the text, with ``\\n`` line breaks.

    Returns:
        Blocks that cover every line of the text, each a span of it.
    """
    if not text:
        return []
    return _Parser(text).parse()


def line_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the non-blank lines of ``text[start:end]``, line breaks and trailing spaces excluded."""
    end = len(text) if end is None else end
    spans = []
    for line_start, line_end in _line_spans(text[start:end]):
        line = text[start + line_start : start + line_end]
        if line.strip():
            spans.append((start + line_start, start + line_start + len(line.rstrip())))
    return spans


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the white space at its edges (empty spans collapse onto ``start``)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text[start:end]``, closing quotes and brackets included.

    Every span is stripped of white space at its edges; the gaps between spans hold only white
    space, so the sentences together cover the whole span but for it.
    """
    end = len(text) if end is None else end
    spans = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append(strip_span(text, cursor, match.end()))
        cursor = match.end()
    spans.append(strip_span(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]


def group_blocks(blocks: list[Block]) -> list[list[Block]]:
    """Paragraph groups: the runs of blocks between blank lines; a code block is a group of its own.

    This is the unit that chunking keeps together when it can and that extracts pack.
    """
    groups: list[list[Block]] = []
    current: list[Block] = []
    for block in blocks:
        if block.kind == BlockKind.BLANK or block.is_code:
            if current:
                groups.append(current)
                current = []
            if block.is_code:
                groups.append([block])
        else:
            current.append(block)
    if current:
        groups.append(current)
    return groups
