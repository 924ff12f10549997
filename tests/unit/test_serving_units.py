"""Pure pieces of the service: the chat request model's refusals, and cleaning up after dead services."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from llm_engineering.serving.rag import remove_stale_snapshots
from llm_engineering.serving.schemas import ChatCompletionRequest

USER = [{"role": "user", "content": "hi"}]


def test_a_chat_request_reads_text_parts_and_lists_stops():
    request = ChatCompletionRequest.model_validate(
        {
            "model": "llm-twin",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ],
            "stop": "END",
            "max_completion_tokens": 5,
            "user": "someone",  # harmless OpenAI fields are accepted and ignored
        }
    )
    assert request.messages[0].text == "ab" and request.stop == ["END"] and request.answer_tokens == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"n": 3}, "n must be 1"),
        ({"tools": []}, "'tools' is not supported"),
        ({"presence_penalty": 0.5}, "presence_penalty is not supported"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
        ({"temperature": "0.5"}, "valid number"),
        ({"top_p": 0}, "greater than 0"),
    ],
)
def test_unsupported_or_mistyped_parameters_are_refused_by_name(extra, message):
    with pytest.raises(ValidationError, match=message):
        ChatCompletionRequest.model_validate({"model": "m", "messages": USER, **extra})


def test_snapshots_of_dead_services_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    (tmp_path / f"snapshots-{dead_pid}-aaaa" / "embedded_articles").mkdir(parents=True)
    alive = tmp_path / f"snapshots-{1}-bbbb"  # pid 1 is always alive
    alive.mkdir()
    remove_stale_snapshots(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [alive.name]
