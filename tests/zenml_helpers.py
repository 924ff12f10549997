"""Helpers of the tests that run pipelines through ``tools.run`` and read what ZenML stored."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result


def run_cli(*args: str) -> Result:
    """``python -m tools.run ARGS`` in this process (the test session's ZenML store); exceptions propagate."""
    from tools.run import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def artifact_files(steps: dict[str, Any]) -> dict[str, list[bytes]]:
    """Output artifact name -> the bytes of every file the artifact store holds for it, over ``steps``."""
    from zenml.io import fileio

    stored: dict[str, list[bytes]] = {}
    for step_run in steps.values():
        for name, versions in step_run.outputs.items():
            for version in versions:
                for folder, _, files in fileio.walk(version.uri):
                    for file in files:
                        with fileio.open(f"{folder}/{file}", "rb") as handle:
                            stored.setdefault(name, []).append(handle.read())
    return stored
