"""The dataset pipeline's work store: its steps hand on a small reference, never the corpus text.

Each stage's report (extracts, samples, filtered samples) is written once as JSON under
``<root>/<kind>/<digest>.json``, where the digest is the SHA-256 of the report without its
timings: a rerun on unchanged documents rewrites the same file instead of adding one, and the
ZenML artifact store only keeps the :class:`WorkRef` (kind, digest, item count, summary line).
The newest ``keep`` files of each kind are kept; older ones are deleted, so the folder stays
bounded however often the pipeline runs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from llm_engineering.domain.exceptions import LLMTwinError

ReportT = TypeVar("ReportT", bound=BaseModel)

TIMINGS = {"seconds", "upstream_seconds"}  # not part of a report's identity
DEFAULT_KEEP = 8


class MissingWorkError(LLMTwinError):
    """A reference points at a report the work store no longer holds."""


class WorkRef(BaseModel):
    """What a dataset step passes to the next one: where its report is, and how big it is.

    Attributes:
        kind: the stage (``extracts``, ``samples``, ``filtered``).
        digest: SHA-256 of the report without its timings; names the file.
        items: extracts or samples in the report.
        summary: the report's one-line summary.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    digest: str
    items: int
    summary: str


def report_digest(report: BaseModel) -> str:
    """SHA-256 of the report's JSON without its timings: the same content, the same digest."""
    exclude = TIMINGS & set(type(report).model_fields)
    return hashlib.sha256(report.model_dump_json(exclude=exclude).encode("utf-8")).hexdigest()


class WorkStore:
    """Content-addressed JSON files of the dataset pipeline's intermediate reports.

    Args:
        root: the folder (``STATE_DIR/datasets/work`` by default).
        keep: the newest files kept per kind.
    """

    def __init__(self, root: Path, *, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.root = Path(root)
        self.keep = keep

    def _path(self, kind: str, digest: str) -> Path:
        return self.root / kind / f"{digest}.json"

    def put(self, report: BaseModel, *, kind: str, items: int, summary: str) -> WorkRef:
        """Write ``report`` (atomically) and return the reference the next step receives."""
        digest = report_digest(report)
        path = self._path(kind, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(report.model_dump_json(), encoding="utf-8")
        os.replace(temporary, path)  # the newest write, so its timings are this run's
        self._prune(kind, current=path)
        return WorkRef(kind=kind, digest=digest, items=items, summary=summary)

    def get(self, ref: WorkRef, report_type: type[ReportT]) -> ReportT:
        """Read the report ``ref`` points at.

        Raises:
            MissingWorkError: the file is gone (pruned, or the state folder was wiped).
        """
        path = self._path(ref.kind, ref.digest)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MissingWorkError(
                f"the {ref.kind} report {ref.digest[:12]} is no longer in the work store {self.root}: "
                "rerun the dataset pipeline with --no-cache"
            ) from None
        return report_type.model_validate_json(text)

    def _prune(self, kind: str, *, current: Path) -> None:
        files = sorted(
            (p for p in (self.root / kind).glob("*.json") if p != current),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for stale in files[self.keep - 1 :]:
            stale.unlink(missing_ok=True)


def work_store(state_dir: Path) -> WorkStore:
    """The work store of a state folder: ``<state_dir>/datasets/work``."""
    return WorkStore(Path(state_dir) / "datasets" / "work")
