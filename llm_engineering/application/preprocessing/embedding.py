"""Embedding chunks in length-sorted batches, timing the model's encode apart from the rest."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from tqdm import tqdm

from llm_engineering.application.preprocessing.chunking import Tokenizer
from llm_engineering.domain.cleaned_documents import Chunk, EmbeddedChunk


class TextEmbedder(Protocol):
    """What the feature pipeline and retrieval need from an embedding model."""

    @property
    def model_id(self) -> str:
        """The model's name or path."""
        ...

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        ...

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's own tokenizer (chunks are sized in its tokens)."""
        ...

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        """Unit-length vectors of ``texts``, one row per text, as float32."""
        ...


@dataclass
class EmbeddingStats:
    """Counts and timings of one embedding pass.

    Attributes:
        texts: texts embedded.
        tokens: their tokens, special tokens included.
        batches: calls of the model's encode.
        encode_seconds: time inside the model's encode.
        seconds: time of the whole pass (sorting, batching, building the embedded chunks included).
    """

    texts: int = 0
    tokens: int = 0
    batches: int = 0
    encode_seconds: float = 0.0
    seconds: float = 0.0


def embed_chunks(
    chunks: Sequence[Chunk], *, embedder: TextEmbedder, batch_size: int, progress: bool = True
) -> tuple[list[EmbeddedChunk], EmbeddingStats]:
    """Embed chunks in batches of similar length (longest first), keeping their order in the result.

    Sorting by token count means a batch pads its texts to nearly their own length, not to the
    longest chunk of the run; longest first surfaces a memory problem in the first batch.

    Args:
        chunks: the chunks to embed.
        embedder: the embedding model.
        batch_size: chunks per encode call.
        progress: show a progress bar.

    Returns:
        The embedded chunks (same order as ``chunks``) and the pass's counts and timings.
    """
    started = time.perf_counter()
    stats = EmbeddingStats(texts=len(chunks), tokens=sum(chunk.token_count for chunk in chunks))
    order = sorted(range(len(chunks)), key=lambda i: chunks[i].token_count, reverse=True)
    vectors: list[np.ndarray | None] = [None] * len(chunks)
    with tqdm(total=len(chunks), desc="embedding", unit="chunk", disable=not progress) as bar:
        for first in range(0, len(order), batch_size):
            batch = order[first : first + batch_size]
            encode_started = time.perf_counter()
            encoded = embedder.encode([chunks[i].content for i in batch], batch_size=len(batch))
            stats.encode_seconds += time.perf_counter() - encode_started
            stats.batches += 1
            for i, vector in zip(batch, encoded, strict=True):
                vectors[i] = vector
            bar.update(len(batch))
    embedded = [
        EmbeddedChunk(**chunk.model_dump(), embedding=vector.tolist())  # type: ignore[union-attr]
        for chunk, vector in zip(chunks, vectors, strict=True)
    ]
    stats.seconds = time.perf_counter() - started
    return embedded, stats


def embed_queries(queries: Sequence[str], *, embedder: TextEmbedder, batch_size: int = 32) -> np.ndarray:
    """Unit-length vectors of search queries, one row per query."""
    if not queries:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return embedder.encode(list(queries), batch_size=batch_size)
