"""20 concurrent streaming clients x 10 requests against the live service: 0 errors, every stream
ends properly (role first, one finish_reason, ``data: [DONE]`` last), with retrieval on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.serving.app import create_app
from tests.serving_fixtures import API_KEY, AUTHOR, DemoState, LiveServer, auth, demo_state  # noqa: F401
from tests.tiny_model import build_tiny_causal_lm

pytestmark = pytest.mark.integration

CLIENTS, REQUESTS = 20, 10
QUESTIONS = [
    "Why were my RAG answers wrong?",
    "How do you chunk documents?",
    "What is a feature store for?",
    "How do I fine-tune with LoRA on a laptop?",
    "hello",
]


@pytest.fixture
def live_twin(demo_state: DemoState, tmp_path) -> Iterator[LiveServer]:  # noqa: F811
    # The demo's embedded chunks (retrieval on) and a tiny twin promoted in the registry.
    settings = demo_state.settings(twin_backend="local")
    registry = ModelRegistry(settings.models_dir)
    folder = build_tiny_causal_lm(tmp_path / "tiny-twin", seed=3)
    registry.register(
        ModelVersion(name="run1-dpo", stage="dpo", folder=folder, base_model="tiny", author=AUTHOR)
    )
    registry.promote("run1-dpo", reason="test")
    with LiveServer(create_app(settings)) as live:
        yield live


def _check_stream(lines: list[str]) -> str:
    """Assert the SSE stream is well formed; its finish reason."""
    data = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
    assert data and data[-1] == "[DONE]", data[-3:]
    chunks = [json.loads(item) for item in data[:-1]]
    assert all("error" not in chunk for chunk in chunks), chunks
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    reasons = [
        c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert len(reasons) == 1 and reasons[0] in {"stop", "length"}
    assert chunks[-1]["choices"][0]["finish_reason"] == reasons[0]
    return reasons[0]


def test_twenty_streaming_clients_of_ten_requests_each_get_whole_streams(live_twin: LiveServer) -> None:
    errors: list[str] = []
    reasons: list[str] = []

    async def client(number: int) -> None:
        async with httpx.AsyncClient(base_url=live_twin.url, headers=auth(API_KEY), timeout=120) as http:
            for request in range(REQUESTS):
                body = {
                    "model": "llm-twin",
                    "messages": [{"role": "user", "content": QUESTIONS[(number + request) % len(QUESTIONS)]}],
                    "max_tokens": 12,
                    "stream": True,
                }
                try:
                    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
                        if response.status_code != 200:
                            reason = (await response.aread()).decode()[:200]
                            errors.append(f"client {number}: HTTP {response.status_code}: {reason}")
                            continue
                        lines = [line async for line in response.aiter_lines()]
                    reasons.append(_check_stream(lines))
                except (httpx.HTTPError, AssertionError) as exc:
                    errors.append(f"client {number} request {request}: {type(exc).__name__}: {exc}")

    async def main() -> None:
        await asyncio.gather(*(client(n) for n in range(CLIENTS)))

    asyncio.run(main())

    assert errors == []
    assert len(reasons) == CLIENTS * REQUESTS
