"""ZenML materializer of the generated ``DatasetDict``: saved with ``save_to_disk``, shown with its dataset card.

The card (Markdown: counts per split and category, filters, a few rows) travels inside the
dataset, in the train split's ``info.description``, so the dashboard shows it beside the
artifact and ``load_from_disk`` gives it back.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from datasets import DatasetDict, load_from_disk
from zenml.enums import ArtifactType, VisualizationType
from zenml.io import fileio
from zenml.materializers.base_materializer import BaseMaterializer
from zenml.utils import io_utils

_DATA_DIR = "dataset_dict"
_CARD = "dataset_card.md"


def dataset_card_of(dataset: DatasetDict) -> str:
    """The card stored in a generated dataset, or a minimal one with the row counts."""
    for split in dataset.values():
        if split.info.description:
            return split.info.description
    rows = ", ".join(f"{name}: {len(split)} rows" for name, split in dataset.items())
    return f"# Dataset\n\n{rows}\n"


class DatasetDictMaterializer(BaseMaterializer):
    """Saves a ``datasets.DatasetDict`` as ``save_to_disk`` files; visualises its card."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (DatasetDict,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def load(self, data_type: type[Any]) -> DatasetDict:
        """Copy the saved files to a local folder and read them with ``load_from_disk``."""
        with self.get_temporary_directory(delete_at_exit=False) as temp_dir:
            io_utils.copy_dir(os.path.join(self.uri, _DATA_DIR), temp_dir)
            return load_from_disk(temp_dir)

    def save(self, data: DatasetDict) -> None:
        """Write with ``save_to_disk`` locally, then copy into the artifact store."""
        with self.get_temporary_directory(delete_at_exit=True) as temp_dir:
            path = os.path.join(temp_dir, _DATA_DIR)
            data.save_to_disk(path, num_shards={name: 1 for name in data})  # an empty split needs a shard too
            io_utils.copy_dir(path, os.path.join(self.uri, _DATA_DIR))

    def save_visualizations(self, data: DatasetDict) -> dict[str, VisualizationType]:
        """The dataset card as a Markdown visualisation."""
        path = os.path.join(self.uri, _CARD)
        with fileio.open(path, "w") as file:
            file.write(dataset_card_of(data))
        return {path: VisualizationType.MARKDOWN}

    def extract_metadata(self, data: DatasetDict) -> dict[str, Any]:
        """Rows per split and the columns."""
        first = next(iter(data.values()), None)
        return {
            "rows": {name: len(split) for name, split in data.items()},
            "columns": list(first.column_names) if first is not None else [],
        }
