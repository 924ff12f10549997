"""Metrics of the generated text itself: does the twin loop, does it finish, does it vary?

These need no reference and no model, so they are computed for every version and arm:

- **loop rate**: the share of answers in which one word 4-gram occurs 3 or more times (a
  looping answer: "The model didn't know how to split a paragraph." nine times in a row).
  Lower is better; the author's own text scores 0 on it.
- **ended before the limit**: the share of answers that ended with the end-of-turn token
  (finish reason ``stop``) rather than at ``max_new_tokens``. Higher is better: an answer
  cut at the limit was not finished by the model.
- **distinct-2**: distinct word bigrams over all word bigrams of an answer (Li et al. 2016),
  averaged over the answers. Higher is more varied; a loop drives it toward 0. It is taken
  per answer, not pooled, so a bootstrap resample that repeats an answer does not lower it.

Words are lower-cased runs of letters, digits and apostrophes, so punctuation and
capitalisation do not hide a repeat.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

LOOP_NGRAM = 4
"""Word n-gram size of the loop test."""
LOOP_TIMES = 3
"""An answer loops when one n-gram occurs this many times or more."""

_WORD = re.compile(r"[a-z0-9']+")


def word_tokens(text: str) -> list[str]:
    """Lower-cased words (letters, digits, apostrophes)."""
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The consecutive ``n``-grams of ``tokens``."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def most_repeated(text: str, *, n: int = LOOP_NGRAM) -> int:
    """How often the most frequent word ``n``-gram of ``text`` occurs (0 for a text shorter than ``n`` words)."""
    counts = Counter(ngrams(word_tokens(text), n))
    return max(counts.values(), default=0)


def loops(text: str, *, n: int = LOOP_NGRAM, times: int = LOOP_TIMES) -> bool:
    """Whether one word ``n``-gram occurs ``times`` or more in ``text``."""
    return most_repeated(text, n=n) >= times


def loop_flags(texts: Sequence[str]) -> list[float]:
    """1.0 for each looping text, else 0.0 (the per-answer values of the loop rate)."""
    return [1.0 if loops(t) else 0.0 for t in texts]


def loop_rate(texts: Sequence[str]) -> float:
    """Share of ``texts`` that loop (see the module docstring); 0 for no texts."""
    flags = loop_flags(texts)
    return sum(flags) / len(flags) if flags else 0.0


def ended_flags(finish_reasons: Sequence[str]) -> list[float]:
    """1.0 for each answer that ended on its own (finish reason ``stop``), 0.0 when cut at the limit."""
    return [1.0 if reason == "stop" else 0.0 for reason in finish_reasons]


def distinct_values(texts: Sequence[str], *, n: int = 2) -> list[float | None]:
    """Per text, its distinct word ``n``-grams over its ``n``-grams (None for a text of fewer than ``n`` words)."""
    out: list[float | None] = []
    for text in texts:
        grams = ngrams(word_tokens(text), n)
        out.append(len(set(grams)) / len(grams) if grams else None)
    return out


def distinct_n(texts: Sequence[str], *, n: int = 2) -> float:
    """Distinct word ``n``-grams over all word ``n``-grams, pooled over ``texts`` (0 when there are none)."""
    grams = [g for t in texts for g in ngrams(word_tokens(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0
