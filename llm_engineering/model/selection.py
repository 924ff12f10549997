"""Which model answers when none is named: the production twin, else the newest twin, else the base."""

from __future__ import annotations

from pathlib import Path

from llm_engineering.model.base_model import resolve_base_model
from llm_engineering.model.registry import ModelRegistry, ModelVersion


def choose_model(
    model: str | None, *, registry: ModelRegistry, base_model: str | None = None
) -> tuple[Path, ModelVersion | None]:
    """The folder to load for ``model`` and its registry record (None for a bare folder).

    Args:
        model: a model folder, a registry version name (``base`` works before any training), or
            None for the default (:meth:`ModelRegistry.default_version`, the order serving
            shares): the production version, else the newest DPO twin, else the newest SFT
            twin, else the registered base, else the packaged base model.
        registry: the model registry.
        base_model: the BASE_MODEL setting (None: the packaged SmolLM2).

    Raises:
        UnknownModelVersion: ``model`` is neither a folder nor a registered version.
    """
    if model is not None:
        if Path(model).expanduser().is_dir():
            return Path(model).expanduser(), None
        if model == "base" and not (registry.versions_dir / "base.json").is_file():
            return resolve_base_model(base_model, models_dir=registry.root), None  # before any training
        version = registry.get(model)
        return version.folder, version
    version = registry.default_version()
    if version is not None:
        return version.folder, version
    return resolve_base_model(base_model, models_dir=registry.root), None
