"""The command lines of the project's own entry points, for the library to start as child processes.

The library never names a ``tools`` module: the scheduler (``tools/schedule.py``), the control
API (``tools/serve.py``) and the background API server (``tools/local_infrastructure.py``) are
handed these commands. Every ``python -m tools.…`` line the project starts is written here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def pipeline_command(
    pipeline: str,
    *,
    trigger: str,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    python: str = sys.executable,
) -> list[str]:
    """``python -m tools.run PIPELINE --trigger WHO [--config PATH] [--set KEY=VALUE ...]``."""
    command = [python, "-m", "tools.run", pipeline, "--trigger", trigger]
    if config:
        command += ["--config", str(config)]
    for override in overrides:
        command += ["--set", override]
    return command


def serve_command(python: str = sys.executable) -> tuple[str, ...]:
    """``python -m tools.serve``: the inference service, to which ``--host`` and ``--port`` are added."""
    return (python, "-m", "tools.serve")
