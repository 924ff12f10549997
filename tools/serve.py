"""Start the inference service: ``python -m tools.serve [--host 127.0.0.1] [--port 8000]``.

One FastAPI app (``llm_engineering.serving.app``) under uvicorn: OpenAI-compatible chat,
``/rag``, the Poe protocol at ``/poe``, suggestions, the control API and the chat page at
``/``. The backend, keys and stores come from the settings (``TWIN_BACKEND``,
``SERVING_API_KEY``, ``POE_ACCESS_KEY``, ...). The control API is on only with a key
(``SERVING_API_KEY``) or ``SERVING_CONTROL_API=true``; ``SERVING_MAX_QUEUE`` bounds the
generation requests in flight (429 beyond) and ``SERVING_REQUEST_TIMEOUT`` each one's time
(504). The control API reports ZenML's view of each run through :func:`zenml_run_status`,
defined here so the library never imports ZenML.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click


def zenml_run_status(pipeline_name: str, started_after: float) -> dict[str, Any] | None:
    """ZenML's status, steps and metadata of the newest run of ``pipeline_name`` created after ``started_after``."""
    from zenml.client import Client

    client = Client()
    since = datetime.fromtimestamp(started_after - 1, tz=UTC).replace(tzinfo=None)
    try:
        runs = client.list_pipeline_runs(
            pipeline=pipeline_name, sort_by="desc:created", size=5, created=f"gte:{since:%Y-%m-%d %H:%M:%S}"
        )
    except KeyError:  # the pipeline is not registered yet
        return None
    if not runs.items:
        return None
    run = client.get_pipeline_run(runs.items[0].id)

    def plain(metadata: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
            for key, value in metadata.items()
        }

    return {
        "id": str(run.id),
        "name": run.name,
        "status": str(getattr(run.status, "value", run.status)),
        "steps": {
            name: {
                "status": str(getattr(step.status, "value", step.status)),
                "metadata": plain(step.run_metadata),
            }
            for name, step in run.steps.items()
        },
        "metadata": plain(run.run_metadata),
    }


def app_factory():
    """The app with the settings of the environment and the control API (uvicorn ``--factory`` target)."""
    from llm_engineering.serving.app import create_app
    from llm_engineering.settings import get_settings
    from tools.commands import pipeline_command
    from tools.run import PIPELINES

    return create_app(
        get_settings(), pipelines=PIPELINES, run_command=pipeline_command, run_inspector=zenml_run_status
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
@click.option(
    "--torch-threads",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Threads of each torch computation (OMP_NUM_THREADS, unless already set). Retrieval and decoding "
    "run in threads of their own, so one each keeps a small machine from being oversubscribed.",
)
def main(host: str, port: int, log_level: str, torch_threads: int) -> None:
    """Serve the twin: OpenAI-compatible /v1/chat/completions, /rag, /poe, /v1/suggestions, control API, chat page."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", str(torch_threads))  # before torch is imported
    import uvicorn

    uvicorn.run("tools.serve:app_factory", factory=True, host=host, port=port, log_level=log_level)


if __name__ == "__main__":
    main()
