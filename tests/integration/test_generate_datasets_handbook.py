"""The offline dataset flow on the real handbook corpus (../shared/corpora/llm-engineers-handbook).

The 76 articles are cleaned with the feature pipeline's rules, stored in the real Qdrant Edge
adapter, read back in pages, and turned into both datasets; the sample counts per split are
printed (``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import load_from_disk

from llm_engineering.application.datasets import feature_source, flow
from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.application.datasets.splits import split_samples
from llm_engineering.application.features.writer import ensure_cleaned_collections
from llm_engineering.application.preprocessing.cleaning import clean_document
from llm_engineering.application.preprocessing.ids import document_point_id
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.domain.cleaned_documents import cleaned_collection
from llm_engineering.domain.dataset import DatasetType, PreferenceSample
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.domain.vector_store import Point
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
from llm_engineering.infrastructure.warehouse_json import read_documents

pytestmark = pytest.mark.integration


def test_offline_datasets_of_the_handbook_corpus(shared_corpus: Path, tmp_path: Path):
    articles = read_documents(shared_corpus)[ArticleDocument]
    cleaned = [c for c in map(clean_document, articles) if c is not None]
    authors = sorted({c.author_full_name for c in cleaned})
    config = GenerateDatasetsConfig(
        dataset_type="preference", author_full_names=authors, extracts={"page_size": 16}
    )

    with QdrantEdgeStore(tmp_path / "qdrant") as store:
        ensure_cleaned_collections(store)
        store.upsert(
            cleaned_collection("articles"),
            [
                Point(id=document_point_id(c.id), payload={**c.to_payload(), "document_id": c.id})
                for c in cleaned
            ],
        )
        assert (
            feature_source.check_feature_store(
                store, author_full_names=[name.upper() for name in authors], categories=["articles"]
            )
            == authors
        )  # matched case-blind, read with the stored spelling
        extracts = feature_source.load_extracts(
            store, author_full_names=authors, extracts=config.extracts, quality=config.quality, progress=False
        )

    assert sum(extracts.documents.values()) == len(cleaned) == 76
    assert len(extracts.extracts) > 300
    instruction = sample_generation.generate_instruction_samples(
        extracts, instruction=config.instruction, llm=config.llm, progress=False
    )
    preference = sample_generation.generate_preference_samples(
        instruction, preference=config.preference, llm=config.llm
    )
    document_text = {c.id: c.content for c in cleaned}

    for report, dataset_type in (
        (instruction, DatasetType.INSTRUCTION),
        (preference, DatasetType.PREFERENCE),
    ):
        filtered = flow.filter_generated(report, quality=config.quality)
        built = flow.build_dataset(
            filtered, split=config.split, output=config.output, root=tmp_path / "datasets", title="handbook"
        )
        train, test = built.counts["train"]["total"], built.counts["test"]["total"]
        print(
            f"\nhandbook corpus, {dataset_type}: {len(extracts.extracts)} extracts -> {filtered.generated} samples, "
            f"{filtered.filtered['total']} filtered -> train {train}, test {test} ({built.counts})"
        )
        assert train > 5 * test > 0
        loaded = load_from_disk(str(built.path))
        assert loaded["train"].num_rows == train and loaded["test"].num_rows == test

    # The split is leak-free by document: no article gives samples to both sides.
    split = split_samples(preference.samples, test_size=0.1, seed=42)
    assert not {s.document_id for s in split.train} & {s.document_id for s in split.test}
    for sample in preference.samples[:200]:
        assert isinstance(sample, PreferenceSample)
        assert all(block in document_text[sample.document_id] for block in sample.chosen.split("\n\n"))
