"""Benchmark: does the evaluation table depend on the runtime that answers?

Runs the evaluation pipeline on a state folder twice, once with each runtime (ONNX Runtime on
the int8 export, the CPU default, and transformers in float32), promotion off, and prints every
version x arm x metric side by side with its bootstrap 95% interval and whether the two
intervals overlap. Run it after ``poe demo`` (the demo's state) or on any state with a trained
twin:

    python -m bench.runtime_agreement [--state .state] [--set KEY=VALUE ...]

(``poe bench-runtime-agreement``). Extra ``--set`` overrides go to both evaluation runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from llm_engineering.settings import PROJECT_ROOT

RUNTIMES = ("onnx", "transformers")


def _evaluate(state: Path, runtime: str, overrides: tuple[str, ...]) -> tuple[dict, float]:
    """One evaluation run with ``runtime``; its results.json and wall seconds."""
    evaluations = state / "evaluation"
    before = set(evaluations.glob("*/results.json")) if evaluations.is_dir() else set()
    args = ["--set", f"generation.runtime={runtime}", "--set", "promotion.enabled=false"]
    for override in overrides:
        args += ["--set", override]
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tools.run", "evaluating", "--no-cache", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "STATE_DIR": str(state)},
        check=True,
    )
    seconds = time.perf_counter() - started
    fresh = sorted(set(evaluations.glob("*/results.json")) - before, key=lambda p: p.stat().st_mtime)
    if not fresh:
        raise click.ClickException(f"the {runtime} evaluation wrote no results.json under {evaluations}")
    return json.loads(fresh[-1].read_text(encoding="utf-8")), seconds


def agreement_rows(first: dict, second: dict) -> list[tuple[str, str, str, float, list, float, list, bool]]:
    """``(version, arm, metric, score_1, interval_1, score_2, interval_2, overlap)`` for every score
    both results hold."""
    other = {(v["name"], v["arm"]): v for v in second["versions"]}
    rows = []
    for version in first["versions"]:
        twin = other.get((version["name"], version["arm"]))
        if twin is None:
            continue
        for metric, score in version["scores"].items():
            if score is None or twin["scores"].get(metric) is None:
                continue
            low_1, high_1 = version["intervals"][metric]
            low_2, high_2 = twin["intervals"][metric]
            overlap = low_1 <= high_2 and low_2 <= high_1
            rows.append(
                (
                    version["name"],
                    version["arm"],
                    metric,
                    score,
                    [low_1, high_1],
                    twin["scores"][metric],
                    [low_2, high_2],
                    overlap,
                )
            )
    return rows


@click.command()
@click.option("--state", type=click.Path(path_type=Path), default=PROJECT_ROOT / ".state", show_default=True)
@click.option("--set", "overrides", multiple=True, help="evaluation override KEY=VALUE (both runs)")
def main(state: Path, overrides: tuple[str, ...]) -> None:
    """Evaluate with each runtime and print where the tables agree."""
    results = {}
    for runtime in RUNTIMES:
        results[runtime], seconds = _evaluate(state.resolve(), runtime, overrides)
        click.echo(f"{runtime}: evaluation in {seconds:.0f}s")
    rows = agreement_rows(results[RUNTIMES[0]], results[RUNTIMES[1]])
    click.echo(f"\n{'version':<36} {'arm':<7} {'metric':<21} {RUNTIMES[0]:<24} {RUNTIMES[1]:<24} agree")
    for name, arm, metric, s1, i1, s2, i2, overlap in rows:
        click.echo(
            f"{name[-36:]:<36} {arm:<7} {metric:<21} "
            f"{s1:7.3f} [{i1[0]:.3f}, {i1[1]:.3f}]  {s2:7.3f} [{i2[0]:.3f}, {i2[1]:.3f}]  "
            f"{'yes' if overlap else 'NO'}"
        )
    agreed = sum(row[-1] for row in rows)
    click.echo(f"\n{agreed} of {len(rows)} scores agree within their 95% intervals")


if __name__ == "__main__":
    main()
