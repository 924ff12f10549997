"""The local twin backend: the batching scheduler against plain ``generate``, the OpenAI SDK on a tiny
twin served from the registry, concurrent requests sharing batches, and a promotion picked up live."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llm_engineering.domain.chat import build_messages, render_prompt
from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.serving.app import create_app
from llm_engineering.serving.batching import BatchScheduler, Finished
from tests.serving_fixtures import API_KEY, AUTHOR, DemoState, LiveServer, demo_state  # noqa: F401
from tests.tiny_model import build_tiny_causal_lm

pytestmark = pytest.mark.integration

QUESTIONS = [
    "hello",
    "Write a paragraph about feature stores, vector databases and fine-tuning language models.",
    "x",
    "The system prompt names the author; the user asks.",
    "What is a feature store?",
]


@pytest.fixture(scope="module")
def tiny_twins(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two tiny models that answer differently (different random weights)."""
    root = tmp_path_factory.mktemp("tiny-twins")
    return [build_tiny_causal_lm(root / f"twin-{seed}", seed=seed) for seed in (1, 2)]


def _reference_tokens(model, tokenizer, conversation, *, max_new_tokens: int, eos: list[int]) -> list[int]:
    import torch

    encoded = tokenizer(render_prompt(tokenizer, conversation), return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        output = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos)
    tokens = output[0, encoded["input_ids"].shape[1] :].tolist()
    ended = next((i for i, t in enumerate(tokens) if t in eos), None)
    return tokens if ended is None else tokens[: ended + 1]


def test_the_scheduler_decodes_batches_joined_mid_answer_exactly_like_generate(tiny_twins):
    from llm_engineering.model.runtimes.torch_runtime import eos_ids, load_causal_lm

    model, tokenizer = load_causal_lm(tiny_twins[0])
    eos = eos_ids(model, tokenizer)
    conversations = [build_messages(q, author=AUTHOR) for q in QUESTIONS]
    expected = [_reference_tokens(model, tokenizer, c, max_new_tokens=16, eos=eos) for c in conversations]
    scheduler = BatchScheduler(model, tokenizer, eos_ids=eos, max_batch=8)
    finished: list[Finished | None] = [None] * len(conversations)
    done = [threading.Event() for _ in conversations]

    def collector(i: int):
        def emit(event) -> None:
            if isinstance(event, (Finished, BaseException)):
                finished[i] = event
                done[i].set()

        return emit

    try:
        for i, conversation in enumerate(conversations):
            ids = tokenizer(render_prompt(tokenizer, conversation), add_special_tokens=False)["input_ids"]
            scheduler.submit(ids, decoding=Decoding.plain(max_new_tokens=16), emit=collector(i))
            time.sleep(0.01)  # later requests join a batch that is already decoding
        assert all(event.wait(60) for event in done)
    finally:
        scheduler.close()
    assert [list(f.token_ids) for f in finished] == expected
    assert all(f.reason == ("stop" if len(f.token_ids) < 16 else "length") for f in finished)
    assert max(scheduler.batch_sizes) > 1  # requests shared steps


def test_sampling_is_seeded_per_request(tiny_twins):
    from llm_engineering.model.runtimes.torch_runtime import eos_ids, load_causal_lm

    model, tokenizer = load_causal_lm(tiny_twins[0])
    scheduler = BatchScheduler(model, tokenizer, eos_ids=eos_ids(model, tokenizer))
    ids = tokenizer(render_prompt(tokenizer, build_messages("hi", author=None)), add_special_tokens=False)[
        "input_ids"
    ]

    def run(seed: int) -> tuple[int, ...]:
        box: list[Finished] = []
        event = threading.Event()
        scheduler.submit(
            ids,
            decoding=Decoding(max_new_tokens=12, temperature=1.5, seed=seed),
            emit=lambda e: (box.append(e), event.set()) if isinstance(e, Finished) else None,
        )
        event.wait(30)
        return box[0].token_ids

    try:
        assert run(7) == run(7)
        assert len({run(seed) for seed in range(4)}) > 1
    finally:
        scheduler.close()


@pytest.fixture
def twin_server(demo_state: DemoState, tiny_twins, tmp_path) -> Iterator[tuple[LiveServer, ModelRegistry]]:  # noqa: F811
    settings = demo_state.settings(state_dir=tmp_path / "state", twin_backend="local", twin_runtime="onnx")
    registry = ModelRegistry(settings.models_dir)
    for name, folder in zip(("run1-sft", "run2-dpo"), tiny_twins, strict=True):
        stage = "sft" if name.endswith("sft") else "dpo"
        registry.register(
            ModelVersion(name=name, stage=stage, folder=folder, base_model="tiny", author=AUTHOR)
        )
    registry.promote("run1-sft", reason="test")
    with LiveServer(create_app(settings, rag=False)) as live:
        yield live, registry


def test_the_openai_sdk_talks_to_the_local_twin(twin_server):
    live, _ = twin_server
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=API_KEY, max_retries=0)
    assert {"llm-twin", "run1-sft", "run2-dpo", "echo"} <= {m.id for m in client.models.list()}
    whole = client.chat.completions.create(
        model="llm-twin", messages=[{"role": "user", "content": "hello"}], max_tokens=8
    )
    assert whole.choices[0].message.content and whole.choices[0].finish_reason == "length"
    assert whole.usage.completion_tokens == 8 and whole.usage.prompt_tokens > 10
    stream = client.chat.completions.create(
        model="llm-twin",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content  # greedy: the same answer streamed or whole
    assert chunks[-1].usage.completion_tokens == 8
    other = client.chat.completions.create(
        model="run2-dpo", messages=[{"role": "user", "content": "hello"}], max_tokens=8
    )
    assert other.choices[0].message.content != text
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="run9-sft", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="context"):
        client.chat.completions.create(
            model="llm-twin", messages=[{"role": "user", "content": "word " * 900}], max_tokens=500
        )


def test_concurrent_streams_share_batches(twin_server):
    live, _ = twin_server
    client = openai.AsyncOpenAI(base_url=f"{live.url}/v1", api_key=API_KEY, max_retries=0)

    async def one(i: int) -> str:
        stream = await client.chat.completions.create(
            model="llm-twin",
            messages=[{"role": "user", "content": QUESTIONS[i % 5]}],
            max_tokens=24,
            stream=True,
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async def many() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(6)))

    answers = asyncio.run(many())
    assert all(answers)
    backend = live.app.state.services.backend
    scheduler = backend._loaded["llm-twin"].scheduler
    assert max(scheduler.batch_sizes) > 1


def test_a_promoted_version_is_served_without_a_restart(twin_server):
    live, registry = twin_server
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key=API_KEY, max_retries=0)

    def answer() -> str:
        reply = client.chat.completions.create(
            model="llm-twin", messages=[{"role": "user", "content": "hello"}], max_tokens=8
        )
        return reply.choices[0].message.content

    before = answer()
    backend = live.app.state.services.backend
    old = backend._loaded["llm-twin"].scheduler
    time.sleep(0.01)
    registry.promote("run2-dpo", reason="better scores")
    after = answer()
    assert after != before
    assert backend.reloads == 1 and "run2-dpo" in backend.status()[1]
    old._thread.join(30)
    assert not old.alive and old.model is None  # the old model's thread stopped and let go of it
