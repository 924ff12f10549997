"""The main job on the shipped demo: ``python -m tools.demo`` (``poe demo``).

1. starts the local services (warehouse, dashboard);
2. runs the ``end_to_end`` pipeline on configs/end_to_end.yaml: ETL -> features -> datasets ->
   SFT -> DPO -> evaluation -> promotion (a second run redoes only what changed);
3. starts the inference service in the background (it keeps running; `poe local-infrastructure-down`
   stops it) and asks the twin one question through its OpenAI-compatible API;
4. prints the answer with its sources, the evaluation table, the URLs, and how long it took.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import click

from llm_engineering.infrastructure.local_services import ServiceError
from llm_engineering.settings import PROJECT_ROOT, get_settings

DEFAULT_QUESTION = "Why were my RAG answers wrong, and what did I change?"


def _run_pipeline(config: Path, overrides: tuple[str, ...]) -> None:
    command = [sys.executable, "-m", "tools.run", "end-to-end", "--config", str(config)]
    for override in overrides:
        command += ["--set", override]
    if subprocess.run(command, cwd=PROJECT_ROOT, check=False).returncode != 0:
        raise click.ClickException("the end-to-end pipeline failed (its reason is printed above)")


def ask_twin(
    base_url: str, question: str, *, api_key: str | None, max_tokens: int = 200
) -> tuple[str, list[dict]]:
    """Stream the twin's answer to ``question`` through the OpenAI-compatible API; returns it and its sources."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{base_url}/v1", api_key=api_key or "not-needed", timeout=300)
    stream = client.chat.completions.create(
        model="llm-twin",
        messages=[{"role": "user", "content": question}],
        stream=True,
        max_tokens=max_tokens,
    )
    parts: list[str] = []
    citations: list[dict] = []
    for chunk in stream:
        extra = chunk.model_extra or {}
        citations = extra.get("citations") or citations
        for choice in chunk.choices:
            if choice.delta.content:
                parts.append(choice.delta.content)
                click.echo(choice.delta.content, nl=False)
    click.echo()
    return "".join(parts), citations


def latest_evaluation_table(state_dir: Path) -> str | None:
    """The newest evaluation's table (versions x metrics), or None before any evaluation."""
    from llm_engineering.model.evaluation.report import format_table
    from llm_engineering.model.evaluation.results import EvaluationResults

    runs = sorted((state_dir / "evaluation").glob("*/results.json"))
    if not runs:
        return None
    return format_table(EvaluationResults.model_validate_json(runs[-1].read_text(encoding="utf-8")))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=PROJECT_ROOT / "configs" / "end_to_end.yaml",
    show_default=True,
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key of the config.")
@click.option("--question", default=DEFAULT_QUESTION, show_default=True, help="What to ask the twin.")
@click.option("--skip-pipeline", is_flag=True, help="Only start the service and ask (the twin exists).")
def main(config: Path, overrides: tuple[str, ...], question: str, skip_pipeline: bool) -> None:
    """Run the end-to-end pipeline on the demo, serve the twin and ask it a question."""
    from tools.local_infrastructure import start_services

    started = time.monotonic()
    settings = get_settings()
    try:
        start_services(with_zenml=True, with_api=False)
        if not skip_pipeline:
            _run_pipeline(config, overrides)
        click.echo("starting the inference service ...")
        (api,) = start_services(with_zenml=False, with_api=True, with_warehouse=False)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"\nQ: {question}\nA: ", nl=False)
    _, citations = ask_twin(api.address, question, api_key=_secret(settings.serving_api_key))
    if citations:
        click.echo("Sources:")
        for citation in citations:
            click.echo(f"  - {citation.get('title') or citation.get('link')} ({citation.get('link')})")
    table = latest_evaluation_table(settings.state_dir)
    if table:
        click.echo(f"\nEvaluation (newest run):\n{table}")
    click.echo(f"\nChat page:  {api.address}/")
    click.echo(f"Dashboard:  http://127.0.0.1:{settings.zenml_server_port}")
    click.echo(f"demo finished in {(time.monotonic() - started) / 60:.1f} min")


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


if __name__ == "__main__":
    main()
