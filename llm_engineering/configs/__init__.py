"""Typed pipeline configs: YAML -> pydantic model (unknown keys fail) -> keyword arguments.

Precedence is defaults < YAML < command line (``--set key.sub=value``). A bad file stops
the run before any step starts, with a message that names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.names import name_key

C = TypeVar("C", bound="StrictModel")


def _normalise_author_names(names: list[str]) -> list[str]:
    normalised = [" ".join(name.split()) for name in names]
    if any(not name for name in normalised):
        raise ValueError("an author name is blank")
    # Duplicates by the matching key ("ada lovelace" and "Ada  Lovelace" are one author); first spelling kept.
    kept: dict[str, str] = {}
    for name in normalised:
        kept.setdefault(name_key(name), name)
    return list(kept.values())


AuthorNames = Annotated[list[str], Field(min_length=1), AfterValidator(_normalise_author_names)]
"""Authors as stored ("First Last"): whitespace folded, duplicates (by case and spacing) dropped, blanks refused."""


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    @classmethod
    def expand(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Resolve references in the raw YAML (e.g. included files) before overrides apply."""
        return data


def _set_dotted(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    keys = dotted_key.split(".")
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted_key}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def parse_overrides(overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}``; values are parsed as YAML scalars."""
    data: dict[str, Any] = {}
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {override!r}: expected KEY=VALUE")
        _set_dotted(data, key.strip(), yaml.safe_load(raw) if raw else "")
    return data


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def format_validation_error(error: ValidationError, *, source: str) -> str:
    """One line per problem: ``source: key.path: message``."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"]
        lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def load_config(
    model: type[C], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> C:
    """Read, merge and validate a config.

    Args:
        model: the config model of the stage.
        path: YAML file; None means the model's defaults.
        overrides: ``KEY=VALUE`` strings (dotted keys reach into sections).

    Raises:
        ConfigError: the file is missing or not a mapping, or a key is unknown or invalid.
    """
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{source}: no such config file") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{source}: expected a mapping of keys at the top level")
        data = loaded
    try:
        data = model.expand(data)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if overrides:
        data = _merge(data, parse_overrides(overrides))
        source += " + --set"
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=source)) from None
