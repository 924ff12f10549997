"""What an evaluation produces: the answers of every version, then their scores.

:class:`EvaluationAnswers` is the artifact of the answering step (kept so the answers can be
read side by side); :class:`EvaluationResults` adds the scores, the run-level retrieval
figures, notes on metrics that could not be computed, and the promotion decision. Both are
plain pydantic models, so ZenML stores them as JSON and the report reads them back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from llm_engineering.model.evaluation.promotion import PromotionDecision


class EvalSample(BaseModel):
    """One test sample: the instruction and the author's reference answer."""

    instruction: str
    reference: str


class VersionAnswers(BaseModel):
    """One version's answers to the test instructions, and what producing them cost.

    Attributes:
        name: the registry version name.
        stage: base, sft or dpo.
        folder: the model folder answered with.
        answers: one answer per test sample, in sample order.
        finish_reasons: ``stop`` or ``length`` per answer.
        completion_tokens: tokens generated in all.
        seconds: wall time of the generation.
        perplexity: author perplexity, measured while the model was loaded (None when not asked for).
        perplexity_tokens: reference tokens it was measured on.
    """

    name: str
    stage: str
    folder: str
    answers: list[str]
    finish_reasons: list[str] = Field(default_factory=list)
    completion_tokens: int = 0
    seconds: float = 0.0
    perplexity: float | None = None
    perplexity_tokens: int = 0

    @property
    def answers_per_second(self) -> float:
        return len(self.answers) / self.seconds if self.seconds else 0.0


class EvaluationAnswers(BaseModel):
    """The answering step's artifact.

    Attributes:
        author: whose twin is evaluated.
        dataset: the instruction dataset folder the test split came from.
        samples: the test samples, in order.
        versions: each version's answers.
        production: the production version when answering started.
        metrics: the metric groups asked for.
        author_texts: the author's training-split answers (the attribution classifier's positives).
    """

    author: str
    dataset: str
    samples: list[EvalSample]
    versions: list[VersionAnswers]
    production: str | None = None
    metrics: list[str]
    author_texts: list[str] = Field(default_factory=list)

    def version(self, name: str) -> VersionAnswers:
        return next(v for v in self.versions if v.name == name)


class VersionResult(BaseModel):
    """One version's scores.

    Attributes:
        name: the registry version name.
        stage: base, sft or dpo.
        scores: metric name -> score (None: not computed for this version).
        details: supporting figures (style distance parts, judge counts, generation speed).
    """

    name: str
    stage: str
    scores: dict[str, float | None] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)


class EvaluationResults(BaseModel):
    """Everything an evaluation found.

    Attributes:
        created_at: UTC time the scores were computed.
        author: whose twin was evaluated.
        dataset: the instruction dataset folder.
        samples: the test samples.
        answers: version name -> its answers.
        versions: each version's scores, in evaluation order.
        run_scores: scores of the run as a whole (retrieval).
        details: supporting figures of run-level measurements (attribution classifier, retrieval).
        notes: metrics that could not be computed, with the reason.
        metrics: the per-version metric names scored, in table order.
        primary_metric: the metric promotion decides on.
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
    production: str | None = None
    promotion: PromotionDecision | None = None

    def scores_of(self, metric: str) -> dict[str, float | None]:
        """Version name -> its score on ``metric``, in evaluation order."""
        return {v.name: v.scores.get(metric) for v in self.versions}
