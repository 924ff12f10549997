"""Bootstrap 95% intervals: how much a score would move on another draw of the same number of test samples.

Every metric of the evaluation is a statistic of the test samples: a mean of per-answer
values (ROUGE-L, embedding similarity, attribution, loop, ended) or a figure pooled over
them (style distance, distinct-2, author perplexity). :func:`bootstrap_interval` resamples
the sample indices with replacement, recomputes the statistic on each resample and returns
the 2.5th and 97.5th percentiles (the percentile bootstrap). Resampling the indices, not
the values, keeps each answer with its own reference. The seed is fixed, so the same
answers give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

RESAMPLES = 1000
"""Resamples per interval: enough for stable 2.5/97.5 percentiles of a mean of 16-100 values."""

Interval = tuple[float, float]


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    resamples: int = RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> Interval | None:
    """The percentile bootstrap interval of ``statistic`` over ``n`` samples.

    Args:
        statistic: takes an array of sample indices (with repeats) and returns the score.
        n: samples.
        resamples: bootstrap resamples.
        level: coverage (0.95: the 2.5th and 97.5th percentiles).
        seed: seed of the resampling.

    Returns:
        ``(low, high)``, or None when there are no samples or the statistic fails on every resample.
    """
    if n <= 0:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        try:
            value = statistic(rng.integers(0, n, size=n))
        except (ValueError, ZeroDivisionError):  # a resample without words: no value
            continue
        if value is not None and np.isfinite(value):
            values.append(float(value))
    if not values:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(values: Sequence[float | None], **kwargs) -> Interval | None:
    """The bootstrap interval of the mean of ``values`` (None values left out)."""
    kept = np.array([v for v in values if v is not None], dtype=float)
    if not kept.size:
        return None
    return bootstrap_interval(lambda idx: float(kept[idx].mean()), kept.size, **kwargs)


def worse_beyond(candidate: Interval | None, baseline: Interval | None, *, better: str) -> bool:
    """Whether ``candidate``'s interval lies wholly on the worse side of ``baseline``'s (no overlap)."""
    if candidate is None or baseline is None:
        return False
    return candidate[0] > baseline[1] if better == "lower" else candidate[1] < baseline[0]
