"""Config of the ``feature_engineering`` pipeline (configs/feature_engineering.yaml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from llm_engineering.configs import AuthorNames, StrictModel
from llm_engineering.domain.types import DataCategory


class ChunkingRules(StrictModel):
    """How the documents of one category are cut into chunks.

    Both sizes are counted in the embedding model's own tokens. ``chunk_size`` includes the
    special tokens the model adds (``[CLS]``/``[SEP]`` for MiniLM); a size above the model's
    maximum sequence length is lowered to it at run time, so no chunk is ever truncated.
    """

    chunk_size: Annotated[int, Field(ge=16, le=8192)] = 256
    """Most tokens in a chunk, special tokens included (256 is MiniLM's maximum)."""
    chunk_overlap: Annotated[int, Field(ge=0)] = 32
    """Tokens of the end of a chunk repeated at the start of the next (whole sentences when they fit)."""

    @model_validator(mode="after")
    def _overlap_below_half(self) -> ChunkingRules:
        if self.chunk_overlap * 2 > self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be at most half of chunk_size ({self.chunk_size})"
            )
        return self


class ChunkingConfig(StrictModel):
    """Chunk size and overlap per data category."""

    articles: ChunkingRules = Field(default_factory=lambda: ChunkingRules(chunk_size=256, chunk_overlap=32))
    """Articles: long prose with headings and code blocks."""
    posts: ChunkingRules = Field(default_factory=lambda: ChunkingRules(chunk_size=128, chunk_overlap=16))
    """Posts: short social posts; most fit in one chunk."""
    repositories: ChunkingRules = Field(
        default_factory=lambda: ChunkingRules(chunk_size=256, chunk_overlap=32)
    )
    """Repositories: source files, cut at blank lines and then at lines."""

    def for_category(self, category: DataCategory | str) -> ChunkingRules:
        """The rules of ``category``."""
        return getattr(self, DataCategory(category).value)


class CleaningConfig(StrictModel):
    """How documents are cleaned."""

    failure_threshold: Annotated[float, Field(ge=0, le=1)] = 0.1
    """The step fails, before anything is written, when more than this share of documents fail to clean."""


class EmbeddingConfig(StrictModel):
    """How chunks are embedded (the model itself comes from the settings: TEXT_EMBEDDING_MODEL_ID)."""

    batch_size: Annotated[int, Field(ge=1, le=1024)] = 32
    """Chunks per call of the model's encode; chunks are sorted by length first, so a batch pads little."""


class LoadingConfig(StrictModel):
    """How features are written to the vector store."""

    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 256
    """Points per upsert request."""


class FeatureEngineeringConfig(StrictModel):
    """Config of the ``feature_engineering`` pipeline (configs/feature_engineering.yaml)."""

    author_full_names: AuthorNames = Field(default_factory=lambda: ["Maya Lindqvist"])
    """Authors whose warehouse documents are turned into features ("First Last"; case and spacing are ignored)."""
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    loading: LoadingConfig = Field(default_factory=LoadingConfig)
    mass_removal_threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    """The run stops, before anything is written, when more than this share of an author's stored
    documents is missing from the warehouse (the wrong database, a half-finished crawl)."""
    allow_mass_removal: bool = False
    """Remove the features of those missing documents anyway (they were deleted on purpose)."""
