"""The main job on the shipped demo: ``python -m tools.demo`` (``poe demo``).

1. starts the local services (warehouse, dashboard);
2. runs the ``end_to_end`` pipeline on configs/end_to_end.yaml: ETL -> features -> datasets ->
   SFT -> DPO -> evaluation -> promotion (a second run redoes only what changed);
3. starts the inference service in the background (it keeps running; `poe local-infrastructure-down`
   stops it) and asks the promoted twin one question through its OpenAI-compatible API;
4. prints the streamed answer with its sources, which author a question naming the demo's second
   author searches (``/rag``, no generation), the evaluation table, the URLs, and how long it took.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from llm_engineering.infrastructure.local_services import ServiceError
from llm_engineering.settings import PROJECT_ROOT, get_settings

DEFAULT_QUESTION = "Why were your RAG assistant's answers wrong, and what did you change to fix them?"
"""Asked of Maya's twin: it names its topic, and her writing holds the answer (a post-mortem)."""
NAMED_QUESTION = "What does Theo Castellanos say about choosing beta for DPO?"
"""A question naming the demo's second author: serving searches his writing, not the twin's."""


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
    """The newest evaluation's table (versions x metrics), or None before any evaluation.

    The evaluation's own report formats it; a results file that report cannot read (written by
    another version of the project) is still shown, as its versions and their numeric scores.
    """
    runs = list((state_dir / "evaluation").glob("*/results.json"))
    if not runs:
        return None
    newest = max(runs, key=lambda path: path.stat().st_mtime)
    text = newest.read_text(encoding="utf-8")
    try:
        from llm_engineering.model.evaluation.report import format_table
        from llm_engineering.model.evaluation.results import EvaluationResults

        return format_table(EvaluationResults.model_validate_json(text))
    except Exception:  # noqa: BLE001 - any mismatch falls back to the generic view below
        return generic_table(json.loads(text))


def _number(value: Any) -> str | None:
    """A score as text: a number, or the ``value`` (with its interval) of a score object."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return f"{value:.3f}"
    if isinstance(value, dict):
        point = next((value[k] for k in ("value", "mean", "score", "point") if k in value), None)
        low, high = value.get("low", value.get("lower")), value.get("high", value.get("upper"))
        text = _number(point)
        if text and isinstance(low, (int, float)) and isinstance(high, (int, float)):
            text += f" [{low:.3f}, {high:.3f}]"
        return text
    return None


def generic_table(results: dict[str, Any]) -> str:
    """Rows of ``results["versions"]`` (``name`` or ``key``, and ``scores``) as an aligned table."""
    from llm_engineering.model.evaluation.report import aligned_table

    rows: list[tuple[str, dict[str, str]]] = []
    for version in results.get("versions") or []:
        if not isinstance(version, dict):
            continue
        name = str(version.get("key") or version.get("name") or "?")
        scores = {m: t for m, v in (version.get("scores") or {}).items() if (t := _number(v)) is not None}
        rows.append((name, scores))
    metrics = sorted({metric for _, scores in rows for metric in scores})
    table = [["version", *metrics], *([name, *(s.get(m, "-") for m in metrics)] for name, s in rows)]
    lines = [aligned_table(table)]
    if results.get("production"):
        lines.append(f"production: {results['production']}")
    return "\n".join(lines)


def served_version(base_url: str, *, api_key: str | None) -> str | None:
    """The model version the service answers with, from ``/ready`` ("<version> loaded from <folder>")."""
    import httpx

    try:
        response = httpx.get(f"{base_url}/ready", headers=_auth(api_key), timeout=30)
        detail = str(response.json().get("model", {}).get("detail", ""))
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    name, found, _ = detail.partition(" loaded from ")
    return name.strip() or None if found else None


def named_author_sources(
    base_url: str, question: str, *, api_key: str | None, k: int = 3
) -> tuple[str | None, list[dict]]:
    """Whose writing ``/rag`` searches for ``question``, and the passages it finds (no generation)."""
    import httpx

    response = httpx.post(
        f"{base_url}/rag",
        json={"query": question, "k": k, "generate": False},
        headers=_auth(api_key),
        timeout=120,
    )
    response.raise_for_status()
    body = response.json()
    return body.get("author"), body.get("context", [])


def _auth(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


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
    api_key = _secret(settings.serving_api_key)
    version = served_version(api.address, api_key=api_key)
    click.echo(f"\nthe twin: {version or 'llm-twin'} (the promoted version, else the newest)")
    click.echo(f"Q: {question}\nA: ", nl=False)
    _, citations = ask_twin(api.address, question, api_key=api_key)
    if citations:
        click.echo("Sources:")
        for citation in citations:
            click.echo(f"  - {citation.get('title') or citation.get('link')} ({citation.get('link')})")
    try:
        author, passages = named_author_sources(api.address, NAMED_QUESTION, api_key=api_key)
    except Exception as exc:  # noqa: BLE001 - a showcase, never worth failing the demo for
        click.echo(f"\n(/rag did not answer: {exc})")
    else:
        click.echo("\nA question naming another author searches their writing (/rag, no generation):")
        click.echo(f"Q: {NAMED_QUESTION}\n   author filter: {author or 'none'}")
        for passage in passages:
            click.echo(f"  - {passage.get('title') or passage.get('link')} ({passage.get('author')})")
    table = latest_evaluation_table(settings.state_dir)
    if table:
        click.echo(f"\nEvaluation (newest run):\n{table}")
    click.echo(f"\nChat page:  {api.address}/")
    click.echo(f"API docs:   {api.address}/docs")
    click.echo(f"Dashboard:  http://127.0.0.1:{settings.zenml_server_port}")
    click.echo(f"demo finished in {(time.monotonic() - started) / 60:.1f} min")


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


if __name__ == "__main__":
    main()
