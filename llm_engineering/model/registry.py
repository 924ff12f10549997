"""The local model registry: which twin versions exist, where their folders are, which one serves.

Layout under ``STATE_DIR/models`` (``root``)::

    base/<slug>/                 the base model as a plain Hugging Face folder (converted once)
    runs/<run>/...               one training run: checkpoints, adapters, merged models
    versions/<name>.json         one record per model version (base, sft or dpo)
    production.json              the version that serves, written atomically on promotion

The registry needs no ZenML: the training and evaluation steps mirror each version as a ZenML
Model version (Model Control Plane) and its stage, while serving and the command line read
these files, so a promotion is seen by a running service on its next request (the file's
modification time changes).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from llm_engineering.domain.exceptions import LLMTwinError

VersionStage = Literal["base", "sft", "dpo"]
"""What a registered model is: the base model, an SFT twin or a DPO twin."""
PICK_ORDER: tuple[VersionStage, ...] = ("dpo", "sft", "base")
"""After the production version, the stage that answers when none is named, first choice first."""


class UnknownModelVersion(LLMTwinError):
    """A model version name that the registry does not hold."""


class ModelVersion(BaseModel):
    """One model that can answer: the base model or a trained twin.

    Attributes:
        name: unique version name, e.g. ``20261121-234500-dpo`` (``base`` for the base model).
        stage: ``base``, ``sft`` or ``dpo``.
        folder: the merged model in Hugging Face format (``from_pretrained(folder)`` loads it).
        adapter: the LoRA adapter folder, when the version was trained with one.
        base_model: the base model id or folder it was trained from.
        author: whose twin it is.
        created_at: UTC time of registration (ISO 8601; microseconds, so versions of one second still order).
        datasets: dataset versions used (``{"instruction": "<folder>", ...}``).
        hyperparameters: training settings worth showing beside the scores.
        metrics: training and evaluation figures (losses, tokens/s, scores).
    """

    name: str
    stage: VersionStage
    folder: Path
    adapter: Path | None = None
    base_model: str
    author: str | None = None
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))
    datasets: dict[str, str] = Field(default_factory=dict)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


def _newest_first_key(version: ModelVersion) -> tuple[datetime, str]:
    """Sort key by registration time (parsed: second- and microsecond-stamped records compare), then name."""
    try:
        stamp = datetime.fromisoformat(version.created_at)
    except ValueError:
        stamp = datetime.min.replace(tzinfo=UTC)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp, version.name


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


class ModelRegistry:
    """Model versions and the production pointer under one folder (``STATE_DIR/models``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def production_file(self) -> Path:
        return self.root / "production.json"

    def run_dir(self, run: str) -> Path:
        """The folder of one training run's outputs."""
        return self.root / "runs" / run

    def register(self, version: ModelVersion) -> ModelVersion:
        """Record ``version`` (replacing a record of the same name)."""
        _write_atomically(self.versions_dir / f"{version.name}.json", version.model_dump_json(indent=2))
        return version

    def update_metrics(self, name: str, metrics: dict[str, Any]) -> ModelVersion:
        """Merge ``metrics`` into a version's record."""
        version = self.get(name)
        version.metrics = {**version.metrics, **metrics}
        return self.register(version)

    def versions(self, stage: VersionStage | None = None) -> list[ModelVersion]:
        """All versions, newest first, optionally of one stage."""
        if not self.versions_dir.is_dir():
            return []
        found = [
            ModelVersion.model_validate_json(path.read_text(encoding="utf-8"))
            for path in self.versions_dir.glob("*.json")
        ]
        found = [v for v in found if stage is None or v.stage == stage]
        return sorted(found, key=_newest_first_key, reverse=True)

    def names(self) -> list[str]:
        """The names of the registered versions (their record files), sorted."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(path.stem for path in self.versions_dir.glob("*.json") if not path.name.startswith("."))

    def get(self, name: str) -> ModelVersion:
        """The version called ``name``; only a name the registry lists is read (never a path).

        Raises:
            UnknownModelVersion: ``name`` is not one of :meth:`names` (``../production`` and
                absolute paths included).
        """
        known = self.names()
        if name not in known:
            listed = ", ".join(known) or "none yet"
            raise UnknownModelVersion(f"no model version {name!r} (known: {listed})")
        path = self.versions_dir / f"{name}.json"
        return ModelVersion.model_validate_json(path.read_text(encoding="utf-8"))

    def latest(self, stage: VersionStage | None = None) -> ModelVersion | None:
        """The newest version (of ``stage``), or None."""
        versions = self.versions(stage)
        return versions[0] if versions else None

    def default_version(self) -> ModelVersion | None:
        """What answers when no model is named, in the one order serving and the CLI share:
        the production version, else the newest DPO twin, else the newest SFT twin, else the
        registered base (None: the caller falls back to the packaged base model)."""
        production = self.production()
        if production is not None:
            return production
        for stage in PICK_ORDER:
            version = self.latest(stage)
            if version is not None:
                return version
        return None

    def production(self) -> ModelVersion | None:
        """The version promoted to production, or None before any promotion."""
        if not self.production_file.is_file():
            return None
        name = json.loads(self.production_file.read_text(encoding="utf-8"))["name"]
        return self.get(name)

    def production_stamp(self) -> float | None:
        """Modification time of the production pointer: a server reloads when it changes."""
        try:
            return self.production_file.stat().st_mtime
        except FileNotFoundError:
            return None

    def promote(self, name: str, *, reason: str) -> ModelVersion:
        """Make ``name`` the production version (atomic: a reader sees the old or the new pointer)."""
        version = self.get(name)
        record = {
            "name": name,
            "reason": reason,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_atomically(self.production_file, json.dumps(record, indent=2))
        return version
