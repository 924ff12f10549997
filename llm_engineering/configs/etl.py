"""Config of the ``digital_data_etl`` pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from llm_engineering.configs import StrictModel


def _local_path_to_uri(link: str) -> str:
    if "://" in link or ":" in link.split("/", 1)[0]:
        return link
    path = Path(link).expanduser()
    return path.resolve().as_uri() if path.exists() else link


class GitHubRules(StrictModel):
    """Which files of a cloned repository are kept."""

    max_file_bytes: Annotated[int, Field(gt=0)] = 256_000
    """Files larger than this are skipped."""
    exclude_dirs: list[str] = Field(
        default_factory=lambda: [
            ".git",
            "node_modules",
            "vendor",
            "third_party",
            "dist",
            "build",
            ".venv",
            "venv",
            "__pycache__",
        ]
    )
    """Folder names skipped anywhere in the tree (vendored or generated code)."""
    exclude_globs: list[str] = Field(
        default_factory=lambda: ["*.lock", "package-lock.json", "*.min.js", "*.min.css", "*.map"]
    )
    """File name patterns skipped (lock files, minified bundles)."""
    max_files: Annotated[int, Field(gt=0)] = 2_000
    """At most this many files are kept per repository."""


class CrawlConfig(StrictModel):
    """How links are crawled."""

    max_workers: Annotated[int, Field(ge=1, le=32)] = 4
    """Links crawled at once."""
    max_browsers: Annotated[int, Field(ge=1, le=32)] = 2
    """Headless browsers (Medium, LinkedIn) open at once, at most ``max_workers``; left unset,
    it is lowered to ``max_workers`` when that is smaller."""
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
    max_page_bytes: Annotated[int, Field(gt=0)] = 10_000_000
    """A fetched or rendered page larger than this fails its link (the download stops there)."""
    max_file_bytes: Annotated[int, Field(gt=0)] = 50_000_000
    """A local file larger than this fails its link without being read."""
    github: GitHubRules = Field(default_factory=GitHubRules)
    """Which files of a cloned repository are kept."""

    @model_validator(mode="after")
    def _browsers_within_workers(self) -> CrawlConfig:
        if self.max_browsers > self.max_workers:
            if "max_browsers" in self.model_fields_set:
                raise ValueError(
                    f"max_browsers ({self.max_browsers}) must not exceed max_workers ({self.max_workers})"
                )
            self.max_browsers = self.max_workers
        return self


class DigitalDataEtlConfig(StrictModel):
    """Config of the ``digital_data_etl`` pipeline (configs/digital_data_etl_*.yaml)."""

    user_full_name: Annotated[str, Field(min_length=1)]
    """Author whose writing is crawled ("First Last"); created in the warehouse if new."""
    links: Annotated[list[str], Field(min_length=1)]
    """Links to crawl: http(s) pages, Medium, LinkedIn, GitHub, file:// or local paths."""
    crawl: CrawlConfig = Field(default_factory=CrawlConfig)

    @field_validator("links")
    @classmethod
    def _canonical_links(cls, links: list[str]) -> list[str]:
        # A local path (relative to the working directory, as poe tasks run from the project
        # root) becomes an absolute file:// URI, so the same file is one link in the warehouse.
        return [_local_path_to_uri(link.strip()) for link in links]

    @field_validator("user_full_name")
    @classmethod
    def _folded_spaces(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return " ".join(value.split())
