"""What an evaluation produces: the answers of every version, then their scores.

:class:`EvaluationAnswers` is the artifact of the answering step (kept so the answers can be
read side by side); :class:`EvaluationResults` adds the scores, the run-level retrieval
figures, notes on metrics that could not be computed, and the promotion decision. Both are
plain pydantic models, so ZenML stores them as JSON and the report reads them back.

Each version answers in one or more **arms**: ``served`` (the prompt users get: passages
retrieved as the API retrieves them, the sample's own document left out) and ``bare`` (no
passages). A row of answers or scores is one version in one arm, keyed ``<version>/<arm>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from llm_engineering.model.evaluation.promotion import PromotionDecision

ARMS = ("served", "bare")
"""The prompt forms a version answers in: with retrieved passages as served, and without."""


def row_key(name: str, arm: str) -> str:
    """The key of one version's answers or scores in one arm."""
    return f"{name}/{arm}"


class EvalSample(BaseModel):
    """One test sample: the instruction, the author's reference answer and the document it came from."""

    instruction: str
    reference: str
    document_id: str | None = None


class VersionAnswers(BaseModel):
    """One version's answers to the test instructions, and what producing them cost.

    Attributes:
        name: the registry version name.
        stage: base, sft or dpo.
        folder: the model folder answered with.
        arm: ``served`` (retrieved passages in the prompt) or ``bare`` (none).
        answers: one answer per test sample, in sample order.
        finish_reasons: ``stop`` or ``length`` per answer.
        completion_tokens: tokens generated in all.
        seconds: wall time of the generation.
        perplexity: author perplexity, measured while the model was loaded (None when not asked for).
        perplexity_tokens: reference tokens it was measured on.
        perplexity_nll: per sample, its summed reference NLL and its token count (for the interval).
        passages: per sample, the passages the prompt kept after fitting the context (served arm).
    """

    name: str
    stage: str
    folder: str
    arm: str = "bare"
    answers: list[str]
    finish_reasons: list[str] = Field(default_factory=list)
    completion_tokens: int = 0
    seconds: float = 0.0
    perplexity: float | None = None
    perplexity_tokens: int = 0
    perplexity_nll: list[tuple[float, int]] = Field(default_factory=list)
    passages: list[int] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return row_key(self.name, self.arm)

    @property
    def answers_per_second(self) -> float:
        return len(self.answers) / self.seconds if self.seconds else 0.0


class EvaluationAnswers(BaseModel):
    """The answering step's artifact.

    Attributes:
        author: whose twin is evaluated.
        dataset: the instruction dataset folder the test split came from.
        samples: the test samples, in order.
        versions: each version's answers, one row per version and arm.
        production: the production version when answering started.
        metrics: the metric groups asked for.
        author_texts: the author's training-split answers (the attribution classifier's positives).
        contexts: per sample, the passages retrieved for the served arm (best first, own document left out).
        context_documents: per sample, the documents of those passages.
        left_out: retrieved chunks dropped because they came from the sample's own document.
        decoding: the decoding settings every version answered with.
        checks: what the plan verified (the held-out documents), one line each.
    """

    author: str
    dataset: str
    samples: list[EvalSample]
    versions: list[VersionAnswers]
    production: str | None = None
    metrics: list[str]
    author_texts: list[str] = Field(default_factory=list)
    contexts: list[list[str]] = Field(default_factory=list)
    context_documents: list[list[str]] = Field(default_factory=list)
    left_out: int = 0
    decoding: dict[str, Any] = Field(default_factory=dict)
    checks: list[str] = Field(default_factory=list)

    def version(self, name: str, arm: str | None = None) -> VersionAnswers:
        return next(v for v in self.versions if v.name == name and (arm is None or v.arm == arm))


class VersionResult(BaseModel):
    """One version's scores in one arm.

    Attributes:
        name: the registry version name.
        stage: base, sft or dpo.
        arm: ``served`` or ``bare``.
        scores: metric name -> score (None: not computed for this version).
        intervals: metric name -> its bootstrap 95% interval ``(low, high)`` (None: not computed).
        details: supporting figures (style distance parts, judge counts, generation speed).
    """

    name: str
    stage: str
    arm: str = "bare"
    scores: dict[str, float | None] = Field(default_factory=dict)
    intervals: dict[str, tuple[float, float] | None] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return row_key(self.name, self.arm)


class EvaluationResults(BaseModel):
    """Everything an evaluation found.

    Attributes:
        created_at: UTC time the scores were computed.
        author: whose twin was evaluated.
        dataset: the instruction dataset folder.
        samples: the test samples.
        answers: row key (``<version>/<arm>``) -> its answers.
        versions: each version's scores per arm, in evaluation order.
        run_scores: scores of the run as a whole (retrieval).
        details: supporting figures of run-level measurements (attribution classifier, retrieval).
        notes: metrics that could not be computed, with the reason.
        metrics: the per-version metric names scored, in table order.
        primary_metric: the metric promotion decides on.
        primary_arm: the arm promotion decides on (``served``: what users get).
        production: the production version when the evaluation started.
        promotion: the decision, once made.
    """

    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    author: str
    dataset: str
    samples: list[EvalSample]
    answers: dict[str, list[str]]
    versions: list[VersionResult]
    run_scores: dict[str, float] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    metrics: list[str]
    primary_metric: str
    primary_arm: str = "served"
    production: str | None = None
    promotion: PromotionDecision | None = None

    @property
    def arms(self) -> list[str]:
        """The arms answered, in row order."""
        return list(dict.fromkeys(v.arm for v in self.versions))

    def scores_of(self, metric: str, arm: str | None = None) -> dict[str, float | None]:
        """Version name -> its score on ``metric`` in ``arm`` (default: the primary arm), in evaluation order."""
        arm = arm or self.primary_arm
        return {v.name: v.scores.get(metric) for v in self.versions if v.arm == arm}

    def intervals_of(self, metric: str, arm: str | None = None) -> dict[str, tuple[float, float] | None]:
        """Version name -> its 95% interval on ``metric`` in ``arm`` (default: the primary arm)."""
        arm = arm or self.primary_arm
        return {v.name: v.intervals.get(metric) for v in self.versions if v.arm == arm}
