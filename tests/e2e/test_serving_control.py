"""The control API: a real pipeline run started over HTTP, run outside the server, followed to completion."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from llm_engineering.domain.documents import PostDocument
from llm_engineering.serving.app import create_app
from tests.serving_fixtures import API_KEY, LiveServer, auth

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def control_server(project_env) -> Iterator[LiveServer]:
    from llm_engineering.settings import get_settings
    from tools.commands import pipeline_command
    from tools.run import PIPELINES
    from tools.serve import zenml_run_status

    settings = get_settings().model_copy(
        update={"serving_api_key": SecretStr(API_KEY), "twin_backend": "echo"}
    )
    app = create_app(
        settings,
        rag=False,
        pipelines=PIPELINES,
        run_command=pipeline_command,
        run_inspector=zenml_run_status,
    )
    with LiveServer(app) as live:
        yield live


def _start(server: LiveServer, name: str, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/pipelines/{name}/runs", json=body, headers=auth(), timeout=60)


def test_a_pipeline_run_started_over_http_completes_with_zenml_status_steps_and_logs(
    control_server, project_env
):
    response = _start(
        control_server,
        "digital-data-etl",
        {"overrides": {"links": ["data/demo/posts/01-shipping-friday.md"]}},
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] == "running" and run["pid"] > 0
    with httpx.stream(
        "GET", f"{control_server.url}/v1/pipelines/runs/{run['id']}/logs", headers=auth(), timeout=600
    ) as logs:
        text = "".join(logs.iter_text())
    assert "digital-data-etl: run" in text and "completed" in text, text[-2000:]
    described = httpx.get(
        f"{control_server.url}/v1/pipelines/runs/{run['id']}", headers=auth(), timeout=120
    ).json()
    assert described["status"] == "completed" and described["returncode"] == 0
    zenml = described["zenml"]
    assert zenml["status"] == "completed" and zenml["name"].startswith("digital_data_etl")
    assert zenml["steps"] and all(step["status"] == "completed" for step in zenml["steps"].values())
    assert any("summary" in step["metadata"] for step in zenml["steps"].values())
    assert project_env.count(PostDocument) == 1
    from zenml.client import Client

    tags = {tag.name for tag in Client().get_pipeline_run(zenml["id"]).tags}
    assert "trigger:api" in tags  # the dashboard tells runs started over HTTP from manual ones


def test_bad_run_requests_are_refused_before_anything_starts(control_server):
    bad_key = _start(control_server, "digital-data-etl", {"overrides": {"crawl": {"retrie": 1}}})
    assert bad_key.status_code == 400 and "retrie" in bad_key.json()["error"]["message"]
    assert _start(control_server, "no-such-pipeline", {}).status_code == 404
    outside = _start(control_server, "digital-data-etl", {"config": "/etc/passwd"})
    assert outside.status_code == 400 and "outside the project" in outside.json()["error"]["message"]
    assert _start(control_server, "digital-data-etl", {"overrides": "links"}).status_code == 400
    publish = _start(control_server, "training", {"overrides": {"output.push_to_hub": True}})
    assert publish.status_code == 403 and "push_to_hub" in publish.json()["error"]["message"]
    assert httpx.get(f"{control_server.url}/v1/pipelines/runs/nope", headers=auth()).status_code == 404


def test_one_training_run_at_a_time_and_a_run_can_be_cancelled(control_server):
    first = _start(control_server, "training", {})
    assert first.status_code == 201, first.text
    second = _start(control_server, "training", {})
    assert second.status_code == 409 and first.json()["id"] in second.json()["error"]["message"]
    cancelled = httpx.post(
        f"{control_server.url}/v1/pipelines/runs/{first.json()['id']}/cancel",
        json={},
        headers=auth(),
        timeout=60,
    ).json()
    assert cancelled["status"] == "cancelled" and cancelled["returncode"] is not None
    third = _start(control_server, "training", {})
    assert third.status_code == 201
    httpx.post(
        f"{control_server.url}/v1/pipelines/runs/{third.json()['id']}/cancel",
        json={},
        headers=auth(),
        timeout=60,
    )
    deadline = time.monotonic() + 30
    while (
        httpx.get(
            f"{control_server.url}/v1/pipelines/runs/{third.json()['id']}", headers=auth(), timeout=60
        ).json()["status"]
        != "cancelled"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)
