"""Soak: 20 clients x 50 requests against the live local twin, streamed and not, a promotion (model swap)
halfway, and 10% of the clients hanging up mid-stream. Zero 5xx, every finished stream well formed, the
process's thread count back to its start and its RSS within 20% of its start after the swap.

Runs in ``poe check`` (marked integration like the other service tests); a tiny two-layer model keeps
it to about a minute on two cores.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import pytest

from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.serving.app import create_app
from llm_engineering.settings import Settings
from tests.serving_fixtures import API_KEY, LiveServer, auth
from tests.tiny_model import build_tiny_causal_lm

pytestmark = pytest.mark.integration

CLIENTS, REQUESTS, MAX_TOKENS = 20, 50, 8
HANGING_UP = {0, 1}  # 10% of the clients drop their streamed requests after the first piece
QUESTIONS = ["How do you chunk documents?", "hello", "What is a feature store for?", "Why LoRA?"]


def _stream_ok(lines: list[str]) -> None:
    """A finished stream: role first, one finish_reason on the last choice chunk, ``[DONE]`` last."""
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


def _whole_ok(body: dict) -> None:
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] in {"stop", "length"}
    assert body["usage"]["completion_tokens"] <= MAX_TOKENS


def _threads() -> int:
    return threading.active_count()


def _rss() -> int:
    return psutil.Process().memory_info().rss


def test_soak_with_a_promotion_and_clients_hanging_up(tmp_path: Path) -> None:
    state = tmp_path / "state"
    registry = ModelRegistry(state / "models")
    for seed in (1, 2):
        folder = build_tiny_causal_lm(tmp_path / f"twin-{seed}", seed=seed)
        registry.register(
            ModelVersion(name=f"run{seed}-dpo", stage="dpo", folder=folder, base_model="tiny", author="Ada")
        )
    registry.promote("run1-dpo", reason="soak start")
    settings = Settings(
        _env_file=None, state_dir=state, twin_backend="local", serving_api_key=API_KEY, qdrant_url=None
    )
    app = create_app(settings, rag=False)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    streams = {"finished": 0, "dropped": 0}
    done = 0
    promoted = asyncio.Event()

    async def ask(http: httpx.AsyncClient, client: int, request: int) -> None:
        nonlocal done
        streamed = request % 2 == 0
        body = {
            "model": "llm-twin",
            "messages": [{"role": "user", "content": QUESTIONS[(client + request) % len(QUESTIONS)]}],
            "max_tokens": MAX_TOKENS,
            "stream": streamed,
        }
        try:
            if not streamed:
                response = await http.post("/v1/chat/completions", json=body)
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    _whole_ok(response.json())
                else:
                    failures.append(f"{client}/{request}: {response.status_code} {response.text[:200]}")
                return
            async with http.stream("POST", "/v1/chat/completions", json=body) as response:
                statuses[response.status_code] += 1
                if response.status_code != 200:
                    failures.append(f"{client}/{request}: {response.status_code}")
                    return
                lines: list[str] = []
                async for line in response.aiter_lines():
                    lines.append(line)
                    if client in HANGING_UP and '"content"' in line and '"role"' not in line:
                        streams["dropped"] += 1
                        return  # leaving the block closes the connection mid-stream
                _stream_ok(lines)
                streams["finished"] += 1
        except (httpx.HTTPError, AssertionError, ValueError) as exc:
            failures.append(f"{client}/{request}: {type(exc).__name__}: {exc}")
        finally:
            done += 1
            if done == CLIENTS * REQUESTS // 2 and not promoted.is_set():
                await asyncio.to_thread(registry.promote, "run2-dpo", reason="soak swap")
                promoted.set()

    async def client(number: int) -> None:
        async with httpx.AsyncClient(base_url=live.url, headers=auth(), timeout=120) as http:
            for request in range(REQUESTS):
                await ask(http, number, request)

    async def warm_up() -> None:
        async with httpx.AsyncClient(base_url=live.url, headers=auth(), timeout=120) as http:
            await asyncio.gather(*(ask(http, 99, n) for n in range(CLIENTS)))

    with LiveServer(app) as live:
        asyncio.run(warm_up())  # worker pools at their working size, the twin loaded
        threads_at_start, rss_at_start = _threads(), _rss()
        statuses.clear()
        streams.update(finished=0, dropped=0)
        done = 0
        started = time.monotonic()

        async def main() -> None:
            await asyncio.gather(*(client(n) for n in range(CLIENTS)))

        asyncio.run(main())
        seconds = time.monotonic() - started
        backend = app.state.services.backend
        assert backend.reloads >= 1 and backend.status()[1].startswith("run2-dpo")  # the swap happened
        deadline = time.monotonic() + 30
        while _threads() > threads_at_start and time.monotonic() < deadline:
            time.sleep(0.5)
        threads_at_end, rss_at_end = _threads(), _rss()
        assert app.state.services.admission.active == 0
    print(
        f"soak: {CLIENTS * REQUESTS} requests in {seconds:.1f}s, statuses {dict(statuses)}, streams {streams}, "
        f"threads {threads_at_start}->{threads_at_end}, RSS {rss_at_start / 2**20:.0f}->{rss_at_end / 2**20:.0f} MiB"
    )
    assert failures == []
    assert not [status for status in statuses if status >= 500]
    assert sum(statuses.values()) == CLIENTS * REQUESTS
    assert streams["dropped"] == len(HANGING_UP) * REQUESTS // 2
    assert streams["finished"] == (CLIENTS - len(HANGING_UP)) * REQUESTS // 2
    assert threads_at_end <= threads_at_start, [t.name for t in threading.enumerate()]
    assert abs(rss_at_end - rss_at_start) <= 0.2 * rss_at_start
