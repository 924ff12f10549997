"""A BM25 index over chunk payloads, built in-process: the lexical half of hybrid search.

The vector store holds dense vectors only, so the lexical signal is computed here from the
chunks' text (title + content), with Okapi BM25 (``k1=1.2``, ``b=0.75``). The index is
rebuilt from the store's payloads whenever the store changes (the serving layer does that
after a feature pipeline run); building it for ~1,000 chunks takes well under a second.
Filters (author, category) are applied before ranking, as in the store, so ``k`` hits of
the right author come back however few chunks that author has.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_engineering.application.questions import STOP_WORDS

_WORD = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and numbers without stop words; a plural ``s`` is dropped (``models`` -> ``model``)."""
    words = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word)
    return words


@dataclass(frozen=True)
class LexicalHit:
    """A chunk found by the lexical index: its point id, BM25 score and payload."""

    id: str
    score: float
    payload: Mapping[str, Any]


class LexicalIndex:
    """Okapi BM25 over chunks; each chunk is a point id and its payload.

    Args:
        points: ``(id, payload)`` pairs; the text is the payload's ``title`` and ``content``.
        k1: term-frequency saturation.
        b: length normalisation.
    """

    def __init__(
        self, points: Iterable[tuple[str, Mapping[str, Any]]], *, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.k1, self.b = k1, b
        self._ids: list[str] = []
        self._payloads: list[Mapping[str, Any]] = []
        self._lengths: list[int] = []
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for point_id, payload in points:
            position = len(self._ids)
            self._ids.append(point_id)
            self._payloads.append(payload)
            terms = tokenize(f"{payload.get('title') or ''}\n{payload.get('content') or ''}")
            self._lengths.append(len(terms))
            for term, count in Counter(terms).items():
                self._postings.setdefault(term, []).append((position, count))
        self._average = sum(self._lengths) / len(self._lengths) if self._lengths else 0.0

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def authors(self) -> set[str]:
        """The authors whose chunks the index holds."""
        return {str(p.get("author_full_name")) for p in self._payloads if p.get("author_full_name")}

    def _allowed(self, position: int, filters: Mapping[str, Any]) -> bool:
        payload = self._payloads[position]
        for key, value in filters.items():
            if value is None:
                continue
            wanted = {str(v) for v in value} if isinstance(value, (list, tuple, set)) else {str(value)}
            if str(payload.get(key)) not in wanted:
                return False
        return True

    def search(self, query: str, *, k: int, filters: Mapping[str, Any] | None = None) -> list[LexicalHit]:
        """The ``k`` best chunks for ``query`` by BM25 among those matching ``filters``, best first.

        Args:
            query: free text.
            k: hits to return.
            filters: exact-match payload filters (``author_full_name``, ``category``); a list
                value matches any of its items; None values are ignored.
        """
        filters = {key: value for key, value in (filters or {}).items() if value is not None}
        total = len(self._ids)
        scores: dict[int, float] = {}
        for term in set(tokenize(query)):
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (total - len(postings) + 0.5) / (len(postings) + 0.5))
            for position, count in postings:
                norm = self.k1 * (1 - self.b + self.b * self._lengths[position] / (self._average or 1))
                scores[position] = scores.get(position, 0.0) + idf * count * (self.k1 + 1) / (count + norm)
        ranked = sorted(
            (item for item in scores.items() if not filters or self._allowed(item[0], filters)),
            key=lambda item: (-item[1], item[0]),
        )
        return [LexicalHit(self._ids[p], score, self._payloads[p]) for p, score in ranked[:k]]
