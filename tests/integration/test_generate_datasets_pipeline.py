"""The ``generate_datasets`` ZenML pipeline through ``tools.run``, on an isolated ZenML store and real Qdrant Edge.

The ZenML store is the test session's own (tests/conftest.py points ZENML_CONFIG_PATH at a
temporary folder before ZenML is imported); the settings point at a temporary state folder,
whose Qdrant Edge feature store is filled with the demo author's cleaned documents the way
the feature pipeline stores them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datasets import load_from_disk

from llm_engineering.application.datasets import storage
from llm_engineering.application.datasets.flow import DatasetVersion
from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.application.features.writer import ensure_cleaned_collections
from llm_engineering.application.preprocessing.ids import document_point_id
from llm_engineering.domain.cleaned_documents import CleanedDocument, cleaned_collection
from llm_engineering.domain.vector_store import Point
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore, build_vector_store
from tests.fakes import demo_cleaned_documents
from tests.zenml_helpers import artifact_files, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def store_cleaned(store: QdrantEdgeStore, documents: list[CleanedDocument]) -> None:
    """Write cleaned documents as the feature pipeline does (UUID point id, warehouse id in the payload)."""
    ensure_cleaned_collections(store)
    for document in documents:
        store.upsert(
            cleaned_collection(document.category),
            [
                Point(
                    id=document_point_id(document.id),
                    payload={**document.to_payload(), "document_id": document.id},
                )
            ],
        )


def test_the_real_edge_adapter_serves_extract_pages(isolated_state: Path):
    documents = demo_cleaned_documents()
    with build_vector_store() as store:
        assert isinstance(store, QdrantEdgeStore)
        store_cleaned(store, documents)
        read = list(iter_cleaned_documents(store, author_full_names=["Maya Lindqvist"], page_size=4))
    assert sorted(d.id for d in read) == sorted(d.id for d in documents)
    assert {d.id: d.content for d in read} == {d.id: d.content for d in documents}


def test_the_pipeline_builds_both_datasets_and_refuses_bad_input(isolated_state: Path, shared_corpus: Path):
    from zenml.client import Client

    with build_vector_store() as store:
        store_cleaned(store, demo_cleaned_documents())
    datasets_root = isolated_state / "datasets"

    instruct = run_cli("generate-instruct-datasets")
    assert instruct.exit_code == 0, instruct.output
    assert f"extracts from {len(demo_cleaned_documents())} documents" in instruct.output
    assert "generate_instruction_samples: " in instruct.output and "(offline)" in instruct.output
    assert "build_dataset: " in instruct.output and "rows saved to" in instruct.output
    saved = storage.latest_dataset(datasets_root, "instruction")
    assert saved is not None and str(saved) in instruct.output
    loaded = load_from_disk(str(saved))
    assert loaded["train"].column_names == ["instruction", "output", "document_id", "context"]
    assert list(loaded) == ["train", "validation", "test"] and len(loaded["test"]) > 0
    assert len(loaded["validation"]) > 0  # the dev split
    held_out = set(loaded["test"]["document_id"]) | set(loaded["validation"]["document_id"])
    assert not held_out & set(loaded["train"]["document_id"])
    contents = {d.content for d in demo_cleaned_documents()}
    assert all(
        any(row["output"] in text for text in contents) for row in loaded["train"]
    )  # the author's text

    artifact = Client().get_artifact_version("instruction_dataset")
    version = artifact.load()  # a reference to the saved folder, with its card
    assert isinstance(version, DatasetVersion) and version.path == saved
    assert version.load()["train"]["instruction"] == loaded["train"]["instruction"]
    assert version.fingerprint == storage.fingerprint(loaded) and "| train |" in version.card
    assert [v.type for v in artifact.visualizations] == ["markdown"]  # the card, shown in the dashboard
    assert artifact.run_metadata["rows"] == {name: len(split) for name, split in loaded.items()}
    last_run = Client().get_pipeline("generate_datasets").last_run
    run_metadata = last_run.run_metadata
    assert run_metadata["extracts"] > 0 and run_metadata["samples"]["train"] == len(loaded["train"])
    assert "total" in run_metadata["filtered"] and run_metadata["seconds"] > 0
    # The steps hand on references: no extract reaches the artifact store, which holds a few KiB.
    stored = artifact_files(Client().get_pipeline_run(last_run.id).steps)
    assert set(stored) == {
        "extracts",
        "instruction_samples",
        "filtered_samples",
        "samples_with_context",
        "instruction_dataset",
    }
    long_rows = [row for row in loaded["train"]["output"] if len(row) > 200]
    assert long_rows and not any(
        row.encode() in data for row in long_rows for files in stored.values() for data in files
    )
    assert sum(len(data) for files in stored.values() for data in files) < 16 * 1024

    preference = run_cli("generate-preference-datasets")
    assert preference.exit_code == 0, preference.output
    assert "(offline+rejected:offline)" in preference.output
    pairs = load_from_disk(str(storage.latest_dataset(datasets_root, "preference")))
    assert pairs["train"].column_names == ["prompt", "chosen", "rejected", "document_id", "context"]
    # One held-out document set for both datasets: DPO never trains on a held-out document.
    assert set(pairs["test"]["document_id"]) <= set(loaded["test"]["document_id"])
    assert not set(pairs["train"]["document_id"]) & held_out
    assert all(row["chosen"] != row["rejected"] for row in pairs["train"])
    assert Client().get_artifact_version("preference_dataset").load().rows["test"] == pairs["test"].num_rows

    handbook = run_cli(
        "generate-preference-datasets",
        "--set",
        "source=handbook_json",
        "--set",
        f"handbook_json={shared_corpus / 'preference_datasets.json'}",
    )
    assert handbook.exit_code == 0, handbook.output
    from_handbook = load_from_disk(str(storage.latest_dataset(datasets_root, "preference")))
    assert from_handbook["train"].num_rows + from_handbook["test"].num_rows <= 381 + 21
    assert from_handbook["test"].num_rows > 0

    runs_before = len(Client().list_pipeline_runs(size=50))
    unknown = run_cli("generate-instruct-datasets", "--set", "instruction.strategy=magic")
    assert unknown.exit_code == 2 and "config error, nothing was run" in unknown.output
    assert "instruction.strategy: Input should be 'offline' or 'llm'" in unknown.output

    no_endpoint = run_cli("generate-instruct-datasets", "--set", "instruction.strategy=llm")
    assert no_endpoint.exit_code == 1
    assert "instruction.strategy 'llm' needs an LLM endpoint: set OPENAI_BASE_URL" in no_endpoint.output

    unknown_author = run_cli("generate-instruct-datasets", "--set", "author_full_names=[Nobody Here]")
    assert unknown_author.exit_code == 1 and "(it holds: Maya Lindqvist)" in unknown_author.output
    assert len(Client().list_pipeline_runs(size=50)) == runs_before  # refused before any run started


def test_an_empty_feature_store_ends_the_first_run_with_a_one_line_reason(isolated_state: Path):
    # The real command line, in a process of its own: what a user sees on a fresh machine.
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", "generate-instruct-datasets"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    reason = (
        "no cleaned articles/posts/repositories documents of Maya Lindqvist in the feature store: "
        "run the feature pipeline first: poe run-feature-engineering-pipeline"
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("generate-instruct-datasets: run failed after ") and last.endswith(reason), (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def _handbook_json(path: Path, *, topic_of_first: str) -> None:
    """A small instruction dataset in the handbook format; the first sample's answer is about ``topic_of_first``."""
    topics = [
        topic_of_first,
        "sourdough starters",
        "tidal power",
        "chess openings",
        "bee colonies",
        "glass blowing",
    ]

    def sample(i: int, topic: str) -> dict[str, str]:
        return {
            "id": f"s{i}",
            "instruction": f"Explain what you know about {topic}.",
            "answer": f"Here is what I learned about {topic}: {topic} rewards patience, and every attempt at "
            f"{topic} taught me something new about {topic} that no manual about {topic} mentioned ({i}).",
        }

    data = {
        "train": {
            "articles": {"category": "articles", "samples": [sample(i, t) for i, t in enumerate(topics[:5])]}
        },
        "test": {"articles": {"category": "articles", "samples": [sample(5, topics[5])]}},
    }
    path.write_text(json.dumps(data), encoding="utf-8")


def _saved_folder(output: str) -> Path:
    match = re.search(r"rows saved to (\S+)", output)
    assert match, output
    return Path(match.group(1))


def test_a_cached_rerun_reads_an_edited_handbook_file_and_reports_the_folder_it_wrote(
    isolated_state: Path, tmp_path
):
    source = tmp_path / "instruct.json"
    _handbook_json(source, topic_of_first="river kayaking")
    args = ["generate-instruct-datasets", "--set", "source=handbook_json", "--set", f"handbook_json={source}"]

    first = run_cli(*args)  # the default: caching on, as `poe demo` runs it
    assert first.exit_code == 0, first.output
    first_folder = _saved_folder(first.output)

    _handbook_json(source, topic_of_first="mountain cartography")
    before = time.time()
    second = run_cli(*args)
    assert second.exit_code == 0, second.output
    second_folder = _saved_folder(second.output)
    assert second_folder != first_folder and second_folder.is_dir()
    assert second_folder.stat().st_mtime >= before - 1  # written by this run
    rows = load_from_disk(str(second_folder))["train"]["output"]
    assert any("mountain cartography" in row for row in rows) and not any(
        "river kayaking" in row for row in rows
    )

    _handbook_json(source, topic_of_first="river kayaking")  # back to the first file
    third = run_cli(*args)
    assert third.exit_code == 0, third.output
    assert "load_handbook_samples: " in third.output and "(cached" not in third.output  # read again
    third_folder = _saved_folder(third.output)
    assert third_folder == first_folder  # the same rows: that version again, not a copy
    assert storage.latest_dataset(isolated_state / "datasets", "instruction") == first_folder
    assert sorted(
        p.name for p in (isolated_state / "datasets" / "instruction").iterdir() if p.is_dir()
    ) == sorted([first_folder.name, second_folder.name])
