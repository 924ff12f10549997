"""Extracts: cleaned documents read from the feature store in pages and cut into answer-sized passages.

Cutting rules (:func:`split_document`):

1. The text is split into blocks at blank lines; a fenced code block (```` ``` ````) is one
   block however many blank lines it holds.
2. A block longer than ``max_length`` is split into sentences (prose) or lines (code); a
   sentence still too long is cut at the last space before the limit.
3. Blocks are packed greedily into extracts of at most ``max_length`` (characters or words),
   joined by a blank line. A heading never ends an extract: it moves to the next one,
   so each extract starts with its section's heading when it has one.
4. A last piece shorter than ``min_length`` joins the previous extract (which may then pass
   ``max_length`` by less than ``min_length``); a document shorter than ``min_length`` as a
   whole gives no extract and is counted as too short.

Every extract is verbatim text of its document (blocks are re-joined with one blank line),
so answers built from extracts are the author's own words.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from tqdm.auto import tqdm

from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.domain.cleaned_documents import CleanedDocument, cleaned_collection
from llm_engineering.domain.dataset import Extract
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import VectorStore

Unit = Literal["characters", "words"]

_HEADING = re.compile(r"^#{1,6}\s+(?P<text>\S.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_FENCE = re.compile(r"^\s*(```|~~~)")


# -- reading the feature store ---------------------------------------------------------


def count_cleaned_documents(
    store: VectorStore,
    *,
    categories: Iterable[DataCategory | str] = tuple(DataCategory),
    author_full_names: Sequence[str] | None = None,
) -> int:
    """How many cleaned documents of ``categories`` (and authors) the feature store holds."""
    filters: dict[str, Any] = {"author_full_name": list(author_full_names)} if author_full_names else {}
    total = 0
    for category in categories:
        name = cleaned_collection(category)
        if store.collection_exists(name):
            total += store.count(name, filters=filters)
    return total


def stored_authors(
    store: VectorStore, *, categories: Iterable[DataCategory | str] = tuple(DataCategory)
) -> list[str]:
    """Names of the authors with cleaned documents, for messages about an unknown author."""
    names: set[str] = set()
    for document in iter_cleaned_documents(store, categories=categories):
        names.add(document.author_full_name)
    return sorted(names)


# -- cutting ---------------------------------------------------------------------------


def measure(text: str, unit: Unit) -> int:
    """Length of ``text`` in ``unit``."""
    return len(text) if unit == "characters" else len(text.split())


def _blocks(text: str) -> list[str]:
    """Paragraph blocks of ``text``; a fenced code block stays whole."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            current.append(line)
            continue
        if not in_fence and not line.strip():
            if current:
                blocks.append("\n".join(current).strip("\n"))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current).strip("\n"))
    return [b for b in blocks if b.strip()]


def is_heading(block: str) -> bool:
    """Whether ``block`` is a single Markdown heading line."""
    return "\n" not in block and bool(_HEADING.match(block))


def heading_text(block: str) -> str | None:
    """The text of a Markdown heading line, without the ``#`` marks."""
    match = _HEADING.match(block) if "\n" not in block else None
    return match.group("text").strip() if match else None


def _cut_words(text: str, max_length: int, unit: Unit) -> list[str]:
    """Cut ``text`` at spaces into pieces of at most ``max_length`` (a single longer word stays whole)."""
    pieces: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and measure(candidate, unit) > max_length:
            pieces.append(current)
            current = word
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _split_long_block(block: str, max_length: int, unit: Unit) -> list[str]:
    """Sentences (prose) or lines (code, lists) of a block longer than ``max_length``, each within it."""
    if _FENCE.match(block) or "\n" in block:
        units = block.split("\n")
        separator = "\n"
    else:
        units = _SENTENCE_END.split(block)
        separator = " "
    pieces: list[str] = []
    current = ""
    for unit_text in units:
        if measure(unit_text, unit) > max_length:
            if current:
                pieces.append(current)
                current = ""
            pieces.extend(_cut_words(unit_text, max_length, unit))
            continue
        candidate = f"{current}{separator}{unit_text}" if current else unit_text
        if current and measure(candidate, unit) > max_length:
            pieces.append(current)
            current = unit_text
        else:
            current = candidate
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()]


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
        The extracts in document order; empty when the whole text is shorter than ``min_length``.
    """
    if measure(document.content.strip(), unit) < min_length:
        return []
    pieces: list[str] = []
    for block in _blocks(document.content):
        if measure(block, unit) > max_length:
            pieces.extend(_split_long_block(block, max_length, unit))
        else:
            pieces.append(block)

    groups: list[list[str]] = []
    current: list[str] = []
    for piece in pieces:
        candidate = "\n\n".join([*current, piece])
        if current and measure(candidate, unit) > max_length:
            # Headings at the end of the full extract move on with the text they introduce.
            carried: list[str] = []
            while current and is_heading(current[-1]):
                carried.insert(0, current.pop())
            if current:
                groups.append(current)
            current = [*carried, piece]
        else:
            current.append(piece)
    if current:
        if groups and measure("\n\n".join(current), unit) < min_length:
            groups[-1].extend(current)
        else:
            groups.append(current)

    extracts: list[Extract] = []
    heading: str | None = None
    for index, group in enumerate(groups):
        section = heading_text(group[0].split("\n", 1)[0]) or heading
        content = "\n\n".join(group)
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
        for block in group:
            heading = heading_text(block.split("\n", 1)[0]) or heading
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
