"""Typed pipeline configs: YAML -> pydantic model (unknown keys fail) -> keyword arguments.

Precedence is defaults < YAML < command line (``--set key.sub=value``). A bad file stops
the run before any step starts, with a message that names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_engineering.domain.exceptions import ConfigError

C = TypeVar("C", bound="StrictModel")


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class GitHubRules(StrictModel):
    """Which files of a cloned repository are kept."""

    max_file_bytes: Annotated[int, Field(gt=0)] = 256_000
    """Files larger than this are skipped."""
    exclude_dirs: list[str] = Field(
        default_factory=lambda: [".git", "node_modules", "vendor", "third_party", "dist", "build", ".venv", "venv", "__pycache__"]
    )
    """Folder names skipped anywhere in the tree (vendored or generated code)."""
    exclude_globs: list[str] = Field(
        default_factory=lambda: ["*.lock", "package-lock.json", "*.min.js", "*.min.css", "*.map"]
    )
    """File name patterns skipped (lock files, minified bundles)."""
    max_files: Annotated[int, Field(gt=0)] = 2_000
    """At most this many files are kept per repository."""


class CrawlSettings(StrictModel):
    """How links are crawled."""

    max_workers: Annotated[int, Field(ge=1, le=32)] = 4
    """Links crawled at once."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    """Timeout of one fetch (HTTP request, page load, git clone)."""
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    """Extra attempts on a transient error (timeout, connection reset, HTTP 5xx/429)."""
    backoff_seconds: Annotated[float, Field(ge=0)] = 0.5
    """Wait before the first retry; doubles each retry."""
    failure_threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    """The step fails when more than this share of links failed."""
    force: bool = False
    """Crawl links already in the warehouse again (the stored document is replaced)."""
    github: GitHubRules = Field(default_factory=GitHubRules)


class DigitalDataEtlConfig(StrictModel):
    """Config of the ``digital_data_etl`` pipeline (configs/digital_data_etl_*.yaml)."""

    user_full_name: Annotated[str, Field(min_length=1)]
    """Author whose writing is crawled ("First Last"); created in the warehouse if new."""
    links: Annotated[list[str], Field(min_length=1)]
    """Links to crawl: http(s) pages, Medium, LinkedIn, GitHub, file:// or local paths."""
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)

    @field_validator("user_full_name")
    @classmethod
    def _two_words(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return " ".join(value.split())


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


def load_config(model: type[C], path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> C:
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
    if overrides:
        data = _merge(data, parse_overrides(overrides))
        source += " + --set"
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=source)) from None
