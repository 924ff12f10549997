"""The ``llm`` strategy's bookkeeping with a scripted model: per-extract failures, verbatim answers, budgets."""

from __future__ import annotations

import json

import pytest

from llm_engineering.application.datasets.llm_generation import (
    failure_kind,
    generate_llm_instruction_samples,
    generate_rejected_answers,
    instruction_messages,
    run_concurrently,
)
from llm_engineering.domain.dataset import Extract, InstructionSample
from llm_engineering.domain.llm import BudgetExhausted, LLMError, LLMTimeout, MalformedOutput
from tests.fakes import ScriptedLLM


def extract(i: int) -> Extract:
    return Extract(
        id=f"e{i}",
        document_id=f"d{i}",
        index=0,
        category="posts",
        author_full_name="Maya Lindqvist",
        title=f"Post {i}",
        content=f"Post {i} opens here. Make rollback boring, number {i}. The calendar stops mattering.",
    )


def pairs_for(messages) -> str:
    content = messages[-1]["content"].split("Extract:\n", 1)[1]
    number = content.split()[1]
    if number == "1":
        return "I cannot do that."  # malformed
    if number == "2":
        raise LLMTimeout("too slow")
    if number == "3":
        raise BudgetExhausted("spent")
    pairs = [
        {"instruction": "What should rollback be?", "answer": f"Make rollback boring, number {number}."},
        {"instruction": "Summarise it.", "answer": "A paraphrase, not her words."},
    ]
    return json.dumps({"pairs": pairs})


def test_each_extract_fails_alone_and_failures_are_counted_by_kind():
    client = ScriptedLLM(pairs_for, model_id="scripted")
    result = generate_llm_instruction_samples(
        [extract(i) for i in range(6)], client=client, pairs_per_extract=1, progress=False
    )
    assert dict(result.failures.counts) == {"malformed": 1, "timeout": 1, "budget_exhausted": 1}
    assert {s.extract_id for s in result.samples} == {"e0", "e4", "e5"}
    assert result.dropped_pairs == {"beyond_requested": 3}
    assert all(s.source == "llm:scripted" for s in result.samples)


def test_preference_pairs_keep_only_answers_copied_from_the_extract():
    client = ScriptedLLM(pairs_for)
    result = generate_llm_instruction_samples(
        [extract(0), extract(4)], client=client, pairs_per_extract=2, verbatim_answers=True, progress=False
    )
    assert [s.answer for s in result.samples] == [
        "Make rollback boring, number 0.",
        "Make rollback boring, number 4.",
    ]
    assert result.dropped_pairs == {"not_verbatim": 2}
    assert "copied word for word" in client.prompts[0][0]["content"]


def test_the_prompt_names_the_author_the_count_and_the_json_shape():
    system, user = instruction_messages(extract(7), pairs=4, verbatim_answers=False)
    assert (
        "Maya Lindqvist" in system["content"]
        and "write 4 different instruction-answer pairs" in system["content"]
    )
    assert '{"pairs": [{"instruction": "...", "answer": "..."}]}' in system["content"]
    assert user["content"].startswith("Title: Post 7\nExtract:\nPost 7 opens here.")


def test_rejected_answers_keep_the_authors_text_as_chosen():
    samples = [
        InstructionSample(
            instruction=f"Question {i}?",
            answer=f"Her answer {i}.",
            category="posts",
            extract_id=f"e{i}",
            document_id=f"d{i}",
            source="offline",
        )  # fmt: skip
        for i in range(3)
    ]
    answers = ["A generic answer.", LLMError("boom"), "   "]
    result = generate_rejected_answers(samples, client=ScriptedLLM(answers), generic=True, progress=False)
    assert [(p.chosen, p.rejected) for p in result.samples] == [("Her answer 0.", "A generic answer.")]
    assert dict(result.failures.counts) == {"error": 2}  # an LLM error and an empty answer
    assert result.samples[0].source == "offline+rejected:llm:scripted"


def test_run_concurrently_keeps_order_and_expected_errors_per_item():
    def square(n: int) -> int:
        if n == 3:
            raise LLMTimeout("three")
        return n * n

    outcomes = run_concurrently(square, list(range(6)), max_workers=3, desc="test", progress=False)
    assert [o.value for o in outcomes] == [0, 1, 4, None, 16, 25]
    assert isinstance(outcomes[3].error, LLMTimeout)


def test_a_programming_error_fails_the_run_instead_of_counting_as_a_failed_item():
    def broken(n: int) -> int:
        if n == 2:
            raise AttributeError("'NoneType' object has no attribute 'pairs'")
        return n

    with pytest.raises(AttributeError, match="no attribute 'pairs'"):
        run_concurrently(broken, list(range(4)), max_workers=2, desc="test", progress=False)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (MalformedOutput("x"), "malformed"),
        (LLMTimeout("x"), "timeout"),
        (BudgetExhausted("x"), "budget_exhausted"),
        (LLMError("x"), "error"),
    ],
)
def test_failure_kinds(error, kind):
    assert failure_kind(error) == kind
