"""The local scheduler: an APScheduler process that starts each run as a subprocess.

The scheduler fires each entry on its cron expression in a worker thread; the
:class:`~llm_engineering.application.scheduling.ScheduleRunner` decides whether to start a run
and records the outcome. Runs are subprocesses whose command line the caller passes in
(``tools/schedule.py`` runs the pipeline with ``--trigger schedule``), so they are tagged in the
dashboard and a crash in one leaves the scheduler running. Native ZenML schedules are
registered by ``tools/schedule.py`` itself: the library never imports ZenML.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llm_engineering.application.scheduling import ScheduleRunner
from llm_engineering.configs.schedules import ScheduleEntry, cron_fields


class SubprocessLauncher:
    """Starts each run as a subprocess in ``cwd``, its output appended to a log per entry.

    Args:
        cwd: the project root (configs are resolved against it).
        log_dir: folder of ``<entry>.log`` files.
        command: builds the command line of an entry (``tools/schedule.py``'s runs the pipeline).
    """

    def __init__(self, *, cwd: Path, log_dir: Path, command: Callable[[ScheduleEntry], list[str]]) -> None:
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
