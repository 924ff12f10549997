"""plan_evaluation: which versions, which dataset, which author; bad input refused before any model loads;
test documents held out from everything an evaluated version trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.datasets.storage import save_dataset, to_dataset_dict
from llm_engineering.configs import load_config
from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.domain.dataset import DatasetType, InstructionSample, PreferenceSample
from llm_engineering.model.evaluation.plan import EvaluationInputError, plan_evaluation
from llm_engineering.model.registry import ModelRegistry, ModelVersion, UnknownModelVersion


def sample(i: int) -> InstructionSample:
    return InstructionSample(
        instruction=f"question {i}?",
        answer=f"answer {i} " * 20,
        category="articles",
        extract_id=f"e{i}",
        document_id=f"d{i}",
        source="offline",
    )


def save(root: Path, *, test: int) -> Path:
    dataset = to_dataset_dict(
        train=[sample(i) for i in range(6)],
        test=[sample(i) for i in range(6, 6 + test)],
        dataset_type="instruction",
    )
    return save_dataset(dataset, root=root, dataset_type=DatasetType.INSTRUCTION, card="", manifest={})


def register(registry: ModelRegistry, tmp_path: Path, name: str, stage: str, created: str, **extra) -> None:
    folder = tmp_path / "folders" / name
    folder.mkdir(parents=True, exist_ok=True)
    registry.register(
        ModelVersion(name=name, stage=stage, folder=folder, base_model="tiny", created_at=created, **extra)
    )


def plan(tmp_path: Path, *overrides: str, judge_configured: bool = False):
    config = load_config(EvaluatingConfig, None, list(overrides))
    return plan_evaluation(
        config,
        registry=ModelRegistry(tmp_path / "models"),
        datasets_root=tmp_path / "datasets",
        judge_configured=judge_configured,
    )


def test_defaults_compare_base_newest_sft_newest_dpo_and_production_on_their_training_dataset(tmp_path: Path):
    trained_on = save(tmp_path / "datasets", test=3)
    newest = save(tmp_path / "datasets", test=5)  # saved later: the LATEST pointer
    registry = ModelRegistry(tmp_path / "models")
    register(registry, tmp_path, "base", "base", "2026-01-01T00:00:00")
    for run, created in (("r1", "2026-01-02T00:00:00"), ("r2", "2026-01-03T00:00:00")):
        for stage in ("sft", "dpo"):
            register(
                registry, tmp_path, f"{run}-{stage}", stage, created, author="Ada Byron",
                datasets={"instruction": trained_on.name},
            )  # fmt: skip
    registry.promote("r1-sft", reason="earlier run")
    found = plan(tmp_path, "samples=2")
    assert [v.name for v in found.versions] == ["base", "r2-sft", "r2-dpo", "r1-sft"]
    assert found.production == "r1-sft"
    assert found.dataset == trained_on != newest
    assert [s.instruction for s in found.samples] == [r["instruction"] for r in _test_rows(trained_on)][:2]
    assert len(found.author_texts) == 6 and found.author == "Ada Byron"
    assert found.judge is False
    assert [s.document_id for s in found.samples] == [r["document_id"] for r in _test_rows(trained_on)][:2]
    assert any("shares no document with the test samples" in line for line in found.checks)
    assert plan(tmp_path, judge_configured=True).judge is True
    assert plan(tmp_path, "judge.mode=off", judge_configured=True).judge is False


def _test_rows(folder: Path):
    from datasets import load_from_disk

    return load_from_disk(str(folder))["test"]


def test_bad_input_has_clear_messages(tmp_path: Path):
    with pytest.raises(EvaluationInputError, match="no model version yet.*poe run-training-pipeline"):
        plan(tmp_path)
    registry = ModelRegistry(tmp_path / "models")
    register(registry, tmp_path, "base", "base", "2026-01-01T00:00:00")
    with pytest.raises(UnknownModelVersion, match="no model version 'r1-dpo' \\(known: base\\)"):
        plan(tmp_path, "versions=[r1-dpo]")
    with pytest.raises(EvaluationInputError, match="no instruction dataset"):
        plan(tmp_path)
    save(tmp_path / "datasets", test=0)
    with pytest.raises(EvaluationInputError, match="test split of .* is empty"):
        plan(tmp_path)
    save(tmp_path / "datasets", test=2)
    with pytest.raises(EvaluationInputError, match="no author known"):
        plan(tmp_path)
    assert plan(tmp_path, "author=Ada Byron").author == "Ada Byron"
    with pytest.raises(EvaluationInputError, match="judge.mode is 'on' but no endpoint"):
        plan(tmp_path, "author=Ada Byron", "judge.mode=on")
    (tmp_path / "folders" / "base").rmdir()
    with pytest.raises(EvaluationInputError, match="model folder missing for version\\(s\\) base"):
        plan(tmp_path, "author=Ada Byron")


def save_preference(root: Path, *, train_documents: list[int]) -> Path:
    rows = [
        PreferenceSample(
            instruction=f"question {i}?",
            chosen=f"answer {i} " * 20,
            rejected="meh",
            category="articles",
            extract_id=f"p{i}",
            document_id=f"d{i}",
            source="offline",
        )
        for i in train_documents
    ]
    dataset = to_dataset_dict(train=rows, test=[], dataset_type="preference")
    return save_dataset(dataset, root=root, dataset_type=DatasetType.PREFERENCE, card="", manifest={})


def test_a_version_that_trained_on_a_test_document_stops_the_run_naming_it(tmp_path: Path):
    instruction = save(tmp_path / "datasets", test=3)  # test documents d6, d7, d8
    clean = save_preference(tmp_path / "datasets", train_documents=[0, 1, 2])
    leaky = save_preference(tmp_path / "datasets", train_documents=[1, 7])
    registry = ModelRegistry(tmp_path / "models")
    register(registry, tmp_path, "base", "base", "2026-01-01T00:00:00")
    register(
        registry, tmp_path, "r1-dpo", "dpo", "2026-01-02T00:00:00", author="Ada Byron",
        datasets={"instruction": instruction.name, "preference": clean.name},
    )  # fmt: skip
    assert len(plan(tmp_path, "samples=3").checks) == 2  # both of r1-dpo's datasets checked
    register(
        registry, tmp_path, "r2-dpo", "dpo", "2026-01-03T00:00:00", author="Ada Byron",
        datasets={"instruction": instruction.name, "preference": str(leaky)},  # self-play: a path
    )  # fmt: skip
    with pytest.raises(EvaluationInputError) as error:
        plan(tmp_path, "samples=3")
    message = str(error.value)
    assert "version r2-dpo trained on preference dataset" in message and leaky.name in message
    assert (
        f"{instruction}: d7. " in message
    )  # only the overlapping document is named (d1 is no test document)
