"""The evaluation's metric names, which way is better for each, and what they mean.

Per-version scores are keyed by the names of :data:`VERSION_METRICS`; the names a config
may ask for (``metrics:``) are :data:`METRIC_GROUPS` (the :data:`GENERATION_METRICS` are
always computed), where ``retrieval`` scores the feature
store once per run (``retrieval_hit_at_k``, ``retrieval_mrr``) and the judge's scores come
with ``judge:`` switched on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher"]


@dataclass(frozen=True)
class Metric:
    """One score: its label, which way is better, one line on what it means."""

    label: str
    better: Direction
    meaning: str


VERSION_METRICS: dict[str, Metric] = {
    "author_perplexity": Metric(
        "author perplexity", "lower", "how likely the model finds the author's own reference answers"
    ),
    "style_distance": Metric(
        "style distance", "lower", "stylometric profile of the answers vs the author's references (0-1)"
    ),
    "embedding_similarity": Metric(
        "embedding similarity", "higher", "MiniLM cosine similarity of each answer with its reference"
    ),
    "attribution_rate": Metric(
        "attribution rate", "higher", "share of answers a classifier attributes to the author"
    ),
    "rouge_l": Metric("ROUGE-L", "higher", "longest-common-subsequence F1 with the reference answer"),
    "loop_rate": Metric("loop rate", "lower", "share of answers in which one word 4-gram occurs 3+ times"),
    "ended_rate": Metric(
        "ended before limit", "higher", "share of answers that ended on their own, not at max_new_tokens"
    ),
    "distinct_2": Metric(
        "distinct-2", "higher", "distinct word bigrams over all bigrams, per answer, averaged"
    ),
    "judge_accuracy": Metric("judge accuracy", "higher", "LLM judge, 1-3: right and complete"),
    "judge_style": Metric("judge style", "higher", "LLM judge, 1-3: blog-like register"),
    "judge_author": Metric("judge author", "higher", "LLM judge, 1-3: sounds like the author"),
}
"""Scores given to every model version."""

RUN_METRICS: dict[str, Metric] = {
    "retrieval_hit_at_k": Metric("retrieval hit@k", "higher", "test instructions find their source document"),
    "retrieval_mrr": Metric("retrieval MRR", "higher", "mean reciprocal rank of the source document"),
}
"""Scores of the run as a whole (the feature store), not of a version."""

METRIC_GROUPS: tuple[str, ...] = (
    "author_perplexity",
    "style_distance",
    "embedding_similarity",
    "attribution_rate",
    "rouge_l",
    "retrieval",
)
"""What ``metrics:`` in the config may list; the judge is switched by ``judge.mode``."""

JUDGE_METRICS: tuple[str, ...] = ("judge_accuracy", "judge_style", "judge_author")

GENERATION_METRICS: tuple[str, ...] = ("loop_rate", "ended_rate", "distinct_2")
"""Scores of the generated text alone (no reference, no model): computed for every version and arm,
so promotion's guards always have them."""


def is_better(a: float, b: float, *, better: Direction) -> bool:
    """Whether score ``a`` is strictly better than ``b``."""
    return a < b if better == "lower" else a > b


def improvement(candidate: float, incumbent: float, *, better: Direction) -> float:
    """How much better ``candidate`` is than ``incumbent`` (negative when worse), in the metric's units."""
    return incumbent - candidate if better == "lower" else candidate - incumbent
