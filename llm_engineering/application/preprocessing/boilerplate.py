"""Corpus-level boilerplate: the lines that repeat across one author's documents.

Promotions, sign-offs and newsletter banners are not in any fixed list; they are found by
counting which lines come back in many of an author's documents (:func:`repeated_lines`), and the
per-document cleaning functions of :mod:`~llm_engineering.application.preprocessing.cleaning`
then drop them (their ``boilerplate`` argument).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

from llm_engineering.application.preprocessing.lines import (
    line_key,
    logical_lines,
    normalise_characters,
    text_units,
)

MIN_REPEATED_WORDS = 5
"""A line of fewer words (``## Conclusion``, ``Thanks!``) never counts as repeated."""


def _candidate_lines(text: str) -> set[str]:
    """Keys of the lines of a text that may be boilerplate: prose of at least 5 words, not code."""
    keys = set()
    for unit in text_units(normalise_characters(text)):
        if unit.verbatim:
            continue
        for line in logical_lines(unit.kind, unit.lines):
            key = line_key(line)
            if sum(any(c.isalpha() for c in word) for word in key.split()) >= MIN_REPEATED_WORDS:
                keys.add(key)
    return keys


def repeated_lines(texts: Iterable[str], *, min_documents: int = 3, min_share: float = 0.2) -> frozenset[str]:
    """Lines that repeat across one author's documents: promotions, sign-offs, newsletter banners.

    Lines are compared in :func:`boilerplate_key` form, wrapped paragraphs joined, so raw crawled
    texts and cleaned ones give the same keys. Code, tables and lines of fewer than 5 words
    (``## Conclusion``, ``Thanks!``) never count.

    Args:
        texts: the texts of one author's documents (raw or cleaned), one per document.
        min_documents: a line must appear in at least this many documents...
        min_share: ...and in at least this share of them.

    Returns:
        The keys of the repeated lines, for the ``boilerplate`` argument of the cleaning functions.

    Raises:
        ValueError: if ``min_documents`` is below 2 or ``min_share`` is not in (0, 1].
    """
    if min_documents < 2:
        raise ValueError(
            f"min_documents must be at least 2 (a line in one document is not repeated), got {min_documents}"
        )
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    counts: Counter[str] = Counter()
    documents = 0
    for text in texts:
        documents += 1
        counts.update(_candidate_lines(text))
    needed = max(min_documents, math.ceil(min_share * documents))
    return frozenset(key for key, count in counts.items() if count >= needed)


def author_boilerplate(
    texts_by_author: Mapping[str, Iterable[str]], *, min_documents: int = 3, min_share: float = 0.2
) -> dict[str, frozenset[str]]:
    """:func:`repeated_lines` per author: ``{author: boilerplate}`` for the cleaning functions."""
    return {
        author: repeated_lines(texts, min_documents=min_documents, min_share=min_share)
        for author, texts in texts_by_author.items()
    }
