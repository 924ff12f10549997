"""Config of the ``generate_datasets`` pipeline (configs/generate_instruct_datasets.yaml and
configs/generate_preference_datasets.yaml).

One model serves both datasets; ``dataset_type`` picks which one a run builds. Every
strategy is a ``Literal``, so an unknown one stops the run before it starts, with the key
and the allowed values in the message. Endpoint settings (``OPENAI_BASE_URL``, ...) are not
config: they come from the settings, and the pipeline checks them before any step runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from llm_engineering.configs import AuthorNames, StrictModel
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.domain.types import DataCategory


class ExtractConfig(StrictModel):
    """How cleaned documents are cut into extracts (one extract: one answer's worth of text)."""

    categories: Annotated[list[DataCategory], Field(min_length=1)] = Field(
        default_factory=lambda: list(DataCategory)
    )
    """Categories of the feature store to read (articles, posts, repositories)."""
    unit: Literal["characters", "words"] = "characters"
    """What ``max_length`` and ``min_length`` count."""
    max_length: Annotated[int, Field(ge=20)] = 1500
    """Longest extract; documents are cut at paragraph, then sentence boundaries to stay below it."""
    min_length: Annotated[int, Field(ge=0)] = 200
    """Shortest extract; a shorter last piece joins the previous extract, a shorter document is skipped (counted)."""
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 256
    """Cleaned documents read from the feature store per request (scroll page)."""

    @model_validator(mode="after")
    def _min_below_max(self) -> ExtractConfig:
        if self.min_length >= self.max_length:
            raise ValueError(f"min_length ({self.min_length}) must be below max_length ({self.max_length})")
        return self


class InstructionConfig(StrictModel):
    """How instructions (and, for the ``llm`` strategy, answers) are written for each extract."""

    strategy: Literal["offline", "llm"] = "offline"
    """``offline``: derived from the extract (title, headings, key phrases, the question its first
    sentence answers), the answer being the author's own extract; no endpoint needed.
    ``llm``: the endpoint writes several instruction-answer pairs per extract in the author's voice."""
    instructions_per_extract: Annotated[int, Field(ge=1, le=4)] = 2
    """``offline``: instructions derived per extract (each with the extract as its answer)."""
    pairs_per_extract: Annotated[int, Field(ge=1, le=10)] = 3
    """``llm``: instruction-answer pairs asked for per extract."""


class PreferenceConfig(StrictModel):
    """How the rejected answer of each preference sample is made (``chosen`` is always the author's text)."""

    rejected_strategy: Literal["offline", "llm", "model"] = "offline"
    """``offline``: a deliberately generic, templated answer on the extract's topic (no endpoint).
    ``llm``: the endpoint answers the instruction as a generic assistant would.
    ``model``: ``model`` answers the instruction as it is (e.g. the SFT twin: self-play)."""
    model: str | None = None
    """``model`` strategy: a local model folder, or a model id served at ``model_base_url``."""
    model_base_url: str | None = None
    """``model`` strategy with a model id: its endpoint (default: OPENAI_BASE_URL)."""
    device: str = "cpu"
    """``model`` strategy with a local folder: the torch device."""

    @model_validator(mode="after")
    def _model_given(self) -> PreferenceConfig:
        if self.rejected_strategy == "model" and not self.model:
            raise ValueError(
                "rejected_strategy 'model' needs preference.model: a local model folder or an endpoint model id"
            )
        return self


class LLMCallConfig(StrictModel):
    """Calls to an LLM (``llm`` strategies and the ``model`` strategy); unused by offline runs."""

    temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    """Sampling temperature."""
    max_tokens: Annotated[int, Field(ge=16, le=32_768)] = 1024
    """Most answer tokens per call."""
    token_budget: Annotated[int | None, Field(ge=1)] = None
    """Most tokens (prompt + answer) the whole run may spend; None: no limit. Calls past it are
    refused and counted as ``budget_exhausted``."""
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    """Requests in flight at once."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    """Timeout of one request."""
    request_retries: Annotated[int, Field(ge=0, le=10)] = 2
    """Retries of a timed-out or failed (429, 5xx) request."""
    json_retries: Annotated[int, Field(ge=0, le=5)] = 2
    """Extra attempts after a malformed JSON answer; then that extract's pairs are dropped (counted)."""
    json_mode: bool = False
    """Send ``response_format={"type": "json_object"}`` (OpenAI, vLLM and Ollama support it)."""
    failure_threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    """The step fails when more than this share of extracts (or samples) failed."""

    def client_options(self) -> dict[str, object]:
        """Keyword arguments of the LLM adapters (llm_engineering.infrastructure.llm) for these settings."""
        return {
            "default_max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "token_budget": self.token_budget,
            "max_concurrency": self.max_concurrency,
            "timeout_seconds": self.timeout_seconds,
            "request_retries": self.request_retries,
            "json_retries": self.json_retries,
            "json_mode": self.json_mode,
        }


class QualityConfig(StrictModel):
    """Filters applied to extracts and samples; each filter's count is logged."""

    min_instruction_chars: Annotated[int, Field(ge=0)] = 10
    """Shortest instruction kept."""
    min_answer_chars: Annotated[int, Field(ge=0)] = 100
    """Shortest answer (``chosen`` for preference samples) kept."""
    min_rejected_chars: Annotated[int, Field(ge=0)] = 20
    """Shortest rejected answer kept."""
    near_duplicate_threshold: Annotated[float, Field(gt=0, le=1)] = 0.8
    """Word-shingle Jaccard similarity from which two texts count as near-duplicates."""
    deduplicate: bool = True
    """Remove exact and near-duplicate extracts and samples."""


class SplitConfig(StrictModel):
    """The train/validation/test split by a hash of each document id (the same in every dataset)."""

    test_size: Annotated[float, Field(ge=0, lt=1)] = 0.1
    """Share of the groups (documents or extracts) held out for the test split."""
    validation_size: Annotated[float, Field(ge=0, lt=1)] = 0.1
    """Share of the groups held out for the validation (dev) split: decoding defaults and other
    choices are made on it, never on the test split."""
    seed: int = 42
    """Seed of the split's hash and of the row order. Keep it equal in the instruction and the
    preference configs: the two datasets then hold out the same documents."""
    group_by: Literal["document", "extract"] = "document"
    """Samples of one group stay on one side. ``document``: no document, hence no extract, is in
    both splits; ``extract``: finer, for corpora of few documents."""

    @model_validator(mode="after")
    def _held_out_below_all(self) -> SplitConfig:
        if self.test_size + self.validation_size >= 1:
            raise ValueError(
                f"test_size ({self.test_size}) + validation_size ({self.validation_size}) must stay below 1: "
                "training needs documents too"
            )
        return self


class DatasetContextConfig(StrictModel):
    """Retrieved passages in the prompts, as serving builds them (RAFT; the context budget is
    ``domain.chat``'s: 3 passages of at most 50 words)."""

    enabled: bool = True
    """Search each instruction among its author's embedded chunks and store the passages in the
    ``context`` column; false: no sample has passages."""
    oracle_share: Annotated[float, Field(ge=0, le=1)] = 0.4
    """Share of samples whose passages include the best chunk of the answer's own document."""
    distractor_share: Annotated[float, Field(ge=0, le=1)] = 0.3
    """Share whose passages come from other documents of the author only; the rest get none."""
    candidates: Annotated[int, Field(ge=1, le=100)] = 12
    """Chunks searched per instruction before the passages are chosen."""
    seed: int = 0
    """Seed of the draw of each sample's context mode."""

    @model_validator(mode="after")
    def _shares(self) -> DatasetContextConfig:
        if self.oracle_share + self.distractor_share > 1:
            raise ValueError(
                f"oracle_share ({self.oracle_share}) + distractor_share ({self.distractor_share}) must be at most 1"
            )
        return self


class DatasetOutputConfig(StrictModel):
    """Where the dataset goes."""

    directory: Path | None = None
    """Root of the versioned dataset folders; default: STATE_DIR/datasets."""
    preview_rows: Annotated[int, Field(ge=0, le=50)] = 3
    """Rows shown in the dataset card."""
    push_to_hub: bool = False
    """Push to the Hugging Face Hub (needs HUGGINGFACE_ACCESS_TOKEN and ``hub_repo_id``)."""
    hub_repo_id: str | None = None
    """``owner/name`` of the Hub dataset repository."""
    hub_private: bool = True
    """Create the Hub repository as private."""

    @model_validator(mode="after")
    def _repo_when_pushing(self) -> DatasetOutputConfig:
        if self.push_to_hub and not self.hub_repo_id:
            raise ValueError("push_to_hub needs output.hub_repo_id (owner/name)")
        return self


class GenerateDatasetsConfig(StrictModel):
    """Config of the ``generate_datasets`` pipeline."""

    dataset_type: DatasetType
    """``instruction`` (columns instruction, output) or ``preference`` (prompt, chosen, rejected)."""
    source: Literal["feature_store", "handbook_json"] = "feature_store"
    """``feature_store``: generate from the cleaned documents; ``handbook_json``: load an existing
    dataset in the LLM Engineer's Handbook JSON format (its own train/test split is kept)."""
    handbook_json: Path | None = None
    """``handbook_json`` source: the JSON file (e.g. instruct_datasets.json)."""
    author_full_names: AuthorNames = Field(default_factory=lambda: ["Maya Lindqvist"])
    """Authors whose cleaned documents are used ("First Last"; case and spacing are ignored)."""
    extracts: ExtractConfig = Field(default_factory=ExtractConfig)
    instruction: InstructionConfig = Field(default_factory=InstructionConfig)
    preference: PreferenceConfig = Field(default_factory=PreferenceConfig)
    llm: LLMCallConfig = Field(default_factory=LLMCallConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    context: DatasetContextConfig = Field(default_factory=DatasetContextConfig)
    output: DatasetOutputConfig = Field(default_factory=DatasetOutputConfig)

    @model_validator(mode="after")
    def _handbook_path(self) -> GenerateDatasetsConfig:
        if self.source == "handbook_json":
            if self.handbook_json is None:
                raise ValueError("source 'handbook_json' needs handbook_json: the path of the JSON file")
            if not self.handbook_json.expanduser().is_file():
                raise ValueError(f"handbook_json: no such file {self.handbook_json}")
            # Absolute, so the step finds it whatever the working directory of the run.
            self.handbook_json = self.handbook_json.expanduser().resolve()
        return self

    @property
    def uses_endpoint(self) -> bool:
        """Whether the run calls the OpenAI-compatible endpoint of the settings."""
        if self.source != "feature_store":
            return False
        if self.instruction.strategy == "llm":
            return True
        return self.dataset_type == DatasetType.PREFERENCE and self.preference.rejected_strategy == "llm"
