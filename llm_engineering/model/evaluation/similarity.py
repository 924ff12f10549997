"""Embedding similarity: how close in meaning each answer is to the author's reference answer.

Both texts are embedded with the project's sentence-transformers model (the packaged
all-MiniLM-L6-v2 by default, via :mod:`llm_engineering.infrastructure.embeddings`), and the
score is the mean cosine similarity of each answer with its own reference, in [-1, 1]
(in practice 0 to 1). Higher means the answers say what the author said, in whatever
words; it complements ROUGE-L, which needs the same words. MiniLM reads at most 256 tokens
of each text, so long answers are judged by their beginning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llm_engineering.application.preprocessing.embedding import TextEmbedder


def embedding_similarities(
    answers: Sequence[str], references: Sequence[str], *, embedder: TextEmbedder, batch_size: int = 32
) -> list[float]:
    """Cosine similarity of each answer with its reference (unit vectors, so a dot product).

    Raises:
        ValueError: the two lists differ in length.
    """
    if len(answers) != len(references):
        raise ValueError(f"need as many answers as references ({len(answers)} vs {len(references)})")
    if not answers:
        return []
    vectors = embedder.encode([*answers, *references], batch_size=batch_size)
    left, right = vectors[: len(answers)], vectors[len(answers) :]
    return [float(x) for x in np.sum(left * right, axis=1)]


def mean_embedding_similarity(
    answers: Sequence[str], references: Sequence[str], *, embedder: TextEmbedder, batch_size: int = 32
) -> float:
    """Mean of :func:`embedding_similarities`.

    Raises:
        ValueError: the lists differ in length or are empty.
    """
    scores = embedding_similarities(answers, references, embedder=embedder, batch_size=batch_size)
    if not scores:
        raise ValueError("no answers to compare")
    return sum(scores) / len(scores)
