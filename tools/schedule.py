"""Run pipelines on a schedule: ``python -m tools.schedule [--config configs/schedules.yaml]``.

Every entry (and the pipeline config it names) is validated before the scheduler starts.
The local scheduler then runs until stopped (Ctrl-C), starting ``python -m tools.run`` for
each entry on its cron expression, never two runs of one pipeline at once; ``--native``
registers the entries as ZenML schedules on a stack whose orchestrator supports them.
Outcomes are logged to the console and to ``STATE_DIR/schedules/log.jsonl``; each run's own
output goes to ``STATE_DIR/schedules/<entry>.log``. The ZenML half (native schedules) lives
here, not in the library, which never imports ZenML.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from llm_engineering.configs import load_config
from llm_engineering.configs.schedules import ScheduleEntry, SchedulesConfig
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import PROJECT_ROOT, get_settings
from tools.commands import pipeline_command
from tools.run import PIPELINES, load_pipeline_config, load_reference


def run_command(entry: ScheduleEntry, *, python: str = sys.executable) -> list[str]:
    """The command line that runs ``entry``'s pipeline, tagged as started by the scheduler."""
    return pipeline_command(
        entry.pipeline, trigger="schedule", config=entry.config, overrides=entry.overrides, python=python
    )


def validate_entries(schedules: SchedulesConfig) -> dict[str, object]:
    """Each entry's validated pipeline config, by entry name.

    Raises:
        ConfigError: an unknown pipeline, or a pipeline config that does not validate.
    """
    configs: dict[str, object] = {}
    for entry in schedules.schedules:
        if entry.pipeline not in PIPELINES:
            raise ConfigError(
                f"schedule {entry.name}: unknown pipeline {entry.pipeline!r} (known: {', '.join(sorted(PIPELINES))})"
            )
        path = Path(entry.config) if entry.config else None
        try:
            configs[entry.name] = load_pipeline_config(entry.pipeline, path, entry.overrides)
        except ConfigError as exc:
            raise ConfigError(f"schedule {entry.name}: {exc}") from None
    return configs


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=PROJECT_ROOT / "configs" / "schedules.yaml",
    show_default=True,
)
@click.option("--native", is_flag=True, help="Register native ZenML schedules on the active stack instead.")
@click.option("--for-seconds", type=float, default=None, help="Stop the local scheduler after this long.")
def main(config_path: Path, native: bool, for_seconds: float | None) -> None:
    """Start the scheduler of CONFIG's entries."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        schedules = load_config(SchedulesConfig, config_path)
        pipeline_configs = validate_entries(schedules)
    except ConfigError as exc:
        click.echo(f"config error, nothing was scheduled:\n{exc}", err=True)
        sys.exit(2)
    entries = [entry for entry in schedules.schedules if entry.enabled]
    if native:
        _register_native(entries, pipeline_configs)
        return
    from llm_engineering.application.scheduling import ScheduleRunner, dataset_fingerprint
    from llm_engineering.infrastructure.scheduler import SubprocessLauncher, build_local_scheduler

    state = get_settings().state_dir / "schedules"
    runner = ScheduleRunner(
        launcher=SubprocessLauncher(cwd=PROJECT_ROOT, log_dir=state, command=run_command),
        state_file=state / "state.json",
        log_file=state / "log.jsonl",
        fingerprint=lambda: dataset_fingerprint(get_settings().state_dir / "datasets"),
    )
    scheduler = build_local_scheduler(runner, entries)
    scheduler.start()
    for job in scheduler.get_jobs():
        click.echo(f"scheduled {job.name}: next run {job.next_run_time:%Y-%m-%d %H:%M:%S} UTC")
    deadline = None if for_seconds is None else time.monotonic() + for_seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=True)
    counts = {
        status: sum(o.status == status for o in runner.outcomes)
        for status in ("completed", "failed", "skipped")
    }
    click.echo("scheduler stopped: " + ", ".join(f"{n} {status}" for status, n in counts.items()))


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


def _register_native(entries, pipeline_configs) -> None:
    supported, reason = native_scheduling_support()
    if not supported:
        click.echo(f"native schedules unavailable: {reason}", err=True)
        sys.exit(1)
    for entry in entries:
        pipeline_entry = PIPELINES[entry.pipeline]
        if pipeline_entry.check is not None:
            pipeline_entry.check(pipeline_configs[entry.name])
        pipeline = load_reference(pipeline_entry.pipeline)
        register_native_schedule(entry, pipeline=pipeline, config=pipeline_configs[entry.name])
        click.echo(f"registered native schedule {entry.name}: {entry.pipeline} at {entry.cron!r}")


if __name__ == "__main__":
    main()
