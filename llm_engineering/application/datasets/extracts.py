"""Extracts: cleaned documents read from the feature store in pages and cut into answer-sized passages.

Cutting rules (:func:`extract_spans`, blocks from the one Markdown parser
:mod:`~llm_engineering.application.preprocessing.markdown`):

1. The text is split into paragraph groups at blank lines; a code block (fenced or indented)
   is a group of its own however many blank lines it holds.
2. A group longer than ``max_length`` is split into lines (code, table rows) or sentences
   (prose; a sentence keeps its closing quotes and brackets); a sentence still too long is
   cut at the last space before the limit.
3. Groups are packed greedily into extracts of at most ``max_length`` (characters or words),
   measured on the text they span. A heading never ends an extract: it moves to the next
   one, so each extract starts with its section's heading when it has one. A code block that
   opens a new extract takes the paragraph that introduces it (and that paragraph's headings)
   along when the two fit together: an answer opens with the author's prose, not with code
   (on the handbook corpus: 77 of 712 extracts opened with a code block before this rule, 24 of
   723 after it, the rest under a heading or longer than one extract).
4. A last piece shorter than ``min_length`` joins the previous extract (which may then pass
   ``max_length`` by less than ``min_length``); a document shorter than ``min_length`` as a
   whole gives no extract and is counted as too short.

Every extract is cut by positions: it is the exact slice ``text[start:end]`` of its cleaned
document (blank lines and white space at its edges excluded, a code line's indentation kept),
so answers built from extracts are the author's own words, separators and punctuation included.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel
from tqdm.auto import tqdm

from llm_engineering.application.preprocessing.markdown import (
    Block,
    BlockKind,
    group_blocks,
    line_spans,
    parse_blocks,
    sentence_spans,
    strip_span,
)
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.dataset import Extract

Unit = Literal["characters", "words"]

_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(?P<text>\S.*?)\s*#*\s*$")


# -- cutting ---------------------------------------------------------------------------


def measure(text: str, unit: Unit) -> int:
    """Length of ``text`` in ``unit``."""
    return len(text) if unit == "characters" else len(text.split())


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    heading: str | None = None  # the heading's text when the piece is a heading on its own
    code: bool = False  # the piece opens with a code block


def _heading_text(text: str, block: Block) -> str | None:
    match = _HEADING.match(" ".join(text[block.start : block.end].split("\n")))
    return match.group("text").strip() if match else None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without blank lines at its start and white space at its end; the first line keeps
    its indentation (code)."""
    stripped, end = strip_span(text, start, end)
    line_start = text.rfind("\n", start, stripped) + 1
    return (max(line_start, start) if stripped < end else stripped), end


def _word_cuts(text: str, start: int, end: int, *, max_length: int, unit: Unit) -> list[tuple[int, int]]:
    """``text[start:end]`` cut at spaces into spans of at most ``max_length`` (a longer word stays whole)."""
    spans: list[tuple[int, int]] = []
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    first = last = None
    for word_start, word_end in words:
        if first is not None and measure(text[start + first : start + word_end], unit) > max_length:
            spans.append((start + first, start + last))
            first = None
        if first is None:
            first = word_start
        last = word_end
    if first is not None:
        spans.append((start + first, start + last))
    return spans


def _units_of(text: str, group: list[Block]) -> list[tuple[int, int]]:
    """The lines (code, tables) or sentences (prose) of a group too long for one extract."""
    units: list[tuple[int, int]] = []
    for block in group:
        lines = line_spans(text, block.start, block.end)
        if block.is_code or block.kind == BlockKind.TABLE:
            units.extend(lines)
        else:
            for line_start, line_end in lines:
                units.extend(sentence_spans(text, line_start, line_end))
    return units


def _split_long_group(text: str, group: list[Block], *, max_length: int, unit: Unit) -> list[_Piece]:
    """Consecutive lines or sentences of a long group packed into pieces of at most ``max_length``."""
    pieces: list[_Piece] = []
    first: int | None = None
    last = 0
    for unit_start, unit_end in _units_of(text, group):
        if measure(text[unit_start:unit_end], unit) > max_length:
            if first is not None:
                pieces.append(_Piece(first, last))
                first = None
            cuts = _word_cuts(text, unit_start, unit_end, max_length=max_length, unit=unit)
            pieces.extend(_Piece(s, e) for s, e in cuts)
            continue
        if first is not None and measure(text[first:unit_end], unit) > max_length:
            pieces.append(_Piece(first, last))
            first = None
        if first is None:
            first = unit_start
        last = unit_end
    if first is not None:
        pieces.append(_Piece(first, last))
    return pieces


def _lead_in(text: str, current: list[_Piece], code: _Piece, *, max_length: int, unit: Unit) -> list[_Piece]:
    """The prose piece ending ``current`` (with the headings just before it) that introduces ``code``,
    when it fits in one extract with ``code`` and leaves ``current`` some text; else nothing.
    (``current`` never ends with a heading here: trailing headings have moved on already.)"""
    if len(current) < 2 or current[-1].code:
        return []
    lead = len(current) - 1
    while lead > 0 and current[lead - 1].heading is not None:
        lead -= 1
    if lead == 0 or measure(text[current[lead].start : code.end], unit) > max_length:
        return []
    return current[lead:]


def extract_spans(
    text: str, *, max_length: int, min_length: int, unit: Unit = "characters"
) -> list[tuple[int, int]]:
    """``(start, end)`` of each extract of ``text``: ``text[start:end]`` is the extract, verbatim.

    Args:
        text: the cleaned text.
        max_length: longest extract, in ``unit``.
        min_length: shortest extract, in ``unit``.
        unit: ``characters`` or ``words``.

    Returns:
        The spans in text order, without blank lines at their start or white space at their end
        (a code line keeps its indentation); empty when the whole text is shorter than
        ``min_length``.
    """
    if measure(text.strip(), unit) < min_length:
        return []
    pieces: list[_Piece] = []
    for group in group_blocks(parse_blocks(text)):
        start, end = _trim(text, group[0].start, group[-1].end)
        if end <= start:
            continue
        if measure(text[start:end], unit) > max_length:
            pieces.extend(_split_long_group(text, group, max_length=max_length, unit=unit))
        elif len(group) == 1 and group[0].kind == BlockKind.HEADING:
            pieces.append(_Piece(start, end, heading=_heading_text(text, group[0])))
        else:
            pieces.append(_Piece(start, end, code=group[0].is_code))

    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    for piece in pieces:
        if current and measure(text[current[0].start : piece.end], unit) > max_length:
            # Headings at the end of the full extract move on with the text they introduce; so
            # does the paragraph that introduces a code block, when both fit in one extract.
            carried: list[_Piece] = []
            while current and current[-1].heading is not None:
                carried.insert(0, current.pop())
            if piece.code and not carried:
                carried = _lead_in(text, current, piece, max_length=max_length, unit=unit)
                del current[len(current) - len(carried) :]
            if current:
                groups.append(current)
            current = [*carried, piece]
        else:
            current.append(piece)
    if current:
        if groups and measure(text[current[0].start : current[-1].end], unit) < min_length:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return [(group[0].start, group[-1].end) for group in groups]


def _extract_id(document_id: str, index: int, content: str) -> str:
    digest = hashlib.sha256(f"{document_id}\x1f{index}\x1f{content}".encode()).hexdigest()
    return digest[:32]


def split_document(
    document: CleanedDocument, *, max_length: int, min_length: int, unit: Unit = "characters"
) -> list[Extract]:
    """Cut one cleaned document into extracts (rules in the module docstring).

    Args:
        document: the cleaned document.
        max_length: longest extract, in ``unit``.
        min_length: shortest extract, in ``unit``.
        unit: ``characters`` or ``words``.

    Returns:
        The extracts in document order, each an exact slice of the document's text (see
        :func:`extract_spans`); empty when the whole text is shorter than ``min_length``.
    """
    text = document.content
    spans = extract_spans(text, max_length=max_length, min_length=min_length, unit=unit)
    headings = [
        (block.start, _heading_text(text, block))
        for block in parse_blocks(text)
        if block.kind == BlockKind.HEADING
    ]
    extracts: list[Extract] = []
    for index, (start, end) in enumerate(spans):
        content = text[start:end]
        section = next((title for position, title in reversed(headings) if position <= start and title), None)
        extracts.append(
            Extract(
                id=_extract_id(document.id, index, content),
                document_id=document.id,
                index=index,
                category=document.category,
                author_full_name=document.author_full_name,
                title=document.title,
                heading=section,
                content=content,
                link=document.link,
            )
        )
    return extracts


class ExtractReport(BaseModel):
    """The extracts of a run and what happened to the documents they came from.

    Attributes:
        extracts: every extract, in document order.
        documents: documents read from the feature store, per category.
        too_short: documents shorter than ``min_length`` (no extract), per category.
        duplicates: extracts removed as exact or near-duplicates of an earlier one.
        seconds: time spent reading and cutting.
    """

    extracts: list[Extract]
    documents: dict[str, int]
    too_short: dict[str, int]
    duplicates: dict[str, int] = {}
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Extracts per category."""
        return dict(Counter(str(e.category) for e in self.extracts))

    def summary(self) -> str:
        """One line: documents read, extracts made, documents too short, duplicates removed."""
        documents = sum(self.documents.values())
        return (
            f"{len(self.extracts)} extracts from {documents} documents "
            f"({sum(self.too_short.values())} too short, {self.duplicates.get('total', 0)} duplicate extracts "
            f"removed) in {self.seconds:.1f}s"
        )


def build_extracts(
    documents: Iterable[CleanedDocument],
    *,
    max_length: int,
    min_length: int,
    unit: Unit = "characters",
    progress: bool = True,
) -> ExtractReport:
    """Cut every document into extracts.

    Args:
        documents: cleaned documents (an iterator is consumed page by page).
        max_length: longest extract, in ``unit``.
        min_length: shortest extract, in ``unit``.
        unit: ``characters`` or ``words``.
        progress: show a progress bar.
    """
    started = time.perf_counter()
    extracts: list[Extract] = []
    seen: Counter[str] = Counter()
    too_short: Counter[str] = Counter()
    for document in tqdm(documents, desc="extracts", unit="doc", disable=not progress):
        category = str(document.category)
        seen[category] += 1
        pieces = split_document(document, max_length=max_length, min_length=min_length, unit=unit)
        if not pieces:
            too_short[category] += 1
        extracts.extend(pieces)
    return ExtractReport(
        extracts=extracts,
        documents=dict(seen),
        too_short=dict(too_short),
        seconds=time.perf_counter() - started,
    )
