"""ZenML materializer of a generated dataset version: a small JSON record, shown with its dataset card.

The rows stay in the version folder under the state folder (training reads them there), so the
artifact store keeps only the record (folder, fingerprint, rows per split, columns) and the card
(Markdown: counts per split and category, filters, a few rows), which the dashboard shows.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from zenml.enums import ArtifactType, VisualizationType
from zenml.io import fileio
from zenml.materializers.base_materializer import BaseMaterializer

from llm_engineering.application.datasets.flow import DatasetVersion

_RECORD = "dataset_version.json"
_CARD = "dataset_card.md"


class DatasetVersionMaterializer(BaseMaterializer):
    """Saves a :class:`DatasetVersion` as JSON; visualises its card."""

    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (DatasetVersion,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def load(self, data_type: type[Any]) -> DatasetVersion:
        """Read the record back."""
        with fileio.open(os.path.join(self.uri, _RECORD), "r") as file:
            return DatasetVersion.model_validate_json(file.read())

    def save(self, data: DatasetVersion) -> None:
        """Write the record."""
        with fileio.open(os.path.join(self.uri, _RECORD), "w") as file:
            file.write(data.model_dump_json())

    def save_visualizations(self, data: DatasetVersion) -> dict[str, VisualizationType]:
        """The dataset card as a Markdown visualisation."""
        path = os.path.join(self.uri, _CARD)
        with fileio.open(path, "w") as file:
            file.write(data.card)
        return {path: VisualizationType.MARKDOWN}

    def extract_metadata(self, data: DatasetVersion) -> dict[str, Any]:
        """Rows per split, the columns, the folder and the fingerprint."""
        return {
            "rows": data.rows,
            "columns": data.columns,
            "path": str(data.path),
            "fingerprint": data.fingerprint,
        }
