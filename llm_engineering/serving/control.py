"""The control API's runs: pipelines started from HTTP as child processes.

A run is validated in the server (the same ``load_config`` the command line uses, so a bad
key is a 400 naming it before anything starts), then started **outside the server process**
in its own session, its output going to a log file under ``STATE_DIR/serving/runs/``. One
run of a training pipeline at a time: a second gets 409 while the first is alive. A run can
be cancelled (SIGTERM to its process group, SIGKILL after a grace period). ZenML's view of
the run (status, steps, metadata) comes from an ``inspector`` the caller passes in: the
library never imports ZenML (``tools/serve.py`` passes one that asks the ZenML client). The
command line of a run comes from the caller too (``tools/commands.py``'s ``pipeline_command``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llm_engineering.configs import load_config
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.serving.errors import APIError

PUBLISHING_KEYS = frozenset({"push_to_hub", "hub_repo_id", "hub_model_id", "hub_private"})
"""Config keys that publish to a hub: the control API refuses them unless SERVING_ALLOW_PUBLISHING."""

TRAINING_PIPELINES = frozenset({"training", "end-to-end"})
"""Pipelines that train a model: one of them at a time (they compete for all the cores and the GPU)."""

RunInspector = Callable[[str, float], dict[str, Any] | None]
"""``(zenml pipeline name, started after as a UNIX time) -> {"id", "name", "status", "steps", "metadata"}`` or None."""


class PipelineCommand(Protocol):
    """Builds the command line that runs a pipeline (``tools/commands.py``'s ``pipeline_command``)."""

    def __call__(self, pipeline: str, *, trigger: str, config: str, overrides: list[str]) -> list[str]: ...


class PipelineEntryLike(Protocol):
    pipeline: str
    config_model: str
    default_config: str


@dataclass
class Run:
    """One run started by the control API."""

    id: str
    pipeline: str
    config: str
    overrides: dict[str, Any]
    log: Path
    process: subprocess.Popen
    started_at: float = field(default_factory=time.time)
    cancelled: bool = False
    ended_at: float | None = None

    @property
    def status(self) -> str:
        code = self.process.poll()
        if code is None:
            return "cancelling" if self.cancelled else "running"
        if self.ended_at is None:
            self.ended_at = time.time()
        if self.cancelled:
            return "cancelled"
        return "completed" if code == 0 else "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pipeline": self.pipeline,
            "config": self.config,
            "overrides": self.overrides,
            "status": self.status,
            "returncode": self.process.poll(),
            "pid": self.process.pid,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }


def publishing_paths(values: Any, prefix: str = "") -> list[str]:
    """Dotted paths in ``values`` (nested dicts, dotted keys) whose last key is a publishing setting."""
    found: list[str] = []
    if isinstance(values, Mapping):
        for key, value in values.items():
            path = f"{prefix}{key}"
            if str(key).rsplit(".", 1)[-1] in PUBLISHING_KEYS:
                found.append(path)
            found += publishing_paths(value, f"{path}.")
    elif isinstance(values, list):
        for index, value in enumerate(values):
            found += publishing_paths(value, f"{prefix}{index}.")
    return found


def _at(values: Any, path: str) -> Any:
    for part in path.split("."):
        values = values[int(part)] if isinstance(values, list) else values[part]
    return values


def _load(reference: str) -> Any:
    import importlib

    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


class PipelineRuns:
    """Starts, tracks, streams and cancels pipeline runs.

    Args:
        pipelines: the ``tools/run.py`` table (name -> entry with ``pipeline``, ``config_model``, ``default_config``).
        command: the command line of a run (see :class:`PipelineCommand`).
        project_root: where runs start and config paths are resolved.
        runs_dir: where run logs go.
        inspector: ZenML's view of a run (see :data:`RunInspector`); None: process status only.
        allow_publishing: whether a run may publish (``push_to_hub``, hub ids); off by default.
    """

    def __init__(
        self,
        pipelines: Mapping[str, PipelineEntryLike],
        *,
        command: PipelineCommand,
        project_root: Path,
        runs_dir: Path,
        inspector: RunInspector | None = None,
        allow_publishing: bool = False,
    ) -> None:
        self.pipelines = pipelines
        self.allow_publishing = allow_publishing
        self.project_root = Path(project_root)
        self.runs_dir = Path(runs_dir)
        self.inspector = inspector
        self.command = command
        self.runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    def _config_path(self, name: str, config: str | None) -> Path:
        path = Path(config) if config else Path(self.pipelines[name].default_config)
        path = (self.project_root / path).resolve() if not path.is_absolute() else path.resolve()
        if not path.is_relative_to(self.project_root.resolve()):
            raise APIError(400, f"config {config!r} is outside the project", param="config")
        return path

    def start(self, name: str, *, config: str | None, overrides: Mapping[str, Any]) -> Run:
        """Validate the config and start the run; blocking (call it in a thread).

        Raises:
            APIError: 404 unknown pipeline, 400 invalid config, 409 a training run is active.
        """
        if name not in self.pipelines:
            known = ", ".join(sorted(self.pipelines))
            raise APIError(
                404, f"no pipeline {name!r} (known: {known})", param="name", code="pipeline_not_found"
            )
        entry = self.pipelines[name]
        path = self._config_path(name, config)
        if not self.allow_publishing:
            touched = publishing_paths(overrides)
            if touched:
                raise APIError(
                    403,
                    f"overrides may not set publishing settings ({', '.join(touched)}) over the API; "
                    "set SERVING_ALLOW_PUBLISHING=true on the server to allow it",
                    param="overrides",
                    code="publishing_not_allowed",
                )
        sets = [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
        try:
            loaded = load_config(_load(entry.config_model), path, sets)
        except ConfigError as exc:
            raise APIError(
                400, f"config error, nothing was run: {exc}", param="config", code="invalid_config"
            ) from exc
        if not self.allow_publishing:
            dumped = loaded.model_dump() if hasattr(loaded, "model_dump") else {}
            pushing = [p for p in publishing_paths(dumped) if p.endswith("push_to_hub") and _at(dumped, p)]
            if pushing:
                raise APIError(
                    403,
                    f"the config {path.name} publishes ({', '.join(pushing)}); runs over the API may not "
                    "unless SERVING_ALLOW_PUBLISHING=true",
                    param="config",
                    code="publishing_not_allowed",
                )
        with self._lock:
            if name in TRAINING_PIPELINES:
                active = [
                    r
                    for r in self.runs.values()
                    if r.pipeline in TRAINING_PIPELINES and r.process.poll() is None
                ]
                if active:
                    raise APIError(
                        409, f"training run {active[0].id} is still running; wait or cancel it", code="busy"
                    )
            run_id = uuid.uuid4().hex[:16]
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            log = self.runs_dir / f"{run_id}.log"
            command = self.command(name, trigger="api", config=str(path), overrides=sets)
            with open(log, "wb") as output:
                process = subprocess.Popen(
                    command,
                    cwd=self.project_root,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group: cancel reaches its children
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            run = Run(run_id, name, str(path), dict(overrides), log, process)
            self.runs[run_id] = run
        return run

    def get(self, run_id: str) -> Run:
        run = self.runs.get(run_id)
        if run is None:
            raise APIError(404, f"no run {run_id!r}", param="id", code="run_not_found")
        return run

    def describe(self, run_id: str) -> dict[str, Any]:
        """The run's process status and, when an inspector is set, ZenML's status, steps and metadata (blocking)."""
        run = self.get(run_id)
        record = run.to_json()
        record["zenml"] = None
        if self.inspector is not None:
            pipeline_name = self.pipelines[run.pipeline].pipeline.partition(":")[2]
            try:
                record["zenml"] = self.inspector(pipeline_name, run.started_at)
            except Exception as exc:  # ZenML unreachable: the process status still answers
                record["zenml"] = {"error": f"{type(exc).__name__}: {exc}"}
        return record

    def cancel(self, run_id: str, *, grace_seconds: float = 10.0) -> Run:
        """Stop the run's process group (SIGTERM, then SIGKILL after ``grace_seconds``); blocking."""
        run = self.get(run_id)
        if run.process.poll() is not None:
            return run
        run.cancelled = True
        try:
            os.killpg(run.process.pid, signal.SIGTERM)
            run.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait(timeout=grace_seconds)
        except ProcessLookupError:
            pass
        return run

    async def follow_log(self, run_id: str, *, poll_seconds: float = 0.25) -> AsyncIterator[bytes]:
        """The run's log from the start, then what it appends, until the process has ended."""
        run = self.get(run_id)
        with open(run.log, "rb") as handle:
            while True:
                chunk = await asyncio.to_thread(handle.read, 65536)
                if chunk:
                    yield chunk
                    continue
                if run.process.poll() is not None:
                    rest = await asyncio.to_thread(handle.read)
                    if rest:
                        yield rest
                    return
                await asyncio.sleep(poll_seconds)
