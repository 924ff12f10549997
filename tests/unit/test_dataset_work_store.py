"""The dataset pipeline's content-addressed work store (what its steps pass instead of the corpus)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llm_engineering.application.datasets.flow import FilteredSamples
from llm_engineering.application.datasets.samples import GenerationReport
from llm_engineering.application.datasets.work import MissingWorkError, WorkStore, work_store
from llm_engineering.domain.dataset import DatasetType
from tests.fakes import instruction_samples


def report(n: int, *, seconds: float = 1.0) -> GenerationReport:
    return GenerationReport(
        dataset_type=DatasetType.INSTRUCTION,
        strategy="offline",
        samples=instruction_samples(n),
        inputs=n,
        extracts=n,
        seconds=seconds,
        upstream_seconds=seconds / 2,
    )


def test_a_report_goes_in_and_comes_back_whole(tmp_path: Path):
    store = work_store(tmp_path)
    original = report(5)
    ref = store.put(original, kind="samples", items=5, summary=original.summary())
    assert ref.items == 5 and ref.summary == original.summary() and len(ref.digest) == 64
    assert (tmp_path / "datasets" / "work" / "samples" / f"{ref.digest}.json").is_file()
    assert store.get(ref, GenerationReport) == original
    # The reference is all the artifact store keeps: it holds no sample text.
    assert original.samples[0].answer not in ref.model_dump_json()


def test_the_same_content_is_one_file_whatever_its_timings(tmp_path: Path):
    store = WorkStore(tmp_path)
    first = store.put(report(4, seconds=1.0), kind="samples", items=4, summary="")
    again = store.put(report(4, seconds=9.0), kind="samples", items=4, summary="")
    other = store.put(report(5), kind="samples", items=5, summary="")
    assert first.digest == again.digest != other.digest
    assert len(list((tmp_path / "samples").glob("*.json"))) == 2
    assert store.get(again, GenerationReport).seconds == 9.0  # the newest write: this run's timings


def test_only_the_newest_reports_of_each_kind_are_kept(tmp_path: Path):
    store = WorkStore(tmp_path, keep=3)
    refs = []
    for n in range(1, 6):
        refs.append(store.put(report(n), kind="samples", items=n, summary=""))
        path = tmp_path / "samples" / f"{refs[-1].digest}.json"
        os.utime(path, (1_000_000 + n, 1_000_000 + n))  # distinct, increasing times
    filtered = FilteredSamples(
        dataset_type=DatasetType.INSTRUCTION,
        strategy="offline",
        samples=[],
        generated=0,
        extracts=0,
        filtered={},
    )
    store.put(filtered, kind="filtered", items=0, summary="")  # another kind is pruned on its own
    kept = {p.stem for p in (tmp_path / "samples").glob("*.json")}
    assert kept == {r.digest for r in refs[-3:]}
    assert len(list((tmp_path / "filtered").glob("*.json"))) == 1
    with pytest.raises(MissingWorkError, match=r"no longer in the work store .*rerun the dataset pipeline"):
        store.get(refs[0], GenerationReport)
