"""Quality filters: minimum lengths, exact and near-duplicate removal, each with its count.

**Exact duplicates** compare normalised text (Unicode NFKC, case-folded, punctuation
dropped, whitespace collapsed) by hash, so a passage that differs only in spacing or
capitalisation is still the same passage.

**Near-duplicates** compare sets of word 3-shingles by Jaccard similarity. Candidates come
from MinHash signatures (64 hash functions, numpy) with locality-sensitive hashing (16
bands of 4 rows, so pairs above ~0.5 similarity almost always meet in some band); every
candidate pair is then confirmed with the exact Jaccard of the shingle sets, so the
threshold is exact and the result does not depend on hash luck. The first item of a
duplicate group (in input order) is kept.

Extracts are deduplicated before generation (a passage cross-posted in two documents is
one extract, so it can neither be learnt twice nor sit in both splits). Samples are
deduplicated after it: two samples are duplicates when their instructions *and* their
answers are duplicates, so the offline strategy's several instructions for one extract
(same answer, different questions) all stay.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from llm_engineering.application.questions import fragment_reason
from llm_engineering.domain.dataset import Extract, PreferenceSample, Sample, sample_answer

X = TypeVar("X")

_WORD = re.compile(r"\w+", re.UNICODE)
_MERSENNE = (1 << 31) - 1
_NUM_PERM = 64
_BANDS = 16
_ROWS = _NUM_PERM // _BANDS
_SHINGLE = 3

_rng = np.random.default_rng(20240917)  # fixed: signatures are comparable across runs
_A = _rng.integers(1, _MERSENNE, size=_NUM_PERM, dtype=np.int64)
_B = _rng.integers(0, _MERSENNE, size=_NUM_PERM, dtype=np.int64)


def normalise_text(text: str) -> str:
    """Text reduced to its words: NFKC, case-folded, punctuation dropped, single spaces."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def text_key(text: str) -> str:
    """Hash of :func:`normalise_text`: equal for texts that differ only in case, spacing, punctuation."""
    return hashlib.sha1(normalise_text(text).encode("utf-8")).hexdigest()


def shingles(text: str, size: int = _SHINGLE) -> frozenset[str]:
    """Word ``size``-grams of the normalised text (the whole text when it is shorter)."""
    words = normalise_text(text).split()
    if len(words) <= size:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _signature(shingle_set: frozenset[str]) -> np.ndarray:
    if not shingle_set:
        return np.full(_NUM_PERM, _MERSENNE, dtype=np.int64)
    hashes = (
        np.fromiter(
            (
                int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little")
                for s in shingle_set
            ),
            dtype=np.int64,
            count=len(shingle_set),
        )
        & _MERSENNE
    )
    return ((np.outer(hashes, _A) + _B) % _MERSENNE).min(axis=0)


def near_duplicate_groups(
    texts: Sequence[str], *, threshold: float, also: Callable[[int, int], bool] | None = None
) -> list[int]:
    """Indexes of the texts that near-duplicate an earlier kept text.

    Args:
        texts: the texts, in priority order (earlier ones are kept).
        threshold: Jaccard similarity of word 3-shingles from which two texts are duplicates.
        also: an extra condition a candidate pair ``(earlier, later)`` must meet to count.

    Returns:
        The indexes to drop, ascending.
    """
    shingle_sets = [shingles(t) for t in texts]
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    dropped: list[int] = []
    for index, shingle_set in enumerate(shingle_sets):
        signature = _signature(shingle_set)
        keys = [(band, signature[band * _ROWS : (band + 1) * _ROWS].tobytes()) for band in range(_BANDS)]
        candidates = sorted({other for key in keys for other in buckets.get(key, ())})
        duplicate = any(
            jaccard(shingle_sets[other], shingle_set) >= threshold and (also is None or also(other, index))
            for other in candidates
        )
        if duplicate:
            dropped.append(index)
            continue
        for key in keys:
            buckets[key].append(index)
    return dropped


class FilterCounts(BaseModel):
    """How many items each filter removed."""

    exact_duplicates: int = 0
    near_duplicates: int = 0
    short_instruction: int = 0
    short_answer: int = 0
    short_rejected: int = 0
    rejected_like_chosen: int = 0
    fragment_instruction: int = 0

    @property
    def total(self) -> int:
        """Items removed by all filters together."""
        return sum(self.model_dump().values())

    def as_dict(self) -> dict[str, int]:
        """The counts, with their total."""
        return {**self.model_dump(), "total": self.total}


def deduplicate(
    items: Sequence[X], *, key: Callable[[X], str], threshold: float, counts: FilterCounts
) -> list[X]:
    """``items`` without exact and near-duplicates of ``key(item)``; ``counts`` is updated.

    Args:
        items: items in priority order.
        key: the text compared.
        threshold: near-duplicate Jaccard threshold.
        counts: where the removals are counted.
    """
    seen: set[str] = set()
    unique: list[X] = []
    for item in items:
        digest = text_key(key(item))
        if digest in seen:
            counts.exact_duplicates += 1
            continue
        seen.add(digest)
        unique.append(item)
    dropped = set(near_duplicate_groups([key(item) for item in unique], threshold=threshold))
    counts.near_duplicates += len(dropped)
    return [item for index, item in enumerate(unique) if index not in dropped]


def deduplicate_extracts(
    extracts: Sequence[Extract], *, threshold: float
) -> tuple[list[Extract], FilterCounts]:
    """Extracts without exact or near-duplicate passages (the first one is kept)."""
    counts = FilterCounts()
    return deduplicate(extracts, key=lambda e: e.content, threshold=threshold, counts=counts), counts


def filter_samples(
    samples: Sequence[Sample],
    *,
    min_instruction_chars: int,
    min_answer_chars: int,
    min_rejected_chars: int = 0,
    near_duplicate_threshold: float = 0.8,
    deduplicate_samples: bool = True,
) -> tuple[list[Sample], FilterCounts]:
    """Samples that pass the length filters and name their topic, without duplicates.

    An instruction that is a fragment rather than a question naming its topic
    (:func:`questions.fragment_reason`, e.g. "What is your take on wrong and fixes?") is dropped
    and counted as ``fragment_instruction``, whatever strategy wrote it.

    Two samples are duplicates when both their instructions and their answers are (exactly, or
    near at ``near_duplicate_threshold``). A preference sample whose rejected answer is a
    near-duplicate of its chosen one teaches nothing and is dropped too.

    Args:
        samples: samples in priority order.
        min_instruction_chars: shortest instruction kept.
        min_answer_chars: shortest answer (``chosen``) kept.
        min_rejected_chars: shortest rejected answer kept (preference samples).
        near_duplicate_threshold: Jaccard similarity of word 3-shingles for near-duplicates.
        deduplicate_samples: remove duplicates at all.

    Returns:
        The kept samples and the count of each filter.
    """
    counts = FilterCounts()
    kept: list[Sample] = []
    for sample in samples:
        if len(sample.instruction.strip()) < min_instruction_chars:
            counts.short_instruction += 1
        elif fragment_reason(sample.instruction) is not None:
            counts.fragment_instruction += 1
        elif len(sample_answer(sample).strip()) < min_answer_chars:
            counts.short_answer += 1
        elif isinstance(sample, PreferenceSample) and len(sample.rejected.strip()) < min_rejected_chars:
            counts.short_rejected += 1
        elif isinstance(sample, PreferenceSample) and (
            text_key(sample.rejected) == text_key(sample.chosen)
            or jaccard(shingles(sample.rejected), shingles(sample.chosen)) >= near_duplicate_threshold
        ):
            counts.rejected_like_chosen += 1
        else:
            kept.append(sample)
    if not deduplicate_samples:
        return kept, counts

    seen: set[tuple[str, str]] = set()
    unique: list[Sample] = []
    for sample in kept:
        pair = (text_key(sample.instruction), text_key(sample_answer(sample)))
        if pair in seen:
            counts.exact_duplicates += 1
            continue
        seen.add(pair)
        unique.append(sample)
    instruction_shingles = [shingles(s.instruction) for s in unique]
    dropped = set(
        near_duplicate_groups(
            [sample_answer(s) for s in unique],
            threshold=near_duplicate_threshold,
            also=lambda a, b: (
                jaccard(instruction_shingles[a], instruction_shingles[b]) >= near_duplicate_threshold
            ),
        )
    )
    counts.near_duplicates += len(dropped)
    return [s for i, s in enumerate(unique) if i not in dropped], counts


def category_counts(items: Sequence[Sample] | Sequence[Extract]) -> dict[str, int]:
    """Items per category."""
    return dict(Counter(str(item.category) for item in items))
