"""The scheduler: cron ticks start real subprocesses, overlapping ticks are skipped, and
``datasets_changed`` entries rerun only after the datasets changed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict

from llm_engineering.application.datasets.storage import save_dataset
from llm_engineering.application.scheduling import ScheduleRunner, dataset_fingerprint
from llm_engineering.configs import load_config
from llm_engineering.configs.schedules import ScheduleEntry, SchedulesConfig
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.infrastructure.scheduler import SubprocessLauncher, build_local_scheduler
from tools.schedule import run_command


def _sleeper(marker: Path, seconds: float):
    """A command builder: each run appends its start and end time to ``marker`` and sleeps in between."""
    code = (
        "import sys, time; p = sys.argv[1]; open(p, 'a').write(f'start {time.time()}\\n'); "
        f"time.sleep({seconds}); open(p, 'a').write(f'end {{time.time()}}\\n')"
    )
    return lambda entry: [sys.executable, "-c", code, str(marker)]


def _runner(tmp_path: Path, command, datasets_root: Path | None = None) -> ScheduleRunner:
    return ScheduleRunner(
        launcher=SubprocessLauncher(cwd=tmp_path, log_dir=tmp_path / "logs", command=command),
        state_file=tmp_path / "state.json",
        log_file=tmp_path / "log.jsonl",
        fingerprint=lambda: dataset_fingerprint(datasets_root or tmp_path / "datasets"),
    )


def _run_scheduler(runner: ScheduleRunner, entries: list[ScheduleEntry], seconds: float) -> None:
    scheduler = build_local_scheduler(runner, entries)
    scheduler.start()
    try:
        time.sleep(seconds)
    finally:
        scheduler.shutdown(wait=True)


def _save(root: Path, dataset_type: str, answers: list[str]) -> None:
    columns = (
        {"instruction": [f"q{i}" for i in range(len(answers))], "output": answers}
        if dataset_type == "instruction"
        else {"prompt": ["p"] * len(answers), "chosen": answers, "rejected": ["meh"] * len(answers)}
    )
    data = DatasetDict({"train": Dataset.from_dict(columns), "test": Dataset.from_dict(columns)})
    save_dataset(data, root=root, dataset_type=dataset_type, card="card", manifest={})


def test_cron_ticks_start_runs_and_skip_overlapping_ones(tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    runner = _runner(tmp_path, _sleeper(marker, 2.2))
    entry = ScheduleEntry(name="every-second", pipeline="feature-engineering", cron="* * * * * *")

    _run_scheduler(runner, [entry], seconds=5.5)

    statuses = [o.status for o in runner.outcomes]
    assert statuses.count("completed") >= 1
    assert statuses.count("skipped") >= 2
    assert all("still going" in o.reason for o in runner.outcomes if o.status == "skipped")
    # Runs never overlapped: every start comes after the previous run's end.
    events = [line.split() for line in marker.read_text().splitlines()]
    kinds = [kind for kind, _ in events]
    assert kinds[: 2 * statuses.count("completed")] == ["start", "end"] * statuses.count("completed")
    times = [float(t) for _, t in events]
    assert times == sorted(times)
    # Every outcome is in the JSON-lines log.
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["status"] for r in logged] == statuses


def test_datasets_changed_entries_rerun_only_after_a_dataset_change(tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    datasets = tmp_path / "datasets"
    runner = _runner(tmp_path, _sleeper(marker, 0.1), datasets)
    entry = ScheduleEntry(
        name="retrain", pipeline="training", cron="* * * * * *", condition="datasets_changed"
    )

    assert runner.fire(entry).reason == "no instruction and preference datasets yet"
    _save(datasets, "instruction", ["one answer", "another"])
    _save(datasets, "preference", ["chosen answer"])
    _run_scheduler(runner, [entry], seconds=3.5)
    completed = [o for o in runner.outcomes if o.status == "completed"]
    assert len(completed) == 1
    assert sum("unchanged" in o.reason for o in runner.outcomes) >= 1

    # Rebuilding identical samples is no change; new samples are.
    _save(datasets, "instruction", ["one answer", "another"])
    assert runner.fire(entry).status == "skipped"
    _save(datasets, "instruction", ["one answer", "another", "a third, new answer"])
    assert runner.fire(entry).status == "completed"
    assert runner.fire(entry).status == "skipped"
    assert marker.read_text().count("start") == 2


def test_a_failed_run_is_retried_on_the_next_tick(tmp_path: Path) -> None:
    datasets = tmp_path / "datasets"
    _save(datasets, "instruction", ["a"])
    _save(datasets, "preference", ["b"])
    runner = _runner(tmp_path, lambda entry: [sys.executable, "-c", "raise SystemExit(3)"], datasets)
    entry = ScheduleEntry(name="retrain", pipeline="training", cron="0 3 * * 0", condition="datasets_changed")

    first = runner.fire(entry)
    assert (first.status, first.reason) == ("failed", "exit code 3")
    assert runner.fire(entry).status == "failed"  # not remembered as done: tried again


def test_run_command_tags_the_run_as_scheduled() -> None:
    entry = ScheduleEntry(
        name="etl",
        pipeline="digital-data-etl",
        config="configs/x.yaml",
        overrides=["crawl.force=true"],
        cron="0 2 * * *",
    )
    assert run_command(entry, python="py") == [
        "py", "-m", "tools.run", "digital-data-etl", "--trigger", "schedule",
        "--config", "configs/x.yaml", "--set", "crawl.force=true",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("schedules: [{name: a, pipeline: training, cron: '61 * * * *'}]", "cron '61 * * * *'"),
        ("schedules: [{name: a, pipeline: training, cron: '* *'}]", "expected 5 fields"),
        (
            "schedules: [{name: a, pipeline: training, cron: '0 * * * *', when: x}]",
            "schedules.0.when: unknown key",
        ),
        (
            "schedules: [{name: a, pipeline: training, cron: '0 * * * *'}, {name: a, pipeline: evaluating, cron: '0 * * * *'}]",
            "a repeated",
        ),
    ],
)
def test_bad_schedules_are_refused_with_the_key(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message.replace("*", r"\*")):
        load_config(SchedulesConfig, path)


def test_the_shipped_schedules_validate_with_their_pipeline_configs() -> None:
    from tools.schedule import validate_entries

    schedules = load_config(SchedulesConfig, Path("configs/schedules.yaml"))
    assert set(validate_entries(schedules)) == {entry.name for entry in schedules.schedules}


def test_an_unknown_pipeline_stops_the_scheduler_before_it_starts(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "schedules.yaml"
    path.write_text("schedules: [{name: a, pipeline: trainig, cron: '0 * * * *'}]")
    result = subprocess.run(
        [sys.executable, "-m", "tools.schedule", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown pipeline 'trainig'" in result.stderr


def test_native_schedules_are_refused_on_the_local_stack_with_the_reason(tmp_path: Path) -> None:
    from tools.schedule import native_scheduling_support

    supported, reason = native_scheduling_support()
    assert not supported
    assert "does not support schedules" in reason and "poe schedule" in reason

    path = tmp_path / "schedules.yaml"
    path.write_text("schedules: [{name: a, pipeline: feature-engineering, cron: '0 2 * * *'}]")
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "tools.schedule", "--config", str(path), "--native"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "native schedules unavailable" in result.stderr
