"""Style distance: how far the stylometric profile of a set of answers is from the author's.

A :class:`StyleProfile` summarises a body of text with the features stylometry has long
used to tell authors apart, all independent of topic:

- **function words**: the relative frequencies of ~150 English function words ("the", "of",
  "which", "however", ...) plus one bucket for every other word; authors use these
  unconsciously and consistently;
- **sentence lengths**: the distribution of words per sentence over fixed bins;
- **word lengths**: the distribution of characters per word (1 to 12, and longer);
- **punctuation**: marks per 100 words for each of ``, ; : ! ? - ( " ' ` * #``;
- **vocabulary richness**: MATTR, the moving-average type-token ratio over 50-word windows
  (unlike the plain type-token ratio it does not fall as texts get longer).

:func:`style_distance` compares two profiles feature by feature, each part in [0, 1]
(Jensen-Shannon distance of the distributions, Bray-Curtis distance of the punctuation
rates, relative difference of MATTR), and returns their mean: 0 means the same profile, 1
as different as possible. Lower is more author-like. Profiles pool all texts of a side
(a version's answers, the author's references), so a handful of short answers still gives
stable frequencies.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FUNCTION_WORDS: tuple[str, ...] = tuple(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "although",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "either",
        "else",
        "even",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "least",
        "less",
        "like",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "neither",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "often",
        "on",
        "once",
        "one",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "per",
        "perhaps",
        "rather",
        "same",
        "shall",
        "she",
        "should",
        "since",
        "so",
        "some",
        "still",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "therefore",
        "these",
        "they",
        "this",
        "those",
        "though",
        "through",
        "thus",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
    ]
)
"""Topic-independent words whose rates characterise a writer."""

PUNCTUATION = ",;:!?-(\"'`*#"
"""Marks whose rates per 100 words are part of the profile."""

SENTENCE_BINS = (0, 6, 11, 16, 21, 31, 41)
"""Lower edges of the words-per-sentence bins: 1-5, 6-10, 11-15, 16-20, 21-30, 31-40, 41+."""

MAX_WORD_LENGTH = 12
"""Word lengths 1..12 have a bin each; longer words share one."""

MATTR_WINDOW = 50

_WORD = re.compile(r"[A-Za-z][A-Za-z']*|\d+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n{2,}")
_FUNCTION_INDEX = {word: i for i, word in enumerate(FUNCTION_WORDS)}


def words(text: str) -> list[str]:
    """Lower-cased words (letters with inner apostrophes, or digit runs)."""
    return [w.lower() for w in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    """Sentences: split after . ! ? followed by whitespace, and at blank lines."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def mattr(tokens: Sequence[str], window: int = MATTR_WINDOW) -> float:
    """Moving-average type-token ratio; the plain type-token ratio for texts shorter than ``window``."""
    if not tokens:
        return 0.0
    if len(tokens) <= window:
        return len(set(tokens)) / len(tokens)
    counts = Counter(tokens[:window])
    total = len(counts)
    for i in range(window, len(tokens)):
        counts[tokens[i]] += 1
        gone = tokens[i - window]
        counts[gone] -= 1
        if counts[gone] == 0:
            del counts[gone]
        total += len(counts)
    return total / (len(tokens) - window + 1) / window


@dataclass(frozen=True)
class StyleProfile:
    """The stylometric profile of a body of text (see the module docstring).

    Attributes:
        function_words: frequency distribution over :data:`FUNCTION_WORDS` plus an "other word" bucket.
        sentence_lengths: distribution of words per sentence over :data:`SENTENCE_BINS`.
        word_lengths: distribution of characters per word (1..12, 13+).
        punctuation: marks per 100 words, one rate per mark of :data:`PUNCTUATION`.
        richness: MATTR, averaged over the texts (weighted by their words).
        words: words profiled.
    """

    function_words: np.ndarray
    sentence_lengths: np.ndarray
    word_lengths: np.ndarray
    punctuation: np.ndarray
    richness: float
    words: int


def _distribution(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts


_SIZES = (len(FUNCTION_WORDS) + 1, len(SENTENCE_BINS), MAX_WORD_LENGTH + 1, len(PUNCTUATION), 1, 1)
"""Layout of :func:`style_counts`: function words, sentence bins, word lengths, marks, MATTR x words, words."""


def style_counts(text: str) -> np.ndarray:
    """The raw, additive counts of one text's profile (see :data:`_SIZES`); profiles pool them by summing."""
    out = np.zeros(sum(_SIZES))
    tokens = words(text)
    if not tokens:
        return out
    bounds = np.cumsum((0, *_SIZES))
    function_counts, sentence_counts, length_counts, mark_counts = (
        out[bounds[i] : bounds[i + 1]] for i in range(4)
    )
    for token in tokens:
        function_counts[_FUNCTION_INDEX.get(token, len(FUNCTION_WORDS))] += 1
        length_counts[min(len(token), MAX_WORD_LENGTH + 1) - 1] += 1
    for sentence in sentences(text):
        n = len(words(sentence))
        if n:
            sentence_counts[int(np.searchsorted(SENTENCE_BINS, n, side="right")) - 1] += 1
    for i, mark in enumerate(PUNCTUATION):
        mark_counts[i] += text.count(mark)
    out[-2] = mattr(tokens) * len(tokens)
    out[-1] = len(tokens)
    return out


def profile_from_counts(counts: np.ndarray) -> StyleProfile:
    """The profile of summed :func:`style_counts`.

    Raises:
        ValueError: the counts hold no words.
    """
    total_words = int(counts[-1])
    if not total_words:
        raise ValueError("no words to profile")
    bounds = np.cumsum((0, *_SIZES))
    function_counts, sentence_counts, length_counts, mark_counts = (
        counts[bounds[i] : bounds[i + 1]] for i in range(4)
    )
    return StyleProfile(
        function_words=_distribution(function_counts),
        sentence_lengths=_distribution(sentence_counts),
        word_lengths=_distribution(length_counts),
        punctuation=mark_counts * 100.0 / total_words,
        richness=float(counts[-2]) / total_words,
        words=total_words,
    )


def style_profile(texts: Sequence[str]) -> StyleProfile:
    """The pooled profile of ``texts``.

    Raises:
        ValueError: the texts hold no words.
    """
    return profile_from_counts(sum((style_counts(t) for t in texts), np.zeros(sum(_SIZES))))


def _js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1]); an empty distribution is maximally far."""
    if not p.sum() or not q.sum():
        return 0.0 if not p.sum() and not q.sum() else 1.0
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(np.sqrt(max(0.0, (kl(p) + kl(q)) / 2)))


def _bray_curtis(a: np.ndarray, b: np.ndarray) -> float:
    total = float(np.sum(a + b))
    return float(np.sum(np.abs(a - b))) / total if total else 0.0


def style_components(profile: StyleProfile, reference: StyleProfile) -> dict[str, float]:
    """Each part of the distance between two profiles, in [0, 1] (0: identical)."""
    top = max(profile.richness, reference.richness)
    return {
        "function_words": _js_distance(profile.function_words, reference.function_words),
        "sentence_lengths": _js_distance(profile.sentence_lengths, reference.sentence_lengths),
        "word_lengths": _js_distance(profile.word_lengths, reference.word_lengths),
        "punctuation": _bray_curtis(profile.punctuation, reference.punctuation),
        "richness": abs(profile.richness - reference.richness) / top if top else 0.0,
    }


def style_distance(texts: Sequence[str], references: Sequence[str]) -> tuple[float, dict[str, float]]:
    """The style distance of ``texts`` from ``references`` (mean of the parts) and the parts.

    Args:
        texts: the answers of one model version (or any text to compare).
        references: the author's own text.

    Raises:
        ValueError: either side holds no words.
    """
    parts = style_components(style_profile(texts), style_profile(references))
    return sum(parts.values()) / len(parts), parts
