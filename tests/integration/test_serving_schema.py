"""Schemathesis over the whole OpenAPI spec, with an API key set: generated requests, valid and not,
never get a 5xx (chat, /rag, Poe, suggestions, Markdown, health and the control API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from llm_engineering.domain.decoding import Decoding
from llm_engineering.serving.app import ServingOptions, create_app
from tests.serving_fixtures import DemoState, LiveServer, auth, demo_state  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live_api(demo_state: DemoState) -> Iterator[LiveServer]:  # noqa: F811
    # The control API is on (a key is set) with an empty pipeline table: every route is exercised,
    # and no generated request can start a pipeline run.
    app = create_app(
        demo_state.settings(),
        pipelines={},
        options=ServingOptions(max_tokens_limit=64, decoding=Decoding(max_new_tokens=16)),
    )
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def api_schema(live_api: LiveServer):
    return schemathesis.openapi.from_url(f"{live_api.url}/openapi.json", headers=auth())


def test_no_generated_request_gets_a_server_error(api_schema, live_api):
    """Every operation, up to 12 generated requests each (schemathesis's pytest loader is not used:
    its lazy fixture support breaks on this pytest version)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    assert {"/v1/pipelines/{name}/runs", "/v1/markdown", "/poe"} <= {op.path for op in operations}
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            response = case.call_and_validate(headers=auth(), checks=[not_a_server_error], timeout=60)
            statuses.append(response.status_code)

        check()
    assert len(statuses) > 5 * len(operations)
    assert {200, 400} <= set(statuses)  # valid requests answered, invalid ones refused
