"""The LLM adapters against real local counterparts: a loopback OpenAI-schema server and a tiny local Llama."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from llm_engineering.domain.dataset import InstructionAnswerSet
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.domain.llm import BudgetExhausted, LLMError, LLMTimeout, MalformedOutput
from llm_engineering.infrastructure.llm import (
    LocalTransformersClient,
    OpenAICompatibleClient,
    build_endpoint_client,
    build_model_client,
    parse_json_object,
)
from llm_engineering.settings import Settings
from tests.fakes import build_tiny_llama
from tests.openai_stub import OpenAIStub, Reply, user_text

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "Say hello."}]


class Answer(BaseModel):
    value: int


def client_for(stub: OpenAIStub, **options) -> OpenAICompatibleClient:
    options.setdefault("request_retries", 0)
    return OpenAICompatibleClient(base_url=stub.base_url, model_id="twin-test", api_key="sk-test", **options)


# -- OpenAI-compatible adapter -----------------------------------------------------------


def test_a_completion_speaks_the_chat_completions_schema():
    with (
        OpenAIStub(lambda body: Reply(content=f"echo: {user_text(body)}", usage=(12, 3))) as stub,
        client_for(stub, temperature=0.2) as client,
    ):
        assert client.complete(HELLO, max_tokens=7) == "echo: Say hello."
    request = stub.requests[0]
    assert request["model"] == "twin-test" and request["messages"] == HELLO
    assert request["max_tokens"] == 7 and request["temperature"] == 0.2
    assert "response_format" not in request
    assert stub.headers[0]["authorization"] == "Bearer sk-test"
    assert client.budget.used == 15 and client.calls == 1


def test_malformed_json_is_sent_back_with_the_error_and_retried():
    answers = iter([Reply("Sure! Here it is: {value: 3}"), Reply('```json\n{"value": 3}\n```')])
    with OpenAIStub(lambda body: next(answers)) as stub, client_for(stub, json_mode=True) as client:
        assert client.complete_json(HELLO, Answer) == Answer(value=3)
    assert len(stub.requests) == 2
    retry = stub.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "Sure! Here it is: {value: 3}"}
    assert "not valid" in retry[-1]["content"] and '"value"' in retry[-1]["content"]
    assert stub.requests[0]["response_format"] == {"type": "json_object"}


def test_json_that_stays_malformed_raises_after_the_retries():
    with (
        OpenAIStub(lambda body: Reply('{"value": "three"}')) as stub,
        client_for(stub, json_retries=2) as client,
        pytest.raises(MalformedOutput, match="no valid Answer JSON after 3 attempts: value") as error,
    ):
        client.complete_json(HELLO, Answer)
    assert len(stub.requests) == 3 and error.value.raw == '{"value": "three"}'


def test_a_slow_answer_times_out():
    with (
        OpenAIStub(lambda body: Reply("late", delay=3)) as stub,
        client_for(stub, timeout_seconds=0.3) as client,
    ):
        started = time.monotonic()
        with pytest.raises(LLMTimeout, match="within 0.3s"):
            client.complete(HELLO)
        assert time.monotonic() - started < 2.5


def test_http_errors_become_llm_errors():
    with (
        OpenAIStub(lambda body: Reply("overloaded", status=500)) as stub,
        client_for(stub) as client,
        pytest.raises(LLMError, match="HTTP 500"),
    ):
        client.complete(HELLO)


def test_the_token_budget_refuses_a_call_that_could_exceed_it():
    with (
        OpenAIStub(lambda body: Reply("ok", usage=(40, 10))) as stub,
        client_for(stub, token_budget=200, default_max_tokens=100) as client,
    ):
        client.complete(HELLO)  # reserves ~105, spends 50
        client.complete(HELLO)  # 50 + 105 <= 200
        with pytest.raises(BudgetExhausted, match="token budget of 200 spent"):
            client.complete(HELLO)
        assert client.budget.used == 100
    assert len(stub.requests) == 2  # the refused call was never sent


def test_concurrency_is_bounded():
    with (
        OpenAIStub(lambda body: Reply("ok", delay=0.15)) as stub,
        client_for(stub, max_concurrency=2) as client,
    ):
        threads = [threading.Thread(target=client.complete, args=(HELLO,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(stub.requests) == 6 and stub.max_in_flight == 2


def test_the_endpoint_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match="set OPENAI_BASE_URL"):
        build_endpoint_client(Settings(_env_file=None))
    with OpenAIStub() as stub:
        settings = Settings(_env_file=None, openai_base_url=stub.base_url, openai_model_id="served-model")
        with build_endpoint_client(settings, request_retries=0) as client:
            assert client.complete(HELLO) == "Say hello."
        assert stub.requests[0]["model"] == "served-model"
        with build_model_client("other-model", settings) as client:
            client.complete(HELLO)
        assert stub.requests[1]["model"] == "other-model"
    with pytest.raises(ImproperlyConfigured, match="not a local folder and no endpoint serves it"):
        build_model_client("other-model", Settings(_env_file=None))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('Here:\n```json\n{"a": [1, 2]}\n```\nDone.', {"a": [1, 2]}),
        ('Answer {"a": "}"} ok', {"a": "}"}),
    ],
)
def test_json_is_found_in_a_chatty_answer(text, value):
    assert parse_json_object(text) == value


# -- local transformers adapter ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def test_the_local_adapter_generates_with_the_chat_template(tiny_llama: Path):
    client = build_model_client(str(tiny_llama), default_max_tokens=6, temperature=0.0)
    assert isinstance(client, LocalTransformersClient) and client.max_concurrency == 1
    messages = [
        {"role": "system", "content": "You write data."},
        {"role": "user", "content": "Write a passage about LoRA"},
    ]
    assert client.prompt_text(messages) == (
        "<|system|> You write data. </s> <|user|> Write a passage about LoRA </s> <|assistant|>"
    )
    first = client.complete(messages)
    assert isinstance(first, str) and client.complete(messages) == first  # greedy: deterministic
    assert 0 < client.budget.used <= 2 * (18 + 6)
    with pytest.raises(MalformedOutput):  # a random model writes no JSON; the retries are made
        client.complete_json(messages, InstructionAnswerSet)
    assert client.calls == 2 + 3


def test_a_model_without_chat_template_gets_a_plain_transcript(tmp_path: Path):
    client = LocalTransformersClient(build_tiny_llama(tmp_path, chat_template=False), default_max_tokens=4)
    assert client.prompt_text(HELLO) == "user: Say hello.\n\nassistant:"
    assert isinstance(client.complete(HELLO), str)


def test_a_missing_model_folder_is_refused(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no model folder"):
        LocalTransformersClient(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LLMError, match="cannot load a causal LM"):
        LocalTransformersClient(tmp_path / "empty").complete(HELLO)


def test_stub_records_json_bodies():
    # The stub itself: a request to an unknown route is a 404 with an OpenAI-style error body.
    import urllib.error
    import urllib.request

    with OpenAIStub() as stub:
        request = urllib.request.Request(f"{stub.base_url}/models", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=5)
        assert error.value.code == 404 and "no route" in json.loads(error.value.read())["error"]["message"]
