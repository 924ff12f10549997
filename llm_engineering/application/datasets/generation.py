"""The dataset flow: feature store -> extracts -> samples -> filters -> split -> saved ``DatasetDict``.

Each function is one stage the pipeline's steps call, and each returns a report that
carries its counts and timings forward, so the last stage can state the whole run's
figures (extracts, samples, filtered, seconds). :func:`check_prerequisites` and
:func:`check_feature_store` refuse a run that cannot succeed before any work starts,
with a message that names the fix.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.datasets import storage
from llm_engineering.application.datasets.extracts import (
    ExtractReport,
    build_extracts,
    count_cleaned_documents,
    stored_authors,
)
from llm_engineering.application.datasets.llm_generation import (
    generate_llm_instruction_samples,
    generate_rejected_answers,
)
from llm_engineering.application.datasets.offline import GenericAnswerWriter, OfflineInstructionWriter
from llm_engineering.application.datasets.ports import ENDPOINT_FIX, LLMClient
from llm_engineering.application.datasets.quality import category_counts, deduplicate_extracts, filter_samples
from llm_engineering.application.datasets.splits import check_no_leakage, split_samples
from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.configs.datasets import (
    ExtractSettings,
    GenerateDatasetsConfig,
    InstructionSettings,
    LLMSettings,
    OutputSettings,
    PreferenceSettings,
    QualitySettings,
    SplitSettings,
)
from llm_engineering.domain.dataset import DatasetType, InstructionSample, Sample
from llm_engineering.domain.exceptions import ImproperlyConfigured, LLMTwinError
from llm_engineering.domain.vector_store import VectorStore
from llm_engineering.settings import Settings

FEATURE_PIPELINE_FIX = "run the feature pipeline first: poe run-feature-engineering-pipeline"


class GenerationFailuresExceeded(LLMTwinError):
    """Too many extracts or samples failed; the message gives the counts and examples."""


class EmptyDatasetError(LLMTwinError):
    """Nothing is left to make a dataset of; the message says which stage removed everything."""


# -- before the run ----------------------------------------------------------------------


def check_prerequisites(config: GenerateDatasetsConfig, *, settings: Settings) -> None:
    """Refuse settings that cannot serve the config (no I/O).

    Raises:
        ImproperlyConfigured: naming the missing setting and the alternative.
    """
    if config.output.push_to_hub and not settings.huggingface_access_token:
        raise ImproperlyConfigured(
            "output.push_to_hub needs HUGGINGFACE_ACCESS_TOKEN in the environment or .env, "
            "or set output.push_to_hub: false"
        )
    if config.source == "handbook_json":
        return
    if config.instruction.strategy == "llm" and not settings.openai_base_url:
        raise ImproperlyConfigured(
            f"instruction.strategy 'llm' needs an LLM endpoint: {ENDPOINT_FIX}, "
            "or use instruction.strategy: offline"
        )
    if config.dataset_type == DatasetType.PREFERENCE:
        preference = config.preference
        if preference.rejected_strategy == "llm" and not settings.openai_base_url:
            raise ImproperlyConfigured(
                f"preference.rejected_strategy 'llm' needs an LLM endpoint: {ENDPOINT_FIX}, "
                "or use preference.rejected_strategy: offline (or model with a local model folder)"
            )
        if (
            preference.rejected_strategy == "model"
            and not Path(str(preference.model)).expanduser().is_dir()
            and not (preference.model_base_url or settings.openai_base_url)
        ):
            raise ImproperlyConfigured(
                f"preference.model {preference.model!r} is not a local model folder and no endpoint serves it: "
                f"give the path of a model folder, set preference.model_base_url, or {ENDPOINT_FIX}"
            )


def check_feature_store(
    store: VectorStore, *, author_full_names: Sequence[str], categories: Sequence[str]
) -> int:
    """The number of cleaned documents the run will read; refuses a run that would read none.

    Raises:
        ImproperlyConfigured: the feature store is empty, or holds none of these authors' documents.
    """
    found = count_cleaned_documents(store, categories=categories, author_full_names=author_full_names)
    if found:
        return found
    names = ", ".join(author_full_names)
    if not count_cleaned_documents(store, categories=categories):
        raise ImproperlyConfigured(
            f"the feature store holds no cleaned {'/'.join(map(str, categories))} documents: {FEATURE_PIPELINE_FIX}"
        )
    known = ", ".join(stored_authors(store, categories=categories)) or "none"
    raise ImproperlyConfigured(
        f"the feature store holds no cleaned documents of {names} (it holds: {known}); fix author_full_names, "
        f"or {FEATURE_PIPELINE_FIX} with these authors"
    )


# -- extracts ----------------------------------------------------------------------------


def load_extracts(
    store: VectorStore,
    *,
    author_full_names: Sequence[str],
    extracts: ExtractSettings,
    quality: QualitySettings,
    progress: bool = True,
) -> ExtractReport:
    """Read the authors' cleaned documents page by page, cut them into extracts, drop duplicate extracts.

    Args:
        store: the vector store holding the feature store.
        author_full_names: the authors.
        extracts: categories, lengths and page size.
        quality: near-duplicate threshold and whether to deduplicate.
        progress: show progress bars.

    Raises:
        ImproperlyConfigured: the feature store holds none of the authors' documents (the message
            names the feature pipeline).
    """
    started = time.perf_counter()
    check_feature_store(store, author_full_names=author_full_names, categories=extracts.categories)
    documents = iter_cleaned_documents(
        store,
        categories=extracts.categories,
        author_full_names=author_full_names,
        page_size=extracts.page_size,
    )
    report = build_extracts(
        documents,
        max_length=extracts.max_length,
        min_length=extracts.min_length,
        unit=extracts.unit,
        progress=progress,
    )
    kept, duplicates = report.extracts, {}
    if quality.deduplicate:
        kept, counts = deduplicate_extracts(report.extracts, threshold=quality.near_duplicate_threshold)
        duplicates = {
            "exact_duplicates": counts.exact_duplicates,
            "near_duplicates": counts.near_duplicates,
            "total": counts.total,
        }
    return report.model_copy(
        update={"extracts": kept, "duplicates": duplicates, "seconds": time.perf_counter() - started}
    )


# -- samples -----------------------------------------------------------------------------


class GenerationReport(BaseModel):
    """Samples of one generation stage and what failed.

    Attributes:
        dataset_type: the dataset being built.
        strategy: how the samples were made (``offline``, ``llm``, ``offline+rejected:model``, ``handbook``).
        samples: the samples, in input order.
        inputs: extracts (instruction stage) or samples (preference stage) processed.
        extracts: extracts the run started from.
        failures: failed inputs by kind (``malformed``, ``timeout``, ``budget_exhausted``, ``error``).
        failure_examples: the first few failure messages.
        dropped: pairs dropped for other reasons (``not_verbatim``, ``beyond_requested``).
        tokens_used: tokens the model calls spent (None without a model).
        seconds: this stage's time.
        upstream_seconds: the earlier stages' time.
    """

    model_config = ConfigDict(frozen=True)

    dataset_type: DatasetType
    strategy: str
    samples: list[Sample]
    inputs: int
    extracts: int
    failures: dict[str, int] = Field(default_factory=dict)
    failure_examples: list[str] = Field(default_factory=list)
    dropped: dict[str, int] = Field(default_factory=dict)
    tokens_used: int | None = None
    seconds: float = 0.0
    upstream_seconds: float = 0.0

    @property
    def failed(self) -> int:
        """Inputs that failed."""
        return sum(self.failures.values())

    @property
    def failure_ratio(self) -> float:
        """Failed share of the inputs."""
        return self.failed / self.inputs if self.inputs else 0.0

    def raise_if_failures_exceed(self, threshold: float) -> None:
        """Fail the stage when more than ``threshold`` of its inputs failed.

        Raises:
            GenerationFailuresExceeded: with the counts and the first failure messages.
        """
        if self.failure_ratio > threshold:
            examples = "; ".join(self.failure_examples[:3])
            raise GenerationFailuresExceeded(
                f"{self.failed} of {self.inputs} inputs failed ({dict(self.failures)}), above the threshold "
                f"{threshold:.0%} (llm.failure_threshold): {examples}"
            )

    def metadata(self) -> dict[str, Any]:
        """What the generating step logs to ZenML: counts, failures, tokens, time and the summary."""
        return {
            "strategy": self.strategy,
            "inputs": self.inputs,
            "samples": len(self.samples),
            "failures": self.failures,
            "failure_examples": self.failure_examples,
            "dropped_pairs": self.dropped,
            "tokens_used": self.tokens_used or 0,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One line: samples made, by what, and failures."""
        failures = f", {self.failed} of {self.inputs} failed {dict(self.failures)}" if self.failed else ""
        dropped = f", {sum(self.dropped.values())} pairs dropped {dict(self.dropped)}" if self.dropped else ""
        if self.strategy == "handbook":
            kind, inputs = f"{self.dataset_type} samples", "handbook records"
        elif "+rejected" in self.strategy:
            kind, inputs = "preference samples", "instruction samples"
        else:
            kind, inputs = "instruction samples", "extracts"
        return (
            f"{len(self.samples)} {kind} ({self.strategy}) from {self.inputs} {inputs}"
            f"{failures}{dropped} in {self.seconds:.1f}s"
        )


def _tokens(client: LLMClient | None) -> int | None:
    budget = getattr(client, "budget", None)
    return getattr(budget, "used", None)


def generate_instruction_samples(
    extract_report: ExtractReport,
    *,
    instruction: InstructionSettings,
    llm: LLMSettings,
    dataset_type: DatasetType = DatasetType.INSTRUCTION,
    client: LLMClient | None = None,
    progress: bool = True,
) -> GenerationReport:
    """Instruction samples of every extract, with the configured strategy.

    Args:
        extract_report: the extracts.
        instruction: the strategy and how many instructions or pairs per extract.
        llm: per-call options of the ``llm`` strategy.
        dataset_type: for a preference dataset the ``llm`` answers must be copied from the extract.
        client: the LLM (``llm`` strategy only).
        progress: show progress bars.

    Raises:
        ValueError: the ``llm`` strategy without a client.
    """
    started = time.perf_counter()
    extracts = extract_report.extracts
    common = {
        "dataset_type": dataset_type,
        "inputs": len(extracts),
        "extracts": len(extracts),
        "upstream_seconds": extract_report.seconds,
    }
    if instruction.strategy == "offline":
        writer = OfflineInstructionWriter(
            extracts, instructions_per_extract=instruction.instructions_per_extract
        )
        return GenerationReport(
            strategy="offline", samples=writer.samples(), seconds=time.perf_counter() - started, **common
        )
    if client is None:
        raise ValueError("the llm strategy needs an LLM client")
    result = generate_llm_instruction_samples(
        extracts,
        client=client,
        pairs_per_extract=instruction.pairs_per_extract,
        verbatim_answers=dataset_type == DatasetType.PREFERENCE,
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
        progress=progress,
    )
    return GenerationReport(
        strategy="llm",
        samples=result.samples,
        failures=dict(result.failures.counts),
        failure_examples=result.failures.examples,
        dropped=dict(result.dropped_pairs),
        tokens_used=_tokens(client),
        seconds=time.perf_counter() - started,
        **common,
    )


def generate_preference_samples(
    instruction_report: GenerationReport,
    *,
    preference: PreferenceSettings,
    llm: LLMSettings,
    client: LLMClient | None = None,
    progress: bool = True,
) -> GenerationReport:
    """Preference samples: the instruction, the author's text as chosen, a rejected answer by the strategy.

    Args:
        instruction_report: instruction samples whose answers are the author's text.
        preference: the rejected strategy.
        llm: per-call options of the ``llm`` and ``model`` strategies.
        client: the model writing rejected answers (``llm``, ``model``).
        progress: show progress bars.

    Raises:
        ValueError: a model strategy without a client.
    """
    started = time.perf_counter()
    samples = [s for s in instruction_report.samples if isinstance(s, InstructionSample)]
    strategy = f"{instruction_report.strategy}+rejected:{preference.rejected_strategy}"
    common = {
        "dataset_type": DatasetType.PREFERENCE,
        "strategy": strategy,
        "inputs": len(samples),
        "extracts": instruction_report.extracts,
        "upstream_seconds": instruction_report.upstream_seconds + instruction_report.seconds,
    }
    carried = {
        "failures": instruction_report.failures,
        "failure_examples": instruction_report.failure_examples,
        "dropped": instruction_report.dropped,
    }
    if preference.rejected_strategy == "offline":
        writer = GenericAnswerWriter(samples)
        return GenerationReport(
            samples=writer.samples_with_rejected(),
            tokens_used=instruction_report.tokens_used,
            seconds=time.perf_counter() - started,
            **carried,
            **common,
        )
    if client is None:
        raise ValueError(f"the {preference.rejected_strategy} strategy needs an LLM client")
    result = generate_rejected_answers(
        samples,
        client=client,
        generic=preference.rejected_strategy == "llm",
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
        progress=progress,
    )
    failures = Counter(instruction_report.failures)
    failures.update({f"rejected_{kind}": n for kind, n in result.failures.counts.items()})
    return GenerationReport(
        samples=result.samples,
        failures=dict(failures),
        failure_examples=[*instruction_report.failure_examples, *result.failures.examples][:5],
        dropped=instruction_report.dropped,
        tokens_used=(instruction_report.tokens_used or 0) + (_tokens(client) or 0),
        seconds=time.perf_counter() - started,
        **common,
    )


def handbook_samples(path: Path, *, dataset_type: DatasetType) -> GenerationReport:
    """The samples of a handbook-format JSON dataset, each keeping its own split.

    Raises:
        HandbookFormatError: the file is not a ``dataset_type`` dataset in the handbook format.
    """
    started = time.perf_counter()
    _, samples = storage.load_handbook_json(path, dataset_type=dataset_type)
    return GenerationReport(
        dataset_type=dataset_type,
        strategy="handbook",
        samples=samples,
        inputs=len(samples),
        extracts=0,
        seconds=time.perf_counter() - started,
    )


# -- filters, split, output --------------------------------------------------------------


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


def filter_generated(report: GenerationReport, *, quality: QualitySettings) -> FilteredSamples:
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

    def summary(self) -> str:
        """One line: rows per split and the folder."""
        train, test = self.counts["train"]["total"], self.counts["test"]["total"]
        return f"{train} train / {test} test rows saved to {self.path}" + (
            f", pushed to {self.hub_url}" if self.hub_url else ""
        )


def build_dataset(
    filtered: FilteredSamples,
    *,
    split: SplitSettings,
    output: OutputSettings,
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
        filtered.samples, test_size=split.test_size, seed=split.seed, group_by=split.group_by
    )
    check_no_leakage(result, group_by=split.group_by)
    dataset = storage.to_dataset_dict(
        train=result.train, test=result.test, dataset_type=filtered.dataset_type, seed=split.seed
    )
    counts = result.counts()
    filters = {**filtered.filtered, "test_overlap_removed": result.test_overlap_removed}
    seconds = filtered.upstream_seconds + filtered.seconds + (time.perf_counter() - started)
    stats: dict[str, Any] = {
        "dataset_type": str(filtered.dataset_type),
        "strategy": filtered.strategy,
        "extracts": filtered.extracts,
        "samples_generated": filtered.generated,
        "samples": {"train": counts["train"]["total"], "test": counts["test"]["total"]},
        "samples_per_category": category_counts([*result.train, *result.test]),
        "filtered": filters,
        "failures": filtered.failures,
        "tokens_used": filtered.tokens_used or 0,
        "seconds": round(seconds, 3),
    }
    details = {
        "strategy": filtered.strategy,
        "extracts": filtered.extracts,
        "samples generated": filtered.generated,
        "split": f"test_size {split.test_size}, grouped by {split.group_by}, seed {split.seed}",
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
