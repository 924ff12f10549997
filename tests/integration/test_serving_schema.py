"""Schemathesis over the service's OpenAPI spec: generated requests, valid and not, never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from llm_engineering.model.decoding import Decoding
from llm_engineering.serving.app import ServingOptions, create_app
from tests.serving_fixtures import DemoState, LiveServer, auth, demo_state  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live_api(demo_state: DemoState) -> Iterator[LiveServer]:  # noqa: F811
    # No control API here: generated requests must not start pipeline runs.
    app = create_app(
        demo_state.settings(), options=ServingOptions(max_tokens_limit=64, decoding=Decoding(max_new_tokens=16))
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
    assert len(operations) >= 10
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
