"""Config of the ``evaluating`` pipeline (configs/evaluating.yaml).

Which model versions answer the test split, how they generate, which metrics score them and
how the winner is promoted. Metric names are checked here, so a misspelt one stops the run
before any model is loaded, with the known names in the message. Endpoint settings for the
judge (``OPENAI_BASE_URL``, ...) come from the settings, not from this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from llm_engineering.configs import StrictModel
from llm_engineering.domain.chat import CONTEXT_PASSAGES
from llm_engineering.domain.decoding import Decoding
from llm_engineering.domain.metrics import (
    GENERATION_METRICS,
    JUDGE_METRICS,
    METRIC_GROUPS,
    VERSION_METRICS,
)
from llm_engineering.settings import PROJECT_ROOT


class AnswerGenerationConfig(Decoding):
    """How each version answers: the shared :class:`~llm_engineering.domain.decoding.Decoding`.

    The same fields and defaults as serving's decoding (``max_new_tokens``, ``temperature``,
    ``top_p``, ``repetition_penalty``, ``no_repeat_ngram_size``, ``frequency_penalty``,
    ``presence_penalty``, ``stop``; ``seed`` is fixed), so the answers scored are decoded the
    way they are served; plus how the evaluation runs the model. Generation is batch-invariant (the
    generator's guarantee: every request decodes on its own seeded stream, transformers in
    float32, ONNX Runtime with one generator per request): an answer does not depend on the
    batch it was answered in, so ``batch_size`` changes speed, never scores. Author perplexity
    is always measured with the transformers model in float32.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    seed: int | None = 0
    """Sampling seed. The one default that differs from serving's (None, a fresh stream per
    request): an evaluation must give the same answers when it is run again."""
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8
    """Test instructions answered at once."""
    runtime: str | None = None
    """Inference runtime of the generator (``onnx``, ``transformers``); None: the generator's
    default (ONNX Runtime on the CPU), the one serving uses."""

    def decoding(self) -> Decoding:
        """The decoding part alone, as serving takes it."""
        return Decoding(**self.model_dump(include=set(Decoding.model_fields)))


class PerplexityConfig(StrictModel):
    """Author perplexity."""

    max_reference_tokens: Annotated[int, Field(ge=8, le=8192)] = 256
    """Reference answers are scored on at most this many tokens."""
    batch_size: Annotated[int, Field(ge=1, le=64)] = 4
    """Sequences per forward pass."""


class AttributionConfig(StrictModel):
    """The attribution classifier (author vs other authors' writing)."""

    words: Annotated[int, Field(ge=10, le=5000)] = 100
    """Every text is cut to this many words (training windows and answers alike), so the
    classifier cannot go by length."""
    max_other_documents: Annotated[int, Field(ge=0)] = 200
    """Most of the feature store's other authors' documents used as negatives (0: none; the
    impostors still count)."""
    held_out_share: Annotated[float, Field(gt=0, lt=1)] = 0.25
    """Share of the other authors' documents kept out of training to measure the classifier."""
    impostors: dict[str, list[Path]] = Field(
        default_factory=lambda: {
            "Maya Lindqvist": [Path("data/demo/articles"), Path("data/demo/posts")],
            "Theo Castellanos": [Path("data/demo/theo-castellanos")],
        },
        validate_default=True,
    )
    """More authors' writing as negatives, author name -> folders of their Markdown and text files
    (relative to the project root). An author who is the one judged, or who is in the feature
    store already, is skipped. With only the feature store's authors the classifier must give any
    text to one of them: a two-author classifier gave 37 % of an unseen author's windows to
    Maxime Labonne, one impostor author more 15 % (``python -m bench.attribution``)."""
    seed: int = 0
    """Seed of the document sample, the held-out choice, the shuffles and the solver."""

    @field_validator("impostors")
    @classmethod
    def _impostor_folders_exist(cls, value: dict[str, list[Path]]) -> dict[str, list[Path]]:
        """Each folder resolved against the project root; a missing one stops the config."""
        resolved = {name: [PROJECT_ROOT / folder for folder in folders] for name, folders in value.items()}
        for name, folders in resolved.items():
            for folder in folders:
                if not folder.is_dir():
                    raise ValueError(f"the writing of impostor author {name!r} is not a folder: {folder}")
        return resolved


class EvaluationContextConfig(StrictModel):
    """The served arm's retrieval: the API's own retriever, the sample's own document left out."""

    k: Annotated[int, Field(ge=1, le=20)] = CONTEXT_PASSAGES
    """Passages retrieved per prompt, as the API retrieves them; ``build_messages`` then applies
    the one context budget (``chat.CONTEXT_PASSAGES`` passages of ``chat.PASSAGE_WORDS`` words)."""


class RetrievalConfig(StrictModel):
    """Retrieval hit@k and MRR of the feature store."""

    k: Annotated[int, Field(ge=1, le=100)] = 5
    """Documents that count as a hit."""


class JudgeConfig(StrictModel):
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


class PromotionConfig(StrictModel):
    """Which version becomes production."""

    enabled: bool = True
    """False: decide and log, but change nothing."""
    primary_metric: str = "attribution_rate"
    """The per-version metric the winner is chosen by (lower or higher is better by metric),
    measured on generated answers in ``arm``: a twin cannot win it by scoring well on a
    metric of the author's own text (author perplexity is what SFT minimises)."""
    fallback_metric: str | None = "style_distance"
    """Decides when no version has a primary score (attribution needs a second author in the
    feature store); None: no fallback, production unchanged."""
    arm: Literal["served", "bare"] = "bare"
    """The arm whose primary scores decide. ``bare`` (no passages): what a version adds itself.
    In the served arm retrieval lets any model quote the author, so its attribution cannot tell
    a twin from the base model that copies passages (on the demo the base model's served answers,
    assistant talk around quoted passages, were attributed as often as the twin's)."""
    guards: list[str] = Field(default_factory=lambda: ["loop_rate", "style_distance"])
    """A version worse than the base model on one of these beyond their 95% intervals is not promoted."""
    guard_arm: Literal["served", "bare"] | None = None
    """The arm the guards read; None: ``served`` (what users get) when it was answered, else ``arm``."""
    margin: Annotated[float, Field(ge=0)] = 0.0
    """How much better than production the winner must be, in the metric's own units (0: any
    strict improvement)."""

    @field_validator("primary_metric", "fallback_metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in VERSION_METRICS:
            raise ValueError(f"unknown metric {value!r} (known: {', '.join(VERSION_METRICS)})")
        return value

    @field_validator("guards")
    @classmethod
    def _known_guards(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in VERSION_METRICS or m in JUDGE_METRICS]
        if unknown:
            raise ValueError(f"unknown guard metric {', '.join(map(repr, unknown))}")
        return list(dict.fromkeys(value))


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
    arms: list[Literal["served", "bare"]] = Field(default_factory=lambda: ["served", "bare"])
    """Prompt forms every version answers in: ``served`` (passages retrieved as the API does,
    the sample's own document left out) and ``bare`` (no passages)."""
    generation: AnswerGenerationConfig = Field(default_factory=AnswerGenerationConfig)
    context: EvaluationContextConfig = Field(default_factory=EvaluationContextConfig)
    metrics: list[str] = Field(default_factory=lambda: list(METRIC_GROUPS))
    """Metrics to compute: any of author_perplexity, style_distance, embedding_similarity,
    attribution_rate, rouge_l, retrieval."""
    perplexity: PerplexityConfig = Field(default_factory=PerplexityConfig)
    attribution: AttributionConfig = Field(default_factory=AttributionConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)

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

    @field_validator("arms")
    @classmethod
    def _some_arm(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one arm (served, bare)")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _primary_is_computed(self) -> EvaluatingConfig:
        promotion = self.promotion
        named = [("primary_metric", promotion.primary_metric), ("fallback_metric", promotion.fallback_metric)]
        named += [("guards", guard) for guard in promotion.guards]
        for key, metric in named:
            if metric is None or metric in GENERATION_METRICS:
                continue
            if metric in JUDGE_METRICS:
                if self.judge.mode == "off":
                    raise ValueError(f"promotion.{key} {metric!r} needs the judge, but judge.mode is 'off'")
            elif metric not in self.metrics:
                raise ValueError(f"promotion.{key} {metric!r} is not among metrics {self.metrics}")
        for key in ("arm", "guard_arm"):
            arm = getattr(promotion, key)
            if arm is not None and arm not in self.arms:
                raise ValueError(f"promotion.{key} {arm!r} is not among arms {self.arms}")
        return self
