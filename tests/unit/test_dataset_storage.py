"""Saved datasets: columns, versioned folders, the card, and handbook JSON as an input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from datasets import load_from_disk

from llm_engineering.application.datasets import flow, storage
from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.domain.dataset import DatasetType, InstructionSample, PreferenceSample
from tests.fakes import instruction_samples


def preference_samples(n: int = 12) -> list[PreferenceSample]:
    return [
        PreferenceSample(
            instruction=s.instruction,
            chosen=s.answer,
            rejected="A generic answer that says nothing at all.",
            category=s.category,
            extract_id=s.extract_id,
            document_id=s.document_id,
            source="test",
        )  # fmt: skip
        for s in instruction_samples(n)
    ]


@pytest.mark.parametrize(
    ("dataset_type", "samples", "columns"),
    [
        (DatasetType.INSTRUCTION, instruction_samples, ["instruction", "output"]),
        (DatasetType.PREFERENCE, preference_samples, ["prompt", "chosen", "rejected"]),
    ],
)
def test_built_datasets_load_from_disk_with_the_stated_columns(
    tmp_path: Path, dataset_type, samples, columns
):
    config = GenerateDatasetsConfig(
        dataset_type=dataset_type, split={"test_size": 0.2, "validation_size": 0.2}
    )
    report = sample_generation.GenerationReport(
        dataset_type=dataset_type, strategy="test", samples=samples(), inputs=12, extracts=12
    )
    filtered = flow.filter_generated(report, quality=config.quality)
    built = flow.build_dataset(
        filtered, split=config.split, output=config.output, root=tmp_path, title="Dataset of Maya Lindqvist"
    )

    assert built.path.parent == tmp_path / str(dataset_type)
    assert storage.latest_dataset(tmp_path, dataset_type) == built.path
    loaded = load_from_disk(str(built.path))
    assert list(loaded) == ["train", "validation", "test"]
    for split in loaded.values():
        assert split.column_names == [*columns, "document_id", "context"]
    assert len(loaded["train"]) == built.counts["train"]["total"] and len(loaded["test"]) > 0
    assert len(loaded["validation"]) > 0
    assert sum(len(split) for split in loaded.values()) == 12
    held_out = set(loaded["test"]["document_id"]) | set(loaded["validation"]["document_id"])
    assert not set(loaded["train"]["document_id"]) & held_out
    assert loaded["train"].info.description == built.card  # the card travels with the data
    assert "| train |" in built.card and f"`{columns[0]}`" in built.card
    readme = (built.path / storage.CARD).read_text(encoding="utf-8")
    assert readme == built.card
    manifest = json.loads((built.path / storage.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["samples"] == {name: len(split) for name, split in loaded.items()}
    assert manifest["fingerprint"] == storage.fingerprint(loaded)


def test_each_new_content_is_a_new_version_and_the_same_rows_are_saved_once(tmp_path: Path):
    dataset = storage.to_dataset_dict(
        train=instruction_samples(4), test=[], dataset_type=DatasetType.INSTRUCTION
    )
    other = storage.to_dataset_dict(
        train=instruction_samples(5), test=[], dataset_type=DatasetType.INSTRUCTION
    )
    kwargs = {"root": tmp_path, "dataset_type": DatasetType.INSTRUCTION, "card": "# card", "manifest": {}}
    first = storage.save_dataset(dataset, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), **kwargs)
    assert first.name == f"20260102T030405Z-{storage.fingerprint(dataset)[:10]}"
    assert len(load_from_disk(str(first))["test"]) == 0
    assert load_from_disk(str(first))["test"].column_names == [
        "instruction",
        "output",
        "document_id",
        "context",
    ]

    second = storage.save_dataset(other, now=datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), **kwargs)
    assert second != first and storage.latest_dataset(tmp_path, "instruction") == second

    again = storage.save_dataset(dataset, now=datetime(2026, 1, 2, 3, 4, 7, tzinfo=UTC), **kwargs)
    assert again == first  # the same rows: that version again, not a third copy
    assert storage.latest_dataset(tmp_path, "instruction") == first
    assert sorted(p.name for p in (tmp_path / "instruction").iterdir() if p.is_dir()) == sorted(
        [first.name, second.name]
    )

    (first / storage.MANIFEST).unlink()  # a save cut short before its manifest is not a version
    rewritten = storage.save_dataset(dataset, now=datetime(2026, 1, 2, 3, 4, 8, tzinfo=UTC), **kwargs)
    assert rewritten not in (first, second) and (rewritten / storage.MANIFEST).exists()


def test_handbook_datasets_load_with_their_own_split(shared_corpus: Path):
    kind, samples = storage.load_handbook_json(shared_corpus / "instruct_datasets.json")
    assert kind == DatasetType.INSTRUCTION
    assert sum(s.split == "train" for s in samples) == 2250 and sum(s.split == "test" for s in samples) == 250
    assert all(isinstance(s, InstructionSample) and s.answer and s.category == "articles" for s in samples)

    kind, samples = storage.load_handbook_json(
        shared_corpus / "preference_datasets.json", dataset_type="preference"
    )
    assert kind == DatasetType.PREFERENCE and len(samples) == 381 + 21
    assert all(isinstance(s, PreferenceSample) and s.chosen and s.rejected for s in samples)

    with pytest.raises(
        storage.HandbookFormatError, match="holds a preference dataset, not a instruction one"
    ):
        storage.load_handbook_json(shared_corpus / "preference_datasets.json", dataset_type="instruction")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", 'expected an object with "train" and "test" sections'),
        ('{"train": {"articles": {"category": "articles", "samples": []}}}', "holds no samples"),
        (
            '{"train": {"poems": {"samples": [{"instruction": "a", "answer": "b"}]}}}',
            "unknown category 'poems'",
        ),
        (
            '{"train": {"articles": {"samples": [{"instruction": "a", "answer": "b"}, {"instruction": "c"}]}}}',
            "train.articles.samples[1]: answer: Field required",
        ),
    ],
)
def test_malformed_handbook_files_say_where(tmp_path: Path, content: str, message: str):
    path = tmp_path / "data.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(storage.HandbookFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        storage.load_handbook_json(path)
