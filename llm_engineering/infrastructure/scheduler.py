"""Schedulers: the local APScheduler process, and native ZenML schedules on stacks that have them.

The local scheduler fires each entry on its cron expression in a worker thread; the
:class:`~llm_engineering.application.scheduling.ScheduleRunner` decides whether to start a run
and records the outcome. Runs are subprocesses of ``python -m tools.run ... --trigger schedule``,
so they are tagged in the dashboard and a crash in one leaves the scheduler running.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_engineering.application.scheduling import ScheduleRunner
from llm_engineering.configs.schedules import ScheduleEntry, cron_fields


def run_command(entry: ScheduleEntry, *, python: str = sys.executable) -> list[str]:
    """The command line that runs ``entry``'s pipeline, tagged as started by the scheduler."""
    command = [python, "-m", "tools.run", entry.pipeline, "--trigger", "schedule"]
    if entry.config:
        command += ["--config", entry.config]
    for override in entry.overrides:
        command += ["--set", override]
    return command


class SubprocessLauncher:
    """Starts each run as ``python -m tools.run`` in ``cwd``, its output appended to a log per entry.

    Args:
        cwd: the project root (configs are resolved against it).
        log_dir: folder of ``<entry>.log`` files.
        command: builds the command line of an entry (default: :func:`run_command`).
    """

    def __init__(self, *, cwd: Path, log_dir: Path, command=run_command) -> None:
        self.cwd = Path(cwd)
        self.log_dir = Path(log_dir)
        self.command = command

    def start(self, entry: ScheduleEntry) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{entry.name}.log").open("ab") as log:
            return subprocess.Popen(
                self.command(entry),
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )


def build_local_scheduler(runner: ScheduleRunner, entries: Sequence[ScheduleEntry]) -> Any:
    """A BackgroundScheduler (UTC) with one cron job per enabled entry; not started.

    ``max_instances`` is above one so that an overlapping tick reaches the runner, which skips it
    and logs why, instead of APScheduler dropping it silently.
    """
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "misfire_grace_time": 30})
    for entry in entries:
        if entry.enabled:
            scheduler.add_job(
                runner.fire,
                CronTrigger(**cron_fields(entry.cron), timezone="UTC"),
                args=[entry],
                id=entry.name,
                name=f"{entry.name} ({entry.pipeline})",
                max_instances=4,
            )
    return scheduler


def native_scheduling_support() -> tuple[bool, str]:
    """Whether the active ZenML stack's orchestrator takes schedules, and a sentence saying why or why not."""
    from zenml.client import Client

    stack = Client().active_stack
    orchestrator = stack.orchestrator
    if orchestrator.config.is_schedulable:
        return True, f"orchestrator {orchestrator.name!r} ({orchestrator.flavor}) supports schedules"
    return False, (
        f"stack {stack.name!r}: orchestrator {orchestrator.name!r} ({orchestrator.flavor}) does not support "
        "schedules; use `poe schedule` (the local scheduler) or a stack with a Kubernetes, Airflow, "
        "Vertex or SageMaker orchestrator"
    )


def register_native_schedule(entry: ScheduleEntry, *, pipeline: Any, config: Any) -> Any:
    """Register ``entry`` as a native ZenML schedule of ``pipeline`` (5-field cron only)."""
    from zenml.config.schedule import Schedule

    if len(entry.cron.split()) != 5:
        raise ValueError(
            f"schedule {entry.name}: native schedules take 5-field cron expressions, not {entry.cron!r}"
        )
    scheduled = pipeline.with_options(
        schedule=Schedule(name=entry.name, cron_expression=entry.cron), tags=["trigger:schedule"]
    )
    return scheduled(config=config)
