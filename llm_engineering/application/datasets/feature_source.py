"""The dataset flow's input: the authors' cleaned documents in the feature store, cut into extracts.

Author names match the feature store's names as the feature pipeline matches the warehouse's:
case and spacing are ignored (:func:`llm_engineering.domain.names.name_key`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from llm_engineering.application.datasets.extracts import ExtractReport, build_extracts
from llm_engineering.application.datasets.quality import deduplicate_extracts
from llm_engineering.application.feature_store import (
    count_cleaned_documents,
    iter_cleaned_documents,
    stored_author_names,
)
from llm_engineering.configs.datasets import ExtractConfig, QualityConfig
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.names import name_key
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import VectorStore

FEATURE_PIPELINE_FIX = "run the feature pipeline first: poe run-feature-engineering-pipeline"


class EmptyFeatureStore(ImproperlyConfigured):
    """The feature store holds no cleaned documents of the run's authors; the message names the fix."""


def check_feature_store(
    store: VectorStore, *, author_full_names: Sequence[str], categories: Sequence[DataCategory | str]
) -> list[str]:
    """The stored names of the run's authors; refuses a run that would read none of their documents.

    Args:
        store: the vector store holding the feature store.
        author_full_names: the authors (case and spacing are ignored).
        categories: the categories the run reads.

    Returns:
        Each author's name as the feature store spells it (the filter the extracts are read with).

    Raises:
        EmptyFeatureStore: one line: the feature store holds no cleaned documents of these
            categories, or none of an author's (naming the authors it holds).
    """
    kinds = "/".join(str(DataCategory(c)) for c in categories)
    names = ", ".join(author_full_names)
    if not count_cleaned_documents(store, categories=categories):
        raise EmptyFeatureStore(
            f"no cleaned {kinds} documents of {names} in the feature store: {FEATURE_PIPELINE_FIX}"
        )
    stored = stored_author_names(store, categories=categories)
    by_key: dict[str, list[str]] = {}
    for stored_name in stored:
        by_key.setdefault(name_key(stored_name), []).append(stored_name)
    missing = [name for name in author_full_names if name_key(name) not in by_key]
    if missing:
        raise EmptyFeatureStore(
            f"no cleaned {kinds} documents of {', '.join(missing)} in the feature store (it holds: "
            f"{', '.join(stored)}); fix author_full_names, or {FEATURE_PIPELINE_FIX} with these authors"
        )
    return [stored_name for name in author_full_names for stored_name in by_key[name_key(name)]]


def load_extracts(
    store: VectorStore,
    *,
    author_full_names: Sequence[str],
    extracts: ExtractConfig,
    quality: QualityConfig,
    progress: bool = True,
) -> ExtractReport:
    """Read the authors' cleaned documents page by page, cut them into extracts, drop duplicate extracts.

    Args:
        store: the vector store holding the feature store.
        author_full_names: the authors (case and spacing are ignored).
        extracts: categories, lengths and page size.
        quality: near-duplicate threshold and whether to deduplicate.
        progress: show progress bars.

    Raises:
        EmptyFeatureStore: the feature store holds none of an author's documents (the message
            names the feature pipeline).
    """
    started = time.perf_counter()
    stored_names = check_feature_store(
        store, author_full_names=author_full_names, categories=extracts.categories
    )
    documents = iter_cleaned_documents(
        store, categories=extracts.categories, author_full_names=stored_names, page_size=extracts.page_size
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
