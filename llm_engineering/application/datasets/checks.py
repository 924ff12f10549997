"""Refusals before a dataset run starts: settings that cannot serve the config, an empty feature store.

``tools/run.py`` calls :func:`check_dataset_run` before it hands the config to ZenML, so the
pipeline itself stays wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from llm_engineering.application.datasets.feature_source import check_feature_store
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.llm import ENDPOINT_FIX
from llm_engineering.domain.vector_store import VectorStore

if TYPE_CHECKING:  # the caller hands the settings in; this module reads none itself
    from llm_engineering.settings import Settings


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


def check_dataset_run(
    config: GenerateDatasetsConfig,
    *,
    settings: Settings,
    open_store: Callable[[], AbstractContextManager[VectorStore]] | None,
) -> None:
    """Refuse, before any step runs, a dataset run that cannot succeed.

    Args:
        config: the validated dataset config.
        settings: the environment's settings.
        open_store: opens the feature store, to check it holds the authors' cleaned documents
            (opened only for the ``feature_store`` source); None when the run is chained after the
            feature pipeline, which fills it (its first step checks then).

    Raises:
        ImproperlyConfigured: a missing setting, or an empty feature store, named in the message.
    """
    check_prerequisites(config, settings=settings)
    if config.source == "feature_store" and open_store is not None:
        with open_store() as store:
            check_feature_store(
                store, author_full_names=config.author_full_names, categories=config.extracts.categories
            )
