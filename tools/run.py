"""Run a pipeline: ``python -m tools.run PIPELINE [--config PATH] [--set KEY=VALUE ...]``.

One table maps each pipeline name to its function, its config model, its default config and
the library check that refuses a run that cannot succeed. The config is read and validated
before ZenML is imported, so a bad file stops in a second with a message naming the key, and no
run starts; the check runs next, before any step (the pipelines themselves are wiring only).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from llm_engineering.configs import load_config
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import PROJECT_ROOT, get_settings


def check_datasets_run(config: Any, *, chained: bool = False) -> None:
    """The dataset run's checks; the feature store is checked only when the run is not chained
    after the feature pipeline (which fills it; the first step checks then)."""
    from llm_engineering.application.datasets.checks import check_dataset_run
    from llm_engineering.infrastructure.vector_stores import build_vector_store

    check_dataset_run(config, settings=get_settings(), open_store=None if chained else build_vector_store)


def check_evaluating_run(config: Any) -> None:
    """The evaluation's plan: refuses missing versions, datasets, author or judge endpoint."""
    from llm_engineering.model.evaluation.plan import plan_evaluation_from_settings

    plan_evaluation_from_settings(config, settings=get_settings())


def check_chained_datasets(config: Any) -> None:
    """A chain's dataset configs against the settings; what needs earlier stages' output is checked
    by each stage's first step."""
    for datasets in (config.instruct_datasets, config.preference_datasets):
        check_datasets_run(datasets, chained=True)


@dataclass(frozen=True)
class PipelineEntry:
    """Where a pipeline, its config model and its default config live ("module:attribute"), and the
    check that refuses a run of it before any step (None: the steps check)."""

    pipeline: str
    config_model: str
    default_config: str
    summary: str
    check: Callable[[Any], None] | None = None


PIPELINES: dict[str, PipelineEntry] = {
    "digital-data-etl": PipelineEntry(
        "pipelines.digital_data_etl:digital_data_etl",
        "llm_engineering.configs.etl:DigitalDataEtlConfig",
        "configs/digital_data_etl_demo.yaml",
        "crawl a person's links into the document warehouse",
    ),
    "feature-engineering": PipelineEntry(
        "pipelines.feature_engineering:feature_engineering",
        "llm_engineering.configs.features:FeatureEngineeringConfig",
        "configs/feature_engineering.yaml",
        "clean, chunk and embed the warehouse into the vector store",
    ),
    "generate-instruct-datasets": PipelineEntry(
        "pipelines.generate_datasets:generate_datasets",
        "llm_engineering.configs.datasets:GenerateDatasetsConfig",
        "configs/generate_instruct_datasets.yaml",
        "build the instruction dataset from the cleaned documents",
        check_datasets_run,
    ),
    "generate-preference-datasets": PipelineEntry(
        "pipelines.generate_datasets:generate_datasets",
        "llm_engineering.configs.datasets:GenerateDatasetsConfig",
        "configs/generate_preference_datasets.yaml",
        "build the preference dataset from the cleaned documents",
        check_datasets_run,
    ),
    "end-to-end-data": PipelineEntry(
        "pipelines.end_to_end_data:end_to_end_data",
        "llm_engineering.configs.end_to_end:EndToEndDataConfig",
        "configs/end_to_end_data.yaml",
        "ETL, features and both datasets chained from one config",
        check_chained_datasets,
    ),
    "training": PipelineEntry(
        "pipelines.training:training",
        "llm_engineering.configs.training:TrainingConfig",
        "configs/training.yaml",
        "fine-tune the twin: SFT then DPO with LoRA",
    ),
    "evaluating": PipelineEntry(
        "pipelines.evaluating:evaluating",
        "llm_engineering.configs.evaluating:EvaluatingConfig",
        "configs/evaluating.yaml",
        "score every model version and promote the best",
        check_evaluating_run,
    ),
    "end-to-end": PipelineEntry(
        "pipelines.end_to_end:end_to_end",
        "llm_engineering.configs.end_to_end:EndToEndConfig",
        "configs/end_to_end.yaml",
        "links to an evaluated, promoted twin: every stage chained from one config",
        check_chained_datasets,
    ),
}


TRIGGERS = ("manual", "schedule", "api")
"""Who can start a run; each run is tagged ``trigger:<who>``."""


def load_reference(reference: str):
    """The object a ``"module:attribute"`` reference names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def load_pipeline_config(
    pipeline: str, path: Path | None = None, overrides: tuple[str, ...] | list[str] = ()
):
    """The validated config of ``pipeline``: its YAML (default: its own) with ``KEY=VALUE`` overrides.

    Raises:
        ConfigError: a missing file, an unknown key or a bad value, named in the message.
    """
    entry = PIPELINES[pipeline]
    return load_config(
        load_reference(entry.config_model),
        path if path is not None else PROJECT_ROOT / entry.default_config,
        overrides,
    )


def _run_named(run_name: str):
    """The run called ``run_name``, or None when ZenML never created it (the pipeline's own checks
    refused the config before any step): then there are no step summaries, and no older run's may
    be shown as this one's."""
    from zenml.client import Client

    try:
        return Client().get_pipeline_run(run_name)
    except KeyError:
        return None


def _failure_report(run_name: str) -> tuple[list[str], str | None]:
    """Step summaries of the run that just failed, and its failed step's own error ("step: message").

    Never raises: the store may be what failed, and the run's own error must still be reported.
    """
    try:
        run = _run_named(run_name)
        if run is None:
            return [], None
        from zenml.client import Client

        failed = None
        for step_name, step_run in Client().get_pipeline_run(run.id).steps.items():
            info = step_run.exception_info
            if str(step_run.status) == "failed" and info is not None and info.message:
                failed = f"{step_name}: {info.message}"
                break
        return step_summaries(run), failed
    except Exception as exc:  # noqa: BLE001 - reported, never raised over the run's own failure
        return [f"(step summaries unavailable: {type(exc).__name__}: {exc})"], None


def step_summaries(run) -> list[str]:
    """The ``summary`` line each step logged as metadata, in step order."""
    from zenml.client import Client

    if run is None:
        return []
    run = Client().get_pipeline_run(run.id)
    lines = []
    for step_name, step_run in run.steps.items():
        summary = step_run.run_metadata.get("summary")
        if summary:
            cached = " (cached: from an earlier run)" if str(step_run.status) == "cached" else ""
            lines.append(f"{step_name}: {summary}{cached}")
    return lines


_EPILOG = "\b\nPipelines:\n" + "\n".join(f"  {name:<30} {entry.summary}" for name, entry in PIPELINES.items())


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.argument("pipeline", type=click.Choice(sorted(PIPELINES)))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config (default: the pipeline's own).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key (dotted keys reach into sections).",
)
@click.option("--no-cache", is_flag=True, help="Run every step even when its inputs are unchanged.")
@click.option("--check", is_flag=True, help="Only validate the config and print it.")
@click.option(
    "--trigger",
    type=click.Choice(TRIGGERS),
    default="manual",
    show_default=True,
    help="Who started the run; the run is tagged trigger:<value> in the dashboard.",
)
def main(
    pipeline: str,
    config_path: Path | None,
    overrides: tuple[str, ...],
    no_cache: bool,
    check: bool,
    trigger: str,
) -> None:
    """Run PIPELINE with its config: one of the names below."""
    entry = PIPELINES[pipeline]
    try:
        config = load_pipeline_config(pipeline, config_path, overrides)
    except ConfigError as exc:
        click.echo(f"config error, nothing was run:\n{exc}", err=True)
        sys.exit(2)
    if check:
        click.echo(config.model_dump_json(indent=2))
        return
    started = time.monotonic()
    pipeline_fn = load_reference(entry.pipeline)
    # A name of our own finds this run (and only this one) if it fails.
    run_name = f"{pipeline_fn.name}-{datetime.now(UTC):%Y_%m_%d-%H_%M_%S_%f}"
    try:
        if entry.check is not None:
            entry.check(config)
        run = pipeline_fn.with_options(
            enable_cache=not no_cache, tags=[f"trigger:{trigger}"], run_name=run_name
        )(config=config)
    except Exception as exc:  # the step's own error, already logged by ZenML with its traceback
        summaries, failed_step = _failure_report(run_name)
        for line in summaries:
            click.echo(line)
        reason = " ".join((failed_step or str(exc)).split()) or type(exc).__name__
        click.echo(f"{pipeline}: run failed after {time.monotonic() - started:.1f}s: {reason}", err=True)
        sys.exit(1)
    for line in step_summaries(run):
        click.echo(line)
    status = getattr(run.status, "value", run.status)
    click.echo(f"{pipeline}: run {run.name} {status} in {time.monotonic() - started:.1f}s")
    if status != "completed":
        sys.exit(1)


if __name__ == "__main__":
    main()
