"""Config of the ``evaluating`` pipeline (configs/evaluating.yaml).

Which model versions answer the test split, how they generate, which metrics score them and
how the winner is promoted. Metric names are checked here, so a misspelt one stops the run
before any model is loaded, with the known names in the message. Endpoint settings for the
judge (``OPENAI_BASE_URL``, ...) come from the settings, not from this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from llm_engineering.configs import StrictModel
from llm_engineering.model.evaluation.metrics import JUDGE_METRICS, METRIC_GROUPS, VERSION_METRICS


class GenerationSettings(StrictModel):
    """How each version answers the test instructions."""

    max_new_tokens: Annotated[int, Field(ge=1, le=4096)] = 64
    """Most tokens per answer."""
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    """0: greedy (deterministic, the default); above 0: sampling."""
    top_p: Annotated[float, Field(gt=0, le=1)] = 1.0
    """Nucleus sampling share (only with temperature > 0)."""
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8
    """Test instructions answered at once (left-padded batches)."""
    seed: int = 0
    """Sampling seed."""
    device: str = "cpu"
    """Torch device of the models (``cpu``, ``cuda``, ``mps``)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights' dtype: ``auto`` keeps the folder's (bf16 for the converted SmolLM2). In bf16, greedy
    answers in a left-padded batch often differ from one-at-a-time answers (rounding of padded
    positions); every version is answered with the same settings, so the comparison stays fair."""


class PerplexitySettings(StrictModel):
    """Author perplexity."""

    max_reference_tokens: Annotated[int, Field(ge=8, le=8192)] = 256
    """Reference answers are scored on at most this many tokens."""
    batch_size: Annotated[int, Field(ge=1, le=64)] = 4
    """Sequences per forward pass."""


class AttributionSettings(StrictModel):
    """The attribution classifier."""

    folds: Annotated[int, Field(ge=2, le=20)] = 5
    """Cross-fitting folds over the test samples (no classifier sees base answers of its own fold)."""
    max_words: Annotated[int, Field(ge=10, le=5000)] = 150
    """Every text is cut to this many words, so the classifier cannot go by length."""
    max_other_passages: Annotated[int, Field(ge=0)] = 400
    """Most passages of other authors' documents used as negatives (0: none)."""
    seed: int = 0
    """Seed of the folds, the passage sample and the solver."""


class RetrievalSettings(StrictModel):
    """Retrieval hit@k and MRR of the feature store."""

    k: Annotated[int, Field(ge=1, le=100)] = 5
    """Documents that count as a hit."""


class JudgeSettings(StrictModel):
    """The LLM judge (OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL_ID from the settings)."""

    mode: Literal["auto", "on", "off"] = "auto"
    """``auto``: judge when an endpoint is configured; ``on``: required (the run is refused without
    an endpoint); ``off``: never."""
    author_passages: Annotated[int, Field(ge=0, le=10)] = 3
    """Passages of the author shown to the judge for the "sounds like the author" score."""
    passage_words: Annotated[int, Field(ge=20, le=1000)] = 150
    """Each passage is cut to this many words."""
    max_tokens: Annotated[int, Field(ge=16, le=2048)] = 128
    """Most tokens per judge reply."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    """Timeout of one request; a timed-out answer gets a missing score (counted)."""
    request_retries: Annotated[int, Field(ge=0, le=10)] = 1
    """Retries of a failed request."""
    json_retries: Annotated[int, Field(ge=0, le=5)] = 1
    """Extra attempts after a malformed JSON reply."""
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    """Requests in flight at once."""

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        # YAML reads a bare on/off as true/false.
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class PromotionSettings(StrictModel):
    """Which version becomes production."""

    enabled: bool = True
    """False: decide and log, but change nothing."""
    primary_metric: str = "author_perplexity"
    """The per-version metric the winner is chosen by (lower or higher is better by metric)."""
    margin: Annotated[float, Field(ge=0)] = 0.0
    """How much better than production the winner must be, in the metric's own units (0: any
    strict improvement)."""

    @field_validator("primary_metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in VERSION_METRICS:
            raise ValueError(f"unknown metric {value!r} (known: {', '.join(VERSION_METRICS)})")
        return value


class EvaluatingConfig(StrictModel):
    """Everything an evaluation run needs."""

    versions: list[str] = Field(default_factory=list)
    """Registry version names to compare; empty: ``base``, the newest SFT and the newest DPO version.
    The current production version is always added, so promotion compares like with like."""
    author: str | None = None
    """Whose twin is evaluated ("First Last"); None: the author recorded with the trained versions."""
    dataset: Path | None = None
    """Instruction dataset folder; None: the newest under STATE_DIR/datasets/instruction."""
    samples: Annotated[int, Field(ge=1, le=100_000)] = 16
    """Test samples used (the first ones of the test split, which is shuffled with a seed)."""
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    metrics: list[str] = Field(default_factory=lambda: list(METRIC_GROUPS))
    """Metrics to compute: any of author_perplexity, style_distance, embedding_similarity,
    attribution_rate, rouge_l, retrieval."""
    perplexity: PerplexitySettings = Field(default_factory=PerplexitySettings)
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in METRIC_GROUPS]
        if unknown:
            raise ValueError(
                f"unknown metric {', '.join(map(repr, unknown))} (known: {', '.join(METRIC_GROUPS)}; "
                "the judge is switched by judge.mode)"
            )
        if not value:
            raise ValueError("name at least one metric")
        return list(dict.fromkeys(value))

    @field_validator("author")
    @classmethod
    def _fold_author(cls, value: str | None) -> str | None:
        return " ".join(value.split()) or None if value is not None else None

    @model_validator(mode="after")
    def _primary_is_computed(self) -> EvaluatingConfig:
        primary = self.promotion.primary_metric
        if primary in JUDGE_METRICS:
            if self.judge.mode == "off":
                raise ValueError(
                    f"promotion.primary_metric {primary!r} needs the judge, but judge.mode is 'off'"
                )
        elif primary not in self.metrics:
            raise ValueError(f"promotion.primary_metric {primary!r} is not among metrics {self.metrics}")
        return self
