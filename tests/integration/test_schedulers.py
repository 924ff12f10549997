"""The decoding schedulers of both runtimes under shutdown and broken callbacks: a close with rows in
flight ends every request and the thread, frees the model, and a callback that raises never stops the worker."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from llm_engineering.domain.chat import build_messages
from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.generation import TextGenerator, load_generator
from llm_engineering.model.runtimes.rows import Finished
from llm_engineering.model.runtimes.scheduler import SchedulerClosed

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("runtime", ["transformers", "onnx"])]

LONG = Decoding(max_new_tokens=400)


def _load(folder: Path, runtime: str) -> TextGenerator:
    return load_generator(folder, runtime=runtime, dtype="fp32" if runtime == "onnx" else None, max_batch=4)


class Collector:
    """Events of one request, and a flag set at its last one."""

    def __init__(self, *, raise_on: type | None = None) -> None:
        self.events: list = []
        self.ended = threading.Event()
        self.raise_on = raise_on

    def __call__(self, event) -> None:
        self.events.append(event)
        if isinstance(event, (Finished, BaseException)):
            self.ended.set()
        if self.raise_on is not None and isinstance(event, self.raise_on):
            self.ended.set()
            raise RuntimeError("the client's callback broke")


def _prompt(generator: TextGenerator, question: str = "Write a paragraph about feature stores.") -> list[int]:
    return generator.prompt_ids(build_messages(question, author="Ada"))


def test_close_with_rows_in_flight_finishes_them_joins_the_thread_and_frees_the_model(
    tiny_model_dir, runtime
):
    generator = _load(tiny_model_dir, runtime)
    scheduler = generator.scheduler
    collectors = [Collector() for _ in range(6)]  # more than max_batch: some are still waiting
    for collector in collectors:
        generator.submit(_prompt(generator), LONG, collector)
    generator.close(wait=True)
    assert not scheduler.alive and scheduler.model is None
    assert all(c.ended.is_set() and isinstance(c.events[-1], Finished) for c in collectors)
    assert all(c.events[-1].completion_tokens == LONG.max_new_tokens for c in collectors)
    with pytest.raises(SchedulerClosed):
        generator.submit(_prompt(generator), LONG, Collector())


def test_close_with_cancel_ends_the_rows_in_flight_with_an_error(tiny_model_dir, runtime):
    generator = _load(tiny_model_dir, runtime)
    collectors = [Collector() for _ in range(3)]
    for collector in collectors:
        generator.submit(_prompt(generator), Decoding(max_new_tokens=1000), collector)
    generator.scheduler.close(wait=True, cancel=True, timeout=60)
    assert not generator.scheduler.alive
    ends = [c.events[-1] for c in collectors]
    assert all(c.ended.is_set() for c in collectors)
    assert any(isinstance(e, SchedulerClosed) for e in ends)  # not left waiting for ever


def test_a_callback_that_raises_drops_only_its_request(tiny_model_dir, runtime):
    with _load(tiny_model_dir, runtime) as generator:
        broken, healthy = Collector(raise_on=str), Collector()
        generator.submit(_prompt(generator), Decoding(max_new_tokens=30), broken)
        generator.submit(_prompt(generator, "hi"), Decoding(max_new_tokens=30), healthy)
        assert healthy.ended.wait(60) and isinstance(healthy.events[-1], Finished)
        assert broken.ended.wait(5) and not any(isinstance(e, Finished) for e in broken.events)
        [later] = generator.generate(
            [build_messages("What is a vector database?", author="Ada")], Decoding(max_new_tokens=5)
        )
        assert later.completion_tokens == 5 and generator.scheduler.alive


def test_a_failing_step_whose_error_callback_raises_never_kills_the_worker(tiny_model_dir, runtime):
    with _load(tiny_model_dir, runtime) as generator:
        bad = Collector(raise_on=BaseException)
        generator.submit([5, 10**7, 7], Decoding(max_new_tokens=3), bad)  # a token id outside the vocabulary
        assert bad.ended.wait(60) and isinstance(bad.events[-1], BaseException)
        [later] = generator.generate([build_messages("hi", author="Ada")], Decoding(max_new_tokens=4))
        assert later.completion_tokens == 4 and generator.scheduler.alive
