"""Reranking of the fused candidates.

- **Cross-encoder**, when a model id is configured (``RERANK_MODEL_ID``, e.g.
  ``cross-encoder/ms-marco-MiniLM-L-6-v2`` or a local folder): each (question, chunk) pair
  is scored by the model and the candidates are sorted by that score.
- **Offline** (no cross-encoder packaged): the fused order from reciprocal rank fusion of
  the dense and BM25 rankings is kept; no further offline rerank is applied, because none we
  measured beat it on the handbook benchmark (see ``docs/DESIGN_NOTES.md``, "Serving").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def scores(self, query: str, passages: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder, loaded on first use.

    Args:
        model_id: a hub id or a model folder.
        device: ``cpu``, ``cuda``, ...
    """

    def __init__(self, model_id: str, *, device: str = "cpu") -> None:
        self.model_id = model_id
        self.device = device
        self._model: Any = None

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        if self._model is None:
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(self.model_id, device=self.device)
        return [
            float(s) for s in self._model.predict([(query, p) for p in passages], show_progress_bar=False)
        ]
