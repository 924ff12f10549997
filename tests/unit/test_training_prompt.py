"""The one prompt of training, evaluation and serving: the context budget and answers cut to fit."""

from __future__ import annotations

from llm_engineering.domain.chat import (
    CONTEXT_PASSAGES,
    PASSAGE_WORDS,
    build_messages,
    clip_passage,
    fit_context,
)


def test_build_messages_enforces_the_context_budget() -> None:
    long = " ".join(f"word{i}" for i in range(PASSAGE_WORDS * 3))
    passages = [f"{long} {i}" for i in range(CONTEXT_PASSAGES + 2)]
    user = build_messages("Why?", author="Ada", context=passages)[-1]["content"]
    assert user.count("\n[") + user.startswith("[") == CONTEXT_PASSAGES  # the lowest-ranked are dropped
    assert f"[{CONTEXT_PASSAGES + 1}]" not in user
    for passage in fit_context(passages):
        assert len(passage.removesuffix(" …").split()) <= PASSAGE_WORDS
    assert user.endswith("Why?")


def test_a_clipped_passage_ends_at_a_sentence_when_one_is_near_the_limit() -> None:
    first = " ".join(["alpha"] * (PASSAGE_WORDS - 5)) + " end."
    passage = first + " " + " ".join(["beta"] * 40)
    assert clip_passage(passage) == first
    no_stop = " ".join(["gamma"] * (PASSAGE_WORDS + 10))
    assert clip_passage(no_stop) == " ".join(["gamma"] * PASSAGE_WORDS) + " …"
    assert clip_passage("  short   passage ") == "short passage"


def test_blank_passages_are_no_context() -> None:
    assert build_messages("Why?", author="Ada", context=["", "  "]) == build_messages("Why?", author="Ada")
