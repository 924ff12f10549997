"""The end of the dataset flow: quality filters, the leak-free split, the saved ``DatasetDict`` and its card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.datasets import storage
from llm_engineering.application.datasets.quality import category_counts, filter_samples
from llm_engineering.application.datasets.samples import GenerationReport
from llm_engineering.application.datasets.splits import check_no_leakage, split_samples
from llm_engineering.configs.datasets import DatasetOutputConfig, QualityConfig, SplitConfig
from llm_engineering.domain.dataset import DatasetType, Sample
from llm_engineering.domain.exceptions import ImproperlyConfigured, LLMTwinError


class EmptyDatasetError(LLMTwinError):
    """Nothing is left to make a dataset of; the message says which stage removed everything."""


class FilteredSamples(BaseModel):
    """Samples that passed the quality filters, with every count of the run so far."""

    model_config = ConfigDict(frozen=True)

    dataset_type: DatasetType
    strategy: str
    samples: list[Sample]
    generated: int
    extracts: int
    filtered: dict[str, int]
    failures: dict[str, int] = Field(default_factory=dict)
    tokens_used: int | None = None
    seconds: float = 0.0
    upstream_seconds: float = 0.0

    def summary(self) -> str:
        """One line: kept of generated, and what each filter removed."""
        removed = {k: v for k, v in self.filtered.items() if v and k != "total"}
        return (
            f"kept {len(self.samples)} of {self.generated} samples; removed {self.filtered.get('total', 0)} "
            f"{removed or ''}".rstrip()
        )


def filter_generated(report: GenerationReport, *, quality: QualityConfig) -> FilteredSamples:
    """Apply the length filters and sample deduplication to a generation report.

    Raises:
        EmptyDatasetError: nothing was generated, or the filters removed everything.
    """
    started = time.perf_counter()
    if not report.samples:
        raise EmptyDatasetError(
            f"no samples were generated from {report.inputs} inputs ({dict(report.failures) or 'no failures'}); "
            "check the extracts' lengths (extracts.min_length) and the failures above"
        )
    kept, counts = filter_samples(
        report.samples,
        min_instruction_chars=quality.min_instruction_chars,
        min_answer_chars=quality.min_answer_chars,
        min_rejected_chars=quality.min_rejected_chars,
        near_duplicate_threshold=quality.near_duplicate_threshold,
        deduplicate_samples=quality.deduplicate,
    )
    if not kept:
        raise EmptyDatasetError(
            f"the quality filters removed all {len(report.samples)} samples ({counts.as_dict()}); "
            "lower quality.min_answer_chars or quality.min_instruction_chars"
        )
    return FilteredSamples(
        dataset_type=report.dataset_type,
        strategy=report.strategy,
        samples=kept,
        generated=len(report.samples),
        extracts=report.extracts,
        filtered=counts.as_dict(),
        failures=report.failures,
        tokens_used=report.tokens_used,
        seconds=time.perf_counter() - started,
        upstream_seconds=report.upstream_seconds + report.seconds,
    )


class DatasetVersion(BaseModel):
    """A saved dataset version by reference: what the pipeline's last step hands to ZenML.

    The rows stay in the version folder (``datasets.load_from_disk`` reads it); the artifact
    store keeps this record and the card.

    Attributes:
        path: the version folder.
        fingerprint: SHA-256 of its rows.
        rows: rows per split.
        columns: the dataset's columns.
        card: the Markdown dataset card.
    """

    model_config = ConfigDict(frozen=True)

    path: Path
    fingerprint: str
    rows: dict[str, int]
    columns: list[str]
    card: str

    def load(self) -> Any:
        """The ``DatasetDict`` saved in :attr:`path`."""
        from datasets import load_from_disk

        return load_from_disk(str(self.path))


class DatasetBuild(BaseModel):
    """A built dataset: where it was saved, its counts and card. The ``DatasetDict`` rides along.

    Attributes:
        path: the versioned folder (``datasets.load_from_disk`` reads it).
        counts: samples per split and category.
        card: the Markdown dataset card.
        hub_url: where it was pushed, if it was.
        stats: the run's figures (extracts, samples, filtered, failures, seconds).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    dataset: Any = Field(exclude=True)
    path: Path
    counts: dict[str, dict[str, int]]
    card: str
    hub_url: str | None = None
    stats: dict[str, Any]

    def version(self) -> DatasetVersion:
        """This build as a :class:`DatasetVersion` reference."""
        first = next(iter(self.dataset.values()))
        fingerprint = storage.saved_fingerprint(self.path)  # computed once, when it was saved
        assert fingerprint is not None  # save_dataset writes it, or returns a version that has it
        return DatasetVersion(
            path=self.path,
            fingerprint=fingerprint,
            rows={name: len(split) for name, split in self.dataset.items()},
            columns=list(first.column_names),
            card=self.card,
        )

    def summary(self) -> str:
        """One line: rows per split and the folder."""
        rows = " / ".join(f"{per['total']} {name}" for name, per in self.counts.items())
        return f"{rows} rows saved to {self.path}" + (f", pushed to {self.hub_url}" if self.hub_url else "")


def build_dataset(
    filtered: FilteredSamples,
    *,
    split: SplitConfig,
    output: DatasetOutputConfig,
    root: Path,
    title: str,
    hub_token: str | None = None,
) -> DatasetBuild:
    """Split, check for leakage, flatten into a ``DatasetDict``, save a new version, push when asked.

    Args:
        filtered: the samples that passed the filters.
        split: test share, seed and grouping.
        output: preview rows and the Hub target.
        root: the datasets folder (versions go under ``root/<type>/``).
        title: the card's title.
        hub_token: Hugging Face token (needed when ``output.push_to_hub``).

    Raises:
        LeakageError: the split shares an extract, document or answer (a bug, never data-dependent).
    """
    started = time.perf_counter()
    result = split_samples(
        filtered.samples,
        test_size=split.test_size,
        validation_size=split.validation_size,
        seed=split.seed,
        group_by=split.group_by,
    )
    check_no_leakage(result, group_by=split.group_by)
    dataset = storage.to_dataset_dict(
        train=result.train,
        validation=result.validation,
        test=result.test,
        dataset_type=filtered.dataset_type,
        seed=split.seed,
    )
    counts = result.counts()
    filters = {**filtered.filtered, "test_overlap_removed": result.test_overlap_removed}
    seconds = filtered.upstream_seconds + filtered.seconds + (time.perf_counter() - started)
    stats: dict[str, Any] = {
        "dataset_type": str(filtered.dataset_type),
        "strategy": filtered.strategy,
        "extracts": filtered.extracts,
        "samples_generated": filtered.generated,
        "samples": {name: per["total"] for name, per in counts.items()},
        "documents": {name: len({s.document_id for s in part}) for name, part in result.parts().items()},
        "with_context": sum(1 for s in filtered.samples if s.context),
        "samples_per_category": category_counts(filtered.samples),
        "filtered": filters,
        "failures": filtered.failures,
        "tokens_used": filtered.tokens_used or 0,
        "seconds": round(seconds, 3),
    }
    details = {
        "strategy": filtered.strategy,
        "extracts": filtered.extracts,
        "samples generated": filtered.generated,
        "split": (
            f"by a hash of each {split.group_by} id: test_size {split.test_size}, "
            f"validation_size {split.validation_size}, seed {split.seed}"
        ),
    }
    card = storage.dataset_card(
        dataset,
        dataset_type=filtered.dataset_type,
        title=title,
        split_counts=counts,
        filters=filters,
        details=details,
        preview_rows=output.preview_rows,
    )
    for part in dataset.values():  # the card travels with the data (ZenML shows it; load_from_disk keeps it)
        part.info.description = card
    path = storage.save_dataset(
        dataset, root=root, dataset_type=filtered.dataset_type, card=card, manifest=stats
    )
    hub_url = None
    if output.push_to_hub:
        if not hub_token or not output.hub_repo_id:
            raise ImproperlyConfigured(
                "output.push_to_hub needs output.hub_repo_id and HUGGINGFACE_ACCESS_TOKEN"
            )
        hub_url = storage.push_dataset(
            dataset, repo_id=output.hub_repo_id, token=hub_token, private=output.hub_private, card=card
        )
    return DatasetBuild(dataset=dataset, path=path, counts=counts, card=card, hub_url=hub_url, stats=stats)
