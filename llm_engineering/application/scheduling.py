"""Scheduled runs: start a pipeline when its entry fires, never two runs of one pipeline at once,
retrain only on changed datasets, and log every decision.

The scheduler adapter (APScheduler, ``infrastructure/scheduler.py``) calls :meth:`ScheduleRunner.fire`
on each cron tick; this module decides and records. Runs are started through a
:class:`RunLauncher` (in production a subprocess running the pipeline, its command line given by
``tools/schedule.py``), so a run that crashes cannot take the scheduler down, and a test can
launch any command.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from llm_engineering.configs.schedules import ScheduleEntry

logger = logging.getLogger(__name__)

Status = Literal["completed", "failed", "skipped"]


class RunHandle(Protocol):
    """A started run."""

    def wait(self) -> int:
        """Block until the run ends; its exit code (0: success)."""
        ...


class RunLauncher(Protocol):
    """Starts the run of a schedule entry."""

    def start(self, entry: ScheduleEntry) -> RunHandle: ...


@dataclass
class ScheduleOutcome:
    """What one tick of one entry did."""

    entry: str
    pipeline: str
    status: Status
    reason: str
    fired_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0
    fingerprint: str | None = None

    def line(self) -> str:
        """The one-line log of the outcome."""
        took = f" in {self.seconds:.1f}s" if self.status != "skipped" else ""
        return f"schedule {self.entry} ({self.pipeline}): {self.status}{took}: {self.reason}"


def dataset_fingerprint(datasets_root: Path) -> str | None:
    """Content fingerprint of the newest instruction and preference datasets; None when either is missing.

    Uses the content hash each dataset version records (``generation.json``), not its folder name,
    so rebuilding identical samples does not count as a change.
    """
    from llm_engineering.application.datasets.storage import MANIFEST, latest_dataset

    parts = []
    for dataset_type in ("instruction", "preference"):
        folder = latest_dataset(datasets_root, dataset_type)
        if folder is None:
            return None
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        parts.append(f"{dataset_type}={manifest.get('fingerprint') or folder.name}")
    return ";".join(parts)


class ScheduleRunner:
    """Decides, starts and records the runs of schedule entries.

    Args:
        launcher: starts a run and returns its handle.
        state_file: JSON file of each entry's last successful fingerprint (survives restarts).
        log_file: JSON-lines log of every outcome.
        fingerprint: the current dataset fingerprint, for ``datasets_changed`` entries.
    """

    def __init__(
        self,
        *,
        launcher: RunLauncher,
        state_file: Path,
        log_file: Path,
        fingerprint: Callable[[], str | None],
    ) -> None:
        self.launcher = launcher
        self.state_file = Path(state_file)
        self.log_file = Path(log_file)
        self.fingerprint = fingerprint
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.outcomes: list[ScheduleOutcome] = []

    def _lock(self, pipeline: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(pipeline, threading.Lock())

    def _state(self) -> dict[str, dict[str, str]]:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _remember(self, entry: str, fingerprint: str) -> None:
        with self._guard:
            state = self._state()
            state[entry] = {"fingerprint": fingerprint, "at": datetime.now(UTC).isoformat(timespec="seconds")}
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
            tmp.replace(self.state_file)

    def _record(self, outcome: ScheduleOutcome) -> ScheduleOutcome:
        logger.info(outcome.line())
        with self._guard:
            self.outcomes.append(outcome)
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with self.log_file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(outcome)) + "\n")
        return outcome

    def fire(self, entry: ScheduleEntry) -> ScheduleOutcome:
        """One tick of ``entry``: skip, or start its run and wait for it (blocking)."""

        def skipped(reason: str, fingerprint: str | None = None) -> ScheduleOutcome:
            return self._record(
                ScheduleOutcome(entry.name, entry.pipeline, "skipped", reason, fingerprint=fingerprint)
            )

        current: str | None = None
        if entry.condition == "datasets_changed":
            current = self.fingerprint()
            if current is None:
                return skipped("no instruction and preference datasets yet")
            if self._state().get(entry.name, {}).get("fingerprint") == current:
                return skipped("datasets unchanged since its last successful run", current)
        lock = self._lock(entry.pipeline)
        if not lock.acquire(blocking=False):
            return skipped(f"a run of {entry.pipeline} is still going")
        started = datetime.now(UTC)
        try:
            code = self.launcher.start(entry).wait()
        except OSError as exc:
            code, reason = -1, f"could not start: {exc}"
        else:
            reason = "exit code 0" if code == 0 else f"exit code {code}"
        finally:
            lock.release()
        seconds = (datetime.now(UTC) - started).total_seconds()
        if code == 0 and current is not None:
            self._remember(entry.name, current)
        status: Status = "completed" if code == 0 else "failed"
        return self._record(
            ScheduleOutcome(entry.name, entry.pipeline, status, reason, seconds=seconds, fingerprint=current)
        )
