"""Generation with a local causal LM: batching, finish reasons, streaming, stop strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.model.chat import build_messages
from llm_engineering.model.generation import generate_answers, load_causal_lm, stream_answer

pytestmark = pytest.mark.integration

QUESTIONS = ["Name three colours.", "What is a feature store? Answer in one sentence, please.", "Hi"]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    return load_causal_lm(tiny_model_dir, dtype="float32")


@pytest.fixture(scope="module")
def smollm2(smollm2_dir: Path):
    return load_causal_lm(smollm2_dir)


def test_load_causal_lm_pads_left_and_keeps_chat_template(tiny) -> None:
    model, tokenizer = tiny
    assert tokenizer.padding_side == "left"
    assert tokenizer.pad_token == "<|im_end|>"
    assert "<|im_start|>" in tokenizer.apply_chat_template(build_messages("x", author="Ada"), tokenize=False)
    assert not model.training


def test_batched_answers_equal_one_by_one_answers_in_input_order(tiny) -> None:
    model, tokenizer = tiny
    conversations = [build_messages(q, author="Ada") for q in QUESTIONS]
    batched = generate_answers(model, tokenizer, conversations, max_new_tokens=6, batch_size=3)
    single = [generate_answers(model, tokenizer, [c], max_new_tokens=6)[0] for c in conversations]
    assert batched == single  # left padding changes nothing (fp32), order is the input order
    assert [g.prompt_tokens for g in batched] == [
        len(tokenizer.apply_chat_template(c, add_generation_prompt=True)["input_ids"]) for c in conversations
    ]
    for answer in batched:
        assert 1 <= answer.completion_tokens <= 6
        assert answer.finish_reason == ("length" if answer.completion_tokens == 6 else "stop")


def test_sampling_is_reproducible_with_a_seed(tiny) -> None:
    model, tokenizer = tiny
    conversations = [build_messages(q, author="Ada") for q in QUESTIONS]
    first = generate_answers(model, tokenizer, conversations, max_new_tokens=8, temperature=1.0, seed=3)
    again = generate_answers(model, tokenizer, conversations, max_new_tokens=8, temperature=1.0, seed=3)
    assert first == again


def test_real_model_answers_stop_at_end_of_turn_and_stream_the_same_text(smollm2) -> None:
    model, tokenizer = smollm2
    conversation = build_messages("Name three colours.", author="Ada Lovelace")
    [answer] = generate_answers(model, tokenizer, [conversation], max_new_tokens=40)
    assert answer.finish_reason == "stop"
    assert any(colour in answer.text.lower() for colour in ("red", "blue", "green", "yellow"))
    pieces = list(stream_answer(model, tokenizer, conversation, max_new_tokens=40))
    assert len(pieces) > 1  # streamed, not returned whole
    assert "".join(pieces).strip() == answer.text


def test_stream_stops_before_a_stop_string_and_at_max_tokens(smollm2) -> None:
    model, tokenizer = smollm2
    conversation = build_messages("Name three colours.", author="Ada Lovelace")
    full = "".join(stream_answer(model, tokenizer, conversation, max_new_tokens=40))
    stop = full.split()[2]  # a word from the middle of the answer
    cut = "".join(stream_answer(model, tokenizer, conversation, max_new_tokens=40, stop=[stop]))
    assert cut == full[: full.find(stop)]
    short = "".join(stream_answer(model, tokenizer, conversation, max_new_tokens=2))
    assert len(tokenizer(short, add_special_tokens=False)["input_ids"]) <= 3
    assert full.startswith(short.strip())
