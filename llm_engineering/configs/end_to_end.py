"""Configs of the chained pipelines: ``end_to_end_data`` (the data pipelines) and ``end_to_end`` (all of them).

Each section is either the stage's config inline, or the path of that stage's own YAML
(relative to the project root), so configs/*.yaml are written once and chained here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator, Field, model_validator

from llm_engineering.configs import StrictModel
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.configs.etl import DigitalDataEtlConfig
from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.configs.features import FeatureEngineeringConfig
from llm_engineering.configs.training import TrainingConfig
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.domain.names import name_key
from llm_engineering.settings import PROJECT_ROOT


def _include(value: Any) -> Any:
    """A string section is the path of a YAML file holding that section."""
    if not isinstance(value, str):
        return value
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    if not path.is_file():
        raise ValueError(f"no such config file: {value}")
    # Included files are read as they are; their own errors are reported under the section key.
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{value}: expected a mapping of keys at the top level")
    return loaded


def _include_each(value: Any) -> Any:
    return [_include(item) for item in value] if isinstance(value, list) else value


class EndToEndDataConfig(StrictModel):
    """ETL for each person, then features, then the instruction and preference datasets."""

    etl: Annotated[list[DigitalDataEtlConfig], BeforeValidator(_include_each), Field(min_length=1)]
    """One ETL config per person (inline or a path)."""
    feature_engineering: Annotated[FeatureEngineeringConfig, BeforeValidator(_include)]
    """The feature pipeline's config (inline or a path)."""
    instruct_datasets: Annotated[GenerateDatasetsConfig, BeforeValidator(_include)]
    """The instruction dataset's config (inline or a path)."""
    preference_datasets: Annotated[GenerateDatasetsConfig, BeforeValidator(_include)]
    """The preference dataset's config (inline or a path)."""

    @classmethod
    def expand(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Load the sections given as paths, so ``--set feature_engineering.x=1`` edits the included YAML."""
        expanded = dict(data)
        for key in ("feature_engineering", "instruct_datasets", "preference_datasets"):
            if key in expanded:
                expanded[key] = _include(expanded[key])
        if "etl" in expanded:
            expanded["etl"] = _include_each(expanded["etl"])
        return expanded

    @model_validator(mode="after")
    def _dataset_types_match(self) -> EndToEndDataConfig:
        if self.instruct_datasets.dataset_type != DatasetType.INSTRUCTION:
            raise ValueError("instruct_datasets must have dataset_type: instruction")
        if self.preference_datasets.dataset_type != DatasetType.PREFERENCE:
            raise ValueError("preference_datasets must have dataset_type: preference")
        return self


class EndToEndConfig(EndToEndDataConfig):
    """The whole chain: ETL -> features -> datasets -> SFT -> DPO (offline or self-play preference
    data) -> evaluation -> promotion, validated as one before anything runs."""

    training: Annotated[TrainingConfig, BeforeValidator(_include)]
    """The training pipeline's config (inline or a path); ``self_play: true`` makes the SFT twin
    write the preference data's rejected answers before DPO."""
    evaluating: Annotated[EvaluatingConfig, BeforeValidator(_include)]
    """The evaluation pipeline's config (inline or a path); it promotes the winner."""

    @classmethod
    def expand(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Load every section given as a path (see :meth:`EndToEndDataConfig.expand`)."""
        expanded = super().expand(data)
        for key in ("training", "evaluating"):
            if key in expanded:
                expanded[key] = _include(expanded[key])
        return expanded

    @model_validator(mode="after")
    def _one_twin_author(self) -> EndToEndConfig:
        people = {name_key(etl.user_full_name): etl.user_full_name for etl in self.etl}
        for section, author in (
            ("training.author", self.training.author),
            ("evaluating.author", self.evaluating.author),
        ):
            if author is not None and name_key(author) not in people:
                raise ValueError(
                    f"{section} {author!r} is none of the ETL users ({', '.join(people.values())})"
                )
        return self
