"""Choosing the decoding defaults on the dev split: a small grid, scored on generated answers.

``bench/decoding.py`` answers the **validation** split's instructions (documents held out of
training, and never the test split) with each :data:`GRID` point, through the served prompt
and the served generator, and scores the answers with the evaluation's own metrics: loop
rate, share ended before the token limit, style distance from the author's references and
attribution to the author (against other authors' writing). :func:`choose_decoding` picks
one point for every model at once:

1. only points whose loop rate is the lowest seen for that model, within one answer, stay in;
2. among those, the lowest mean rank over the models on attribution (higher is better),
   style distance (lower) and ended before the limit (higher) wins; a tie goes to the point
   listed first (the simpler one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from llm_engineering.domain.decoding import Decoding

GRID: tuple[tuple[str, dict[str, float]], ...] = (
    ("greedy", {}),
    ("greedy rep1.1", {"repetition_penalty": 1.1}),
    ("greedy ngram3", {"no_repeat_ngram_size": 3}),
    ("greedy rep1.1 ngram4", {"repetition_penalty": 1.1, "no_repeat_ngram_size": 4}),
    ("greedy freq.3 pres.3", {"frequency_penalty": 0.3, "presence_penalty": 0.3}),
    (
        "t0.7 p0.9 rep1.1 ngram4",
        {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1, "no_repeat_ngram_size": 4},
    ),
    (
        "t0.7 p0.9 freq.3 pres.3 ngram3",
        {
            "temperature": 0.7,
            "top_p": 0.9,
            "frequency_penalty": 0.3,
            "presence_penalty": 0.3,
            "no_repeat_ngram_size": 3,
        },
    ),
)
"""The decodings tried: greedy and nucleus sampling, each with the repetition controls alone and combined."""

CRITERIA: tuple[tuple[str, str], ...] = (
    ("attribution_rate", "higher"),
    ("style_distance", "lower"),
    ("ended_rate", "higher"),
)
"""What ranks the points that do not loop more than the least looping one."""


def grid_decodings(*, max_new_tokens: int, seed: int = 0, grid=GRID) -> list[tuple[str, Decoding]]:
    """Each grid point as a :class:`Decoding` (sampling seeded, so a rerun gives the same answers).

    A point names only what it changes; the rest is off (:meth:`Decoding.plain`), never
    Decoding's defaults, which are what the grid chooses."""
    return [
        (label, Decoding.plain(max_new_tokens=max_new_tokens, seed=seed, **values)) for label, values in grid
    ]


@dataclass
class GridRow:
    """One model's answers with one decoding, scored.

    Attributes:
        model: which model answered (``base``, a twin's version name).
        label: the grid point.
        scores: metric -> value (``loop_rate``, ``ended_rate``, ``distinct_2``, ``style_distance``,
            ``attribution_rate``; None when not computed).
        intervals: metric -> bootstrap 95% interval.
        samples: answers scored.
        seconds: generation wall time.
        tokens: tokens generated.
    """

    model: str
    label: str
    scores: dict[str, float | None]
    intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    samples: int = 0
    seconds: float = 0.0
    tokens: int = 0


def _ranks(values: Mapping[str, float | None], better: str) -> dict[str, float]:
    """1 for the best; ties share the mean rank; a missing value ranks last."""
    present = {k: v for k, v in values.items() if v is not None}
    ordered = sorted(present.values(), reverse=better == "higher")
    ranks = {}
    for key, value in present.items():
        first = ordered.index(value) + 1
        last = len(ordered) - ordered[::-1].index(value)
        ranks[key] = (first + last) / 2
    for key in values:
        ranks.setdefault(key, float(len(values)))
    return ranks


def choose_decoding(
    rows: Sequence[GridRow], *, loop_tolerance: float | None = None
) -> tuple[str, dict[str, float]]:
    """The grid point to ship (see the module docstring) and each surviving point's mean rank.

    Args:
        rows: every model x grid point, scored.
        loop_tolerance: how far above a model's lowest loop rate a point may be; None: one answer
            (``1 / samples``).

    Raises:
        ValueError: no rows.
    """
    if not rows:
        raise ValueError("no grid rows to choose from")
    labels = list(dict.fromkeys(r.label for r in rows))
    models = list(dict.fromkeys(r.model for r in rows))
    by = {(r.model, r.label): r for r in rows}
    survivors = []
    for label in labels:
        ok = True
        for model in models:
            row = by.get((model, label))
            if row is None:
                ok = False
                break
            lowest = min(
                by[(model, other)].scores.get("loop_rate") or 0.0 for other in labels if (model, other) in by
            )
            tolerance = loop_tolerance if loop_tolerance is not None else 1 / max(1, row.samples)
            if (row.scores.get("loop_rate") or 0.0) > lowest + tolerance + 1e-9:
                ok = False
        if ok:
            survivors.append(label)
    mean_rank: dict[str, float] = {label: 0.0 for label in survivors}
    for model in models:
        for metric, better in CRITERIA:
            ranks = _ranks({label: by[(model, label)].scores.get(metric) for label in survivors}, better)
            for label in survivors:
                mean_rank[label] += ranks[label] / (len(models) * len(CRITERIA))
    chosen = min(survivors, key=lambda label: (mean_rank[label], labels.index(label)))
    return chosen, mean_rank
