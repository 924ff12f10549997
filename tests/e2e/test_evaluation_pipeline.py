"""The ``evaluating`` pipeline through ``tools.run`` on tiny models, a tiny dataset and a real Qdrant Edge store.

The ZenML store is the test session's own (tests/conftest.py); the settings point at a
temporary state folder holding: the feature store (Ada's and Bo's documents, embedded with
MiniLM), an instruction dataset cut from Ada's documents, and a model registry with an
untrained tiny ``base`` and the same model trained on Ada's answers (``r1-sft``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.datasets.storage import save_dataset, to_dataset_dict
from llm_engineering.domain.dataset import DatasetType, InstructionSample
from llm_engineering.infrastructure.embeddings import default_model_path, load_embedder
from llm_engineering.infrastructure.vector_stores import build_vector_store
from llm_engineering.model.registry import ModelRegistry, ModelVersion
from steps import ZENML_MODEL
from tests.evaluation_fixtures import (
    ADA,
    BO,
    author_texts,
    cleaned_document,
    fill_feature_store,
    instructions,
    tiny_twins,
)
from tests.zenml_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def run(*args: str):
    return run_cli("evaluating", *args)


def save_instruction_dataset(state: Path, *, test_documents: int) -> list:
    """Ada's documents (4 paragraphs each) in the feature store's shape, and a dataset of one sample per paragraph."""
    documents = [
        cleaned_document(f"ada-{i}", "\n\n".join(author_texts("ada", 4, seed=100 + i)), author=ADA)
        for i in range(8)
    ]
    questions = iter(instructions(32, seed=5))
    samples = [
        InstructionSample(
            instruction=next(questions),
            answer=paragraph,
            category="articles",
            extract_id=f"{document.id}-{n}",
            document_id=document.id,
            source="offline",
        )
        for document in documents
        for n, paragraph in enumerate(document.content.split("\n\n"))
    ]
    cut = (8 - test_documents) * 4
    dataset = to_dataset_dict(train=samples[:cut], test=samples[cut:], dataset_type=DatasetType.INSTRUCTION)
    save_dataset(
        dataset, root=state / "datasets", dataset_type=DatasetType.INSTRUCTION, card="# test\n", manifest={}
    )
    return documents


def register_models(state: Path) -> ModelRegistry:
    registry = ModelRegistry(state / "models")
    models = tiny_twins()
    registry.register(ModelVersion(name="base", stage="base", folder=models["base"], base_model="tiny"))
    registry.register(
        ModelVersion(name="r1-sft", stage="sft", folder=models["twin"], base_model="tiny", author=ADA)
    )
    return registry


def test_bad_input_is_refused_before_any_generation(isolated_state: Path):
    result = run("--set", "metrics=[perplexity]")
    assert result.exit_code == 2 and "unknown metric 'perplexity'" in result.output

    result = run()
    assert result.exit_code == 1
    assert "no model version yet" in result.output and "poe run-training-pipeline" in result.output

    register_models(isolated_state)
    result = run()
    assert result.exit_code == 1 and "no instruction dataset" in result.output

    save_instruction_dataset(isolated_state, test_documents=0)
    result = run()
    assert result.exit_code == 1 and "test split" in result.output and "is empty" in result.output

    result = run("--set", "versions=[r9-dpo]")
    assert result.exit_code == 1 and "no model version 'r9-dpo'" in result.output
    assert not (isolated_state / "evaluation").exists()  # nothing was answered or written


def test_the_pipeline_scores_both_versions_and_promotes_the_twin(isolated_state: Path):
    from zenml.client import Client

    documents = save_instruction_dataset(isolated_state, test_documents=2)
    others = [
        cleaned_document(f"bo-{i}", "\n\n".join(author_texts("bo", 3, seed=200 + i)), author=BO)
        for i in range(3)
    ]
    with build_vector_store() as store:
        fill_feature_store(store, documents + others, embedder=load_embedder(default_model_path()))
    registry = register_models(isolated_state)

    result = run(
        "--set", "samples=6",
        "--set", "generation.max_new_tokens=24",
        "--set", "attribution.words=20",
        # The tiny twin's 24-token answers are scored on perplexity here; promotion on generated
        # answers and its guards are tested in tests/unit/test_promotion.py.
        "--set", "promotion.primary_metric=author_perplexity",
        "--set", "promotion.guards=[]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "generate_answers: 2 versions answered 6 test instructions in 2 arm(s)" in result.output
    assert "promoted r1-sft" in result.output

    assert registry.production().name == "r1-sft"
    version = Client().get_model_version(ZENML_MODEL, "r1-sft")
    assert str(getattr(version.stage, "value", version.stage)) == "production"
    scores = {
        name: Client().get_model_version(ZENML_MODEL, name).run_metadata["evaluation"]
        for name in ("base", "r1-sft")
    }
    assert scores["r1-sft"]["author_perplexity"] < scores["base"]["author_perplexity"] / 3

    [folder] = list((isolated_state / "evaluation").iterdir())
    saved = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert [(v["name"], v["arm"]) for v in saved["versions"]] == [
        ("base", "served"), ("base", "bare"), ("r1-sft", "served"), ("r1-sft", "bare"),
    ]  # fmt: skip
    assert len(saved["samples"]) == 6 and all(len(a) == 6 for a in saved["answers"].values())
    assert all(v["intervals"]["loop_rate"] is not None for v in saved["versions"])
    # The served arm retrieved Ada's passages, never from the sample's own document.
    test_documents = [s["document_id"] for s in saved["samples"]]
    assert all(test_documents)
    contexts = saved["details"]["served_context"]
    assert contexts["passages_per_prompt"] > 0 and contexts["left_out_own_document_chunks"] > 0
    assert set(saved["run_scores"]) == {"retrieval_hit_at_k", "retrieval_mrr"}
    assert saved["details"]["retrieval"]["unresolved"] == 0  # every reference traced to its document
    assert saved["details"]["attribution"]["training_texts"]["other_authors"] > 0  # Bo's writing: negatives
    assert saved["promotion"]["promote"] and saved["promotion"]["winner"] == "r1-sft"
    assert "<svg" in (folder / "report.html").read_text(encoding="utf-8")
    answered = Client().get_artifact_version("evaluation_answers").load()
    assert all(
        sample.document_id not in documents and documents
        for sample, documents in zip(answered.samples, answered.context_documents, strict=True)
    )  # every served prompt had passages, none from the sample's own document
    report = Client().get_artifact_version("evaluation_report")
    assert "r1-sft" in str(report.load())
