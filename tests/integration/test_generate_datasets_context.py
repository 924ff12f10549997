"""Passages in training prompts come from the serving retriever over the author's embedded chunks
(the demo author's documents, chunked and embedded with the packaged MiniLM into Qdrant Edge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.application.datasets.context import add_context, store_retriever
from llm_engineering.application.datasets.extracts import build_extracts
from llm_engineering.application.datasets.flow import filter_generated
from llm_engineering.application.datasets.splits import assign_splits
from llm_engineering.application.features.flow import chunk_and_embed
from llm_engineering.application.features.writer import ensure_cleaned_collections, store_embedded
from llm_engineering.configs.datasets import DatasetContextConfig, GenerateDatasetsConfig, SplitConfig
from llm_engineering.configs.features import ChunkingConfig
from llm_engineering.domain.chat import CONTEXT_PASSAGES
from llm_engineering.infrastructure.embeddings import default_model_path, load_embedder
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
from tests.fakes import demo_cleaned_documents

pytestmark = pytest.mark.integration


def _words(text: str) -> set[str]:
    return {w.strip(".,;:!?()\"'`*").lower() for w in text.split()} - {""}


def test_training_prompts_carry_the_served_retrievers_passages(tmp_path: Path) -> None:
    documents = demo_cleaned_documents()
    embedder = load_embedder(default_model_path())
    embedded, _, _ = chunk_and_embed(
        documents, embedder=embedder, chunking=ChunkingConfig(), batch_size=32, progress=False
    )
    config = GenerateDatasetsConfig(dataset_type="instruction")
    extracts = build_extracts(documents, max_length=1500, min_length=200, progress=False)
    report = sample_generation.generate_instruction_samples(
        extracts, instruction=config.instruction, llm=config.llm, progress=False
    )
    filtered = filter_generated(report, quality=config.quality)
    split = SplitConfig(test_size=0.15, validation_size=0.15)
    with QdrantEdgeStore(tmp_path / "qdrant") as store:
        ensure_cleaned_collections(store)
        store_embedded(store, embedded, dimension=embedder.dimension, batch_size=64)
        with_context, modes = add_context(
            filtered,
            extracts=extracts.extracts,
            retrieve=store_retriever(store, embedder, candidates=12),
            split=split,
            settings=DatasetContextConfig(),
        )
    samples = with_context.samples
    assert len(samples) == len(filtered.samples)
    assert set(modes.modes) == {"oracle", "distractors", "none"}
    assert modes.oracle_missing <= modes.modes["oracle"] // 4  # the search finds the answer's own document
    sides = assign_splits(
        [s.document_id for s in samples], test_size=0.15, validation_size=0.15, seed=split.seed
    )
    texts = {d.id: _words(d.content) for d in documents}
    for sample in samples:
        assert len(sample.context) <= CONTEXT_PASSAGES
        for passage in sample.context:
            words = _words(passage.removesuffix(" …"))
            # Each passage is the author's own text, from a document allowed in this prompt.
            sources = [d for d, vocabulary in texts.items() if words <= vocabulary]
            assert sources, passage
            if sides[sample.document_id] == "train":
                assert any(sides[d] == "train" for d in sources)  # never held-out text in training
            else:
                assert sources != [sample.document_id]  # held out: its own document is left out
