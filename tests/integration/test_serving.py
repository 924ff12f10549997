"""The inference service against a live uvicorn: OpenAI SDK, errors, /rag, suggestions, Poe, upstream backend,
and answering while the feature pipeline writes. Generation is the ``echo`` backend here; the local
twin is in ``test_serving_twin.py``."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import fastapi_poe as fp
import httpx
import openai
import pytest

from llm_engineering.domain.cleaned_documents import embedded_collection
from llm_engineering.domain.decoding import Decoding
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.vector_store import Point
from llm_engineering.serving.app import ServingOptions, create_app
from llm_engineering.serving.backends import EchoBackend, Finished
from llm_engineering.serving.errors import APIError
from llm_engineering.serving.openai_backend import OpenAIBackend
from tests.serving_fixtures import API_KEY, AUTHOR, DemoState, LiveServer, auth, demo_state  # noqa: F401

pytestmark = pytest.mark.integration

QUESTION = "How does Maya Lindqvist choose chunk sizes for retrieval?"


@pytest.fixture(scope="module")
def server(demo_state: DemoState) -> Iterator[LiveServer]:  # noqa: F811
    options = ServingOptions(max_body_bytes=20_000, max_prompt_chars=5_000, max_tokens_limit=512)
    app = create_app(demo_state.settings(poe_access_key="poe-key"), options=options)
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)


def post(server: LiveServer, path: str, body: object, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=auth(), timeout=60, **kwargs)


# -- access ------------------------------------------------------------------------------


def test_health_is_open_and_everything_else_needs_the_key(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    for method, path in [
        ("GET", "/ready"),
        ("GET", "/v1/models"),
        ("POST", "/rag"),
        ("POST", "/v1/chat/completions"),
    ]:
        for headers in ({}, auth("wrong")):
            response = httpx.request(method, f"{server.url}{path}", headers=headers, json={})
            assert response.status_code == 401, (path, response.text)
            assert response.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0).models.list()


def test_ready_reports_model_and_store(server, demo_state):  # noqa: F811
    body = httpx.get(f"{server.url}/ready", headers=auth()).json()
    assert body["status"] == "ready" and body["model"]["ready"] and body["store"]["ready"]
    assert f"{demo_state.chunks} chunks" in body["store"]["detail"]


# -- OpenAI SDK with echo ----------------------------------------------------------------


def test_models_lists_the_twin_and_echo(client):
    ids = {model.id for model in client.models.list()}
    assert {"echo", "llm-twin"} <= ids


def test_openai_sdk_whole_answer_with_citations(client):
    response = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": QUESTION}])
    choice = response.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == QUESTION
    assert choice.finish_reason == "stop"
    assert response.usage.completion_tokens == len(QUESTION.split())
    citations = response.model_extra["citations"]
    assert citations and {c["author"] for c in citations} == {AUTHOR}
    assert any("chunking" in c["link"] for c in citations), citations


def test_openai_sdk_stream_role_first_finish_last_then_usage(client):
    stream = client.chat.completions.create(
        model="echo",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == QUESTION
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in with_choices[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(QUESTION.split())


def test_max_tokens_ends_with_length(client):
    stream = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "one two three four"}], stream=True, max_tokens=2
    )
    chunks = [c for c in stream if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two"
    assert chunks[-1].choices[0].finish_reason == "length"
    whole = client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "one two three four"}],
        max_completion_tokens=3,
        stop=[" four"],
    )
    assert whole.choices[0].message.content == "one two three"


def test_the_raw_stream_ends_with_done(server):
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi there"}], "stream": True}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers=auth()) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0][6:])["citations"] is not None


# -- bad input ---------------------------------------------------------------------------

GOOD = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        ({**GOOD, "model": "gpt-17"}, 404, "model"),
        ({**GOOD, "messages": []}, 400, "messages"),
        ({**GOOD, "messages": [{"role": "system", "content": "only a system prompt"}]}, 400, "user message"),
        ({**GOOD, "temperature": "hot"}, 400, "temperature"),
        ({**GOOD, "max_tokens": "10"}, 400, "max_tokens"),
        ({**GOOD, "stream": "yes"}, 400, "stream"),
        ({**GOOD, "n": 2}, 400, "n must be 1"),
        ({**GOOD, "tools": [{"type": "function"}]}, 400, "'tools' is not supported"),
        ({**GOOD, "logprobs": True}, 400, "logprobs"),
        ({**GOOD, "max_tokens": 100_000}, 400, "max_tokens"),
        ({**GOOD, "messages": [{"role": "user", "content": "x" * 6_000}]}, 400, "characters"),
        ({**GOOD, "messages": [{"role": "wizard", "content": "hi"}]}, 400, "role"),
        ({"messages": GOOD["messages"]}, 400, "model"),
    ],
)
def test_bad_chat_requests_get_openai_shaped_4xx(server, body, status, expected):
    response = post(server, "/v1/chat/completions", body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert expected in error["message"] or expected == error["param"], error


def test_malformed_json_and_oversized_bodies(server):
    response = httpx.post(
        f"{server.url}/v1/chat/completions",
        content=b'{"model": "echo", "messages": [',
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    big = {**GOOD, "messages": [{"role": "user", "content": "y" * 30_000}]}
    response = post(server, "/v1/chat/completions", big)
    assert response.status_code == 413 and "larger than 20000 bytes" in response.json()["error"]["message"]


def test_sdk_raises_on_an_unknown_model(client):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "hi"}])


# -- /rag and suggestions ------------------------------------------------------------------


def test_rag_context_has_the_fields_and_the_author_named_in_the_question(server, demo_state):  # noqa: F811
    response = post(
        server,
        "/rag",
        {"query": "what does maya   LINDQVIST say about chunk sizes?", "k": 3, "generate": False},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] is None and body["author"] == AUTHOR
    assert len(body["context"]) == 3
    for item in body["context"]:
        assert set(item) == {"title", "link", "author", "score", "content"} and item["author"] == AUTHOR
    assert len({(c["link"], c["content"]) for c in body["context"]}) == 3  # de-duplicated
    answered = post(server, "/rag", {"query": "chunk sizes", "k": 2}).json()
    assert answered["answer"] == "chunk sizes"  # echo: the question back


def test_a_stranger_named_in_a_question_is_no_filter_and_no_new_user(server, demo_state):  # noqa: F811
    from llm_engineering.infrastructure.warehouse import connect

    with connect(demo_state.database_host, demo_state.database_name) as warehouse:
        users = warehouse.count(UserDocument)
        body = post(
            server, "/rag", {"query": "What does Ada Lovelace think of chunking?", "generate": False}
        ).json()
        assert body["author"] is None and body["context"]
        assert warehouse.count(UserDocument) == users
    asked = post(server, "/rag", {"query": "chunking", "author": "Ada Lovelace", "generate": False}).json()
    assert asked["context"] == []  # an explicit author the store does not hold matches nothing


def test_rag_rejects_bad_bodies(server):
    for body in (
        {},
        {"query": ""},
        {"query": "x", "k": 0},
        {"query": "x", "k": "3"},
        {"query": "x", "extra": 1},
    ):
        response = post(server, "/rag", body)
        assert response.status_code == 400, (body, response.text)


def test_suggestions_are_built_once_and_filtered_by_author(server, demo_state):  # noqa: F811
    response = httpx.get(
        f"{server.url}/v1/suggestions", params={"author": "maya lindqvist", "n": 3}, headers=auth()
    )
    questions = response.json()["data"]
    assert len(questions) == 3 and all(q.endswith(("?", ".")) for q in questions)
    assert (demo_state.state_dir / "suggestions" / "suggestions.json").is_file()
    none = httpx.get(f"{server.url}/v1/suggestions", params={"author": "Nobody Here"}, headers=auth()).json()
    assert none["data"] == []
    assert httpx.get(f"{server.url}/v1/suggestions", params={"n": 0}, headers=auth()).status_code == 400


# -- Poe -----------------------------------------------------------------------------------


def _poe_query(text: str) -> fp.QueryRequest:
    return fp.QueryRequest(
        version="1.2",
        type="query",
        query=[fp.ProtocolMessage(role="user", content=text)],
        user_id="u-1",
        conversation_id="c-1",
        message_id="m-1",
    )


def test_poe_client_gets_meta_text_sources_and_suggested_replies(server):
    async def collect() -> list:
        return [
            message
            async for message in fp.stream_request(
                _poe_query(QUESTION), "poe", api_key="poe-key", base_url=f"{server.url}/", num_tries=1
            )
        ]

    messages = asyncio.run(collect())
    assert isinstance(messages[0], fp.client.MetaMessage) and messages[0].suggested_replies
    text = "".join(m.text for m in messages[1:] if not m.is_suggested_reply)
    assert text.startswith(QUESTION) and "Sources:" in text and "file://" in text
    assert sum(m.is_suggested_reply for m in messages) == 3


def test_poe_settings_key_and_malformed_requests(server):
    settings = httpx.post(
        f"{server.url}/poe", json={"version": "1.2", "type": "settings"}, headers=auth("poe-key")
    )
    assert settings.status_code == 200 and settings.json()["introduction_message"]
    assert httpx.post(f"{server.url}/poe", json={"type": "settings"}, headers=auth()).status_code == 401
    ids = {"version": "1.2", "message_id": "m", "user_id": "u", "conversation_id": "c"}
    for report in (
        {**ids, "type": "report_feedback", "feedback_type": "like"},
        {**ids, "type": "report_reaction", "reaction": "heart"},
        {"version": "1.2", "type": "report_error", "message": "boom", "metadata": {}},
    ):
        response = httpx.post(f"{server.url}/poe", json=report, headers=auth("poe-key"))
        assert response.status_code == 200 and response.json() == {}, report
    for body in ({"type": "nonsense"}, [], {"type": "query"}, {"version": "1.2", "type": "report_feedback"}):
        response = httpx.post(f"{server.url}/poe", json=body, headers=auth("poe-key"))
        assert response.status_code == 400, response.text


# -- errors inside a stream, and an OpenAI-compatible upstream --------------------------------


class FailingBackend(EchoBackend):
    """Echo that breaks after its first piece."""

    kind = "failing"

    async def stream(
        self, model: str, messages: list[dict[str, str]], params: Decoding
    ) -> AsyncIterator[str | Finished]:
        yield "partial"
        raise APIError(500, "the model fell over")


def test_an_error_during_a_stream_is_an_event_before_done(demo_state):  # noqa: F811
    app = create_app(demo_state.settings(), backend=FailingBackend(), rag=False)
    with LiveServer(app) as live:
        body = {"model": "llm-twin", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        with httpx.stream("POST", f"{live.url}/v1/chat/completions", json=body, headers=auth()) as response:
            events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        assert json.loads(events[1])["choices"][0]["delta"]["content"] == "partial"
        assert json.loads(events[-2])["error"]["message"] == "the model fell over" and events[-1] == "[DONE]"
        client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=API_KEY, max_retries=0)
        with pytest.raises(openai.APIError, match="fell over"):
            list(
                client.chat.completions.create(
                    model="llm-twin", messages=[{"role": "user", "content": "hi"}], stream=True
                )
            )


def test_the_openai_backend_streams_from_an_upstream_server(demo_state):  # noqa: F811
    upstream_app = create_app(demo_state.settings(), backend=EchoBackend(), rag=False)
    with LiveServer(upstream_app) as upstream:
        backend = OpenAIBackend(base_url=f"{upstream.url}/v1", api_key=API_KEY, model_id="echo")
        with LiveServer(create_app(demo_state.settings(), backend=backend)) as front:
            client = openai.OpenAI(base_url=f"{front.url}/v1", api_key=API_KEY, max_retries=0)
            assert {"llm-twin", "echo"} <= {m.id for m in client.models.list()}
            whole = client.chat.completions.create(
                model="llm-twin",
                messages=[{"role": "user", "content": "forward me"}],
                extra_body={"rag": False},
            )
            assert whole.choices[0].message.content == "forward me" and whole.usage.completion_tokens == 2
            stream = client.chat.completions.create(
                model="llm-twin", messages=[{"role": "user", "content": "a b c d"}], stream=True, max_tokens=3
            )
            chunks = [c for c in stream if c.choices]
            assert chunks[-1].choices[0].finish_reason == "length"
            # with retrieval on, the upstream gets the twin's prompt: context passages, then the question
            augmented = client.chat.completions.create(
                model="llm-twin", messages=[{"role": "user", "content": QUESTION}], max_tokens=2000
            )
            content = augmented.choices[0].message.content
            assert content.startswith("Use these passages") and content.endswith(QUESTION)
        broken = OpenAIBackend(base_url=f"{upstream.url}/nowhere/v1", api_key=API_KEY, model_id="echo")
        with LiveServer(create_app(demo_state.settings(), backend=broken, rag=False)) as front:
            response = post(front, "/v1/chat/completions", {**GOOD, "model": "llm-twin"})
            assert response.status_code == 502 and "upstream" in response.json()["error"]["message"]


# -- serving while the feature pipeline writes ------------------------------------------------


def test_the_service_answers_while_the_store_is_written_and_sees_new_chunks_after(demo_state, tmp_path):  # noqa: F811
    from llm_engineering.infrastructure.embeddings import default_model_path, load_embedder
    from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore

    state = tmp_path / "state"
    (state / "qdrant").mkdir(parents=True)
    for folder in (demo_state.state_dir / "qdrant").iterdir():
        subprocess.run(["cp", "-a", "--sparse=always", str(folder), str(state / "qdrant")], check=True)
    options = ServingOptions(snapshot_check_seconds=0.2)
    app = create_app(demo_state.settings(state_dir=state), options=options)
    fact = "Zanzibar quokkas audit every embedding twice"
    query = {"query": "zanzibar quokkas audit", "k": 3, "generate": False}
    with LiveServer(app) as live:
        assert fact not in json.dumps(post(live, "/rag", query).json())
        vector = load_embedder(default_model_path()).encode([fact], batch_size=1)[0].tolist()
        with QdrantEdgeStore(state / "qdrant") as writer:  # holds the lock, as a pipeline run does
            name = embedded_collection("posts")
            template = writer.scroll(name, limit=1)[0][0].payload
            writer.upsert(
                name,
                [
                    Point(
                        id="0f9d5c2e-0000-4000-8000-000000000001",
                        vector=vector,
                        payload={**template, "content": fact},
                    )
                ],
            )
            # The refresh finds the write and, once it has settled, tries to copy: the lock stops it.
            deadline = time.monotonic() + 30
            while app.state.services.rag.view.busy_retries == 0:
                assert time.monotonic() < deadline, "no refresh found the store locked"
                time.sleep(0.2)
            for _ in range(5):
                response = post(live, "/rag", query)
                assert response.status_code == 200 and fact not in response.text
        deadline = time.monotonic() + 30
        while fact not in post(live, "/rag", query).text:
            assert time.monotonic() < deadline, "the new chunk never showed up"
            time.sleep(0.3)
    assert not list((state / "serving").glob("snapshots-*/*")), "snapshots are removed at shutdown"
    shutil.rmtree(state, ignore_errors=True)


# -- decoding reaches the backend; hardening ------------------------------------------------


class RecordingBackend(EchoBackend):
    """Writes ``pieces`` words, ``delay`` seconds apart; records every request and every closed stream."""

    kind = "recording"

    def __init__(self, *, pieces: int = 3, delay: float = 0.0) -> None:
        self.pieces, self.delay = pieces, delay
        self.calls: list[tuple[list[dict[str, str]], Decoding]] = []
        self.produced = 0
        self.closed = 0

    async def stream(
        self, model: str, messages: list[dict[str, str]], params: Decoding
    ) -> AsyncIterator[str | Finished]:
        self.calls.append((messages, params))
        try:
            for i in range(self.pieces):
                await asyncio.sleep(self.delay)
                self.produced += 1
                yield f" w{i}"
            yield Finished("stop", 1, self.pieces)
        finally:  # as the local twin cancels its ticket
            self.closed += 1


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_penalties_and_the_client_system_message_reach_the_backend(demo_state):  # noqa: F811
    default = Decoding(max_new_tokens=40, repetition_penalty=1.1, no_repeat_ngram_size=4)
    backend = RecordingBackend()
    app = create_app(
        demo_state.settings(), backend=backend, rag=False, options=ServingOptions(decoding=default)
    )
    with LiveServer(app) as live:
        client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=API_KEY, max_retries=0)
        client.chat.completions.create(
            model="llm-twin",
            messages=[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "hi"}],
            frequency_penalty=0.5,
            presence_penalty=0.25,
            temperature=0.7,
            seed=3,
            extra_body={"no_repeat_ngram_size": 3},
        )
        messages, params = backend.calls[-1]
        assert params == default.model_copy(
            update={"frequency_penalty": 0.5, "presence_penalty": 0.25, "temperature": 0.7, "seed": 3,
                    "no_repeat_ngram_size": 3}
        )  # fmt: skip
        system = messages[0]["content"]
        assert messages[0]["role"] == "system" and system.startswith("You are the writing twin")
        assert system.endswith("\n\nAnswer in French.")  # honoured: appended to the twin's prompt
        assert post(live, "/rag", {"query": "hi", "max_tokens": 7}).status_code == 200
        assert backend.calls[-1][1] == default.model_copy(update={"max_new_tokens": 7})  # /rag: same defaults


def test_model_names_outside_the_registry_are_openai_404s_never_paths(demo_state, tmp_path):  # noqa: F811
    from llm_engineering.model.registry import ModelRegistry, ModelVersion
    from llm_engineering.serving.twin_backend import LocalTwinBackend

    registry = ModelRegistry(tmp_path / "models")
    registry.register(ModelVersion(name="v1-sft", stage="sft", folder=tmp_path / "nowhere", base_model="b"))
    registry.promote("v1-sft", reason="test")
    (tmp_path / "models" / "other.json").write_text("{}")
    backend = LocalTwinBackend(registry=registry)
    with LiveServer(
        create_app(demo_state.settings(), backend=backend, rag=False), ready_timeout=None
    ) as live:
        for name in (
            "../production",
            "../other",
            str(tmp_path / "models" / "production"),
            "v1-sft/../../other",
        ):
            response = post(live, "/v1/chat/completions", {**GOOD, "model": name})
            assert response.status_code == 404, (name, response.text)
            assert response.json()["error"]["code"] == "model_not_found"


def test_the_control_api_is_off_without_a_key_and_refuses_forms_and_publishing(demo_state):  # noqa: F811
    from tools.commands import pipeline_command
    from tools.run import PIPELINES

    open_settings = demo_state.settings(serving_api_key=None)
    app = create_app(
        open_settings, backend=EchoBackend(), rag=False, pipelines=PIPELINES, run_command=pipeline_command
    )
    with LiveServer(app) as live:
        response = httpx.post(f"{live.url}/v1/pipelines/training/runs", json={})
        assert response.status_code == 404 and "SERVING_API_KEY" in response.json()["error"]["message"]
    enabled = create_app(
        demo_state.settings(serving_api_key=None, serving_control_api=True),
        backend=EchoBackend(),
        rag=False,
        pipelines=PIPELINES,
        run_command=pipeline_command,
    )
    with LiveServer(enabled) as live:
        form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}
        for path in ("/v1/pipelines/training/runs", "/v1/pipelines/runs/abc/cancel"):
            response = httpx.post(f"{live.url}{path}", content=b"", headers=form)
            assert response.status_code == 415, response.text
            assert response.json()["error"]["code"] == "unsupported_media_type"
        for overrides in ({"output": {"push_to_hub": True}}, {"output.hub_model_id": "me/twin"}):
            response = httpx.post(f"{live.url}/v1/pipelines/training/runs", json={"overrides": overrides})
            assert response.status_code == 403 and "SERVING_ALLOW_PUBLISHING" in response.text
        assert enabled.state.services.runs.runs == {}  # nothing was started


def test_a_full_queue_answers_429_with_retry_after_then_frees(demo_state):  # noqa: F811
    backend = RecordingBackend(pieces=20, delay=0.1)
    app = create_app(demo_state.settings(), backend=backend, rag=False, options=ServingOptions(max_queue=2))
    body = {**GOOD, "model": "llm-twin", "stream": True}

    async def scenario() -> tuple[list[int], httpx.Response]:
        async with httpx.AsyncClient(base_url=live.url, headers=auth(), timeout=60) as http:

            async def stream() -> int:
                async with http.stream("POST", "/v1/chat/completions", json=body) as response:
                    await response.aread()
                    return response.status_code

            running = [asyncio.create_task(stream()) for _ in range(2)]
            while app.state.services.admission.active < 2:
                await asyncio.sleep(0.02)
            refused = await http.post("/v1/chat/completions", json={**body, "stream": False})
            return list(await asyncio.gather(*running)), refused

    with LiveServer(app) as live:
        statuses, refused = asyncio.run(scenario())
        assert statuses == [200, 200]
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert app.state.services.admission.active == 0
        assert post(live, "/v1/chat/completions", {**GOOD, "model": "llm-twin"}).status_code == 200


def test_a_slow_answer_is_stopped_at_the_timeout(demo_state):  # noqa: F811
    backend = RecordingBackend(pieces=100, delay=0.05)
    options = ServingOptions(request_timeout=0.6)
    app = create_app(demo_state.settings(), backend=backend, rag=False, options=options)
    with LiveServer(app) as live:
        whole = post(live, "/v1/chat/completions", {**GOOD, "model": "llm-twin"})
        assert whole.status_code == 504 and whole.json()["error"]["code"] == "timeout"
        body = {**GOOD, "model": "llm-twin", "stream": True}
        with httpx.stream("POST", f"{live.url}/v1/chat/completions", json=body, headers=auth()) as response:
            events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
        assert json.loads(events[-2])["error"]["code"] == "timeout" and events[-1] == "[DONE]"
        _wait_for(lambda: backend.closed == 2)
        assert backend.produced < 60 and app.state.services.admission.active == 0


def test_decoding_stops_when_the_client_goes_streamed_or_not(demo_state):  # noqa: F811
    backend = RecordingBackend(pieces=400, delay=0.05)
    app = create_app(demo_state.settings(), backend=backend, rag=False)
    with LiveServer(app) as live:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{live.url}/v1/chat/completions",
                json={**GOOD, "model": "llm-twin"},
                headers=auth(),
                timeout=0.5,
            )
        _wait_for(lambda: backend.closed == 1)
        produced = backend.produced
        body = {**GOOD, "model": "llm-twin", "stream": True}
        with httpx.stream("POST", f"{live.url}/v1/chat/completions", json=body, headers=auth()) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")  # the role chunk; then hang up
        _wait_for(lambda: backend.closed == 2)
        time.sleep(0.5)
        assert backend.produced - produced < 100  # of 400: decoding stopped with the client
        assert app.state.services.admission.active == 0


class BrokenBackend(EchoBackend):
    """Fails where no handler expects it (a bug, not an APIError)."""

    kind = "broken"

    def models(self):
        raise RuntimeError("boom in /very/secret/path")

    async def stream(self, model, messages, params):
        raise KeyError("secret-key-name")
        yield  # pragma: no cover


def test_an_unexpected_error_is_an_openai_500_with_a_request_id_and_is_logged(demo_state, caplog):  # noqa: F811
    app = create_app(demo_state.settings(), backend=BrokenBackend(), rag=False)
    with LiveServer(app, ready_timeout=None) as live:
        for method, path, body in (
            ("GET", "/v1/models", None),
            ("POST", "/v1/chat/completions", {**GOOD, "model": "llm-twin"}),
        ):
            response = httpx.request(method, f"{live.url}{path}", json=body, headers=auth(), timeout=30)
            assert response.status_code == 500, response.text
            error = response.json()["error"]
            assert error["type"] == "server_error" and error["code"] == "internal_error"
            request_id = response.headers["X-Request-ID"]
            assert request_id in error["message"] and "secret" not in response.text
            assert any(request_id in record.getMessage() for record in caplog.records)


def test_penalties_change_what_the_local_twin_writes(demo_state, tmp_path):  # noqa: F811
    from llm_engineering.model.registry import ModelRegistry, ModelVersion
    from tests.tiny_model import build_tiny_causal_lm

    settings = demo_state.settings(twin_backend="local", state_dir=tmp_path / "state")
    registry = ModelRegistry(settings.models_dir)
    folder = build_tiny_causal_lm(tmp_path / "tiny", seed=0)
    registry.register(ModelVersion(name="t-sft", stage="sft", folder=folder, base_model="tiny"))
    with LiveServer(create_app(settings, rag=False)) as live:
        client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=API_KEY, max_retries=0)

        def answer(**extra) -> str:
            response = client.chat.completions.create(
                model="llm-twin",
                messages=[{"role": "user", "content": "Hello"}],
                max_tokens=12,
                temperature=0,
                **extra,
            )
            return response.choices[0].message.content

        plain = answer()
        assert plain == answer()  # greedy: the same answer twice
        assert len(set(plain)) < len(plain)  # a random tiny model repeats itself
        assert answer(frequency_penalty=2.0) != plain
        assert answer(presence_penalty=2.0) != plain
        assert answer(extra_body={"no_repeat_ngram_size": 1}) != plain
