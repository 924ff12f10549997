"""Quality filters: lengths, exact and near-duplicates, each counted."""

from __future__ import annotations

import random

from llm_engineering.application.datasets.quality import (
    deduplicate_extracts,
    filter_samples,
    jaccard,
    near_duplicate_groups,
    shingles,
    text_key,
)
from llm_engineering.domain.dataset import Extract, InstructionSample, PreferenceSample

rng = random.Random(7)
VOCABULARY = [f"word{i}" for i in range(400)]


def prose(n: int = 120) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(n)) + "."


def sample(instruction: str, answer: str, *, extract: str = "e1") -> InstructionSample:
    return InstructionSample(
        instruction=instruction,
        answer=answer,
        category="articles",
        extract_id=extract,
        document_id=extract,
        source="test",
    )


def test_text_key_ignores_case_spacing_and_punctuation():
    assert text_key("Hello,   World!\n") == text_key("hello world")
    assert text_key("hello world") != text_key("hello there world")


def test_near_duplicates_are_found_at_the_threshold_and_distinct_texts_kept():
    base = prose(200)
    words = base.split()
    words[50] = "changed"
    near = " ".join(words)
    texts = [base, prose(200), near, prose(200)]
    assert jaccard(shingles(base), shingles(near)) > 0.9
    assert near_duplicate_groups(texts, threshold=0.8) == [2]
    assert near_duplicate_groups(texts, threshold=0.99) == []


def test_duplicate_extracts_are_removed_and_counted():
    text = prose()

    def extract(id_: str, content: str) -> Extract:
        return Extract(
            id=id_, document_id=id_, index=0, category="articles", author_full_name="A B", content=content
        )

    extracts = [
        extract("a", text),
        extract("b", text.upper()),
        extract("c", text + " One more sentence."),
        extract("d", prose()),
    ]
    kept, counts = deduplicate_extracts(extracts, threshold=0.8)
    assert [e.id for e in kept] == ["a", "d"]
    assert (counts.exact_duplicates, counts.near_duplicates, counts.total) == (1, 1, 2)


def test_sample_filters_count_lengths_and_duplicates_but_keep_instruction_variants():
    answer, other = prose(), prose()
    samples = [
        sample("Write about feature stores.", answer),
        sample("Explain feature stores in your own words.", answer),  # same answer, other instruction: kept
        sample("write about feature stores", answer + " "),  # exact duplicate after normalisation
        sample("Write about feature stores!", answer.replace("word1 ", "wordX ", 1)),  # near duplicate
        sample("Short?", other),  # short instruction
        sample("A long enough instruction.", "Too short."),  # short answer
        sample("Write about chunk sizes.", other),
    ]
    kept, counts = filter_samples(samples, min_instruction_chars=10, min_answer_chars=100)
    assert [s.instruction for s in kept] == [
        "Write about feature stores.",
        "Explain feature stores in your own words.",
        "Write about chunk sizes.",
    ]
    assert counts.as_dict() == {
        "exact_duplicates": 1,
        "near_duplicates": 1,
        "short_instruction": 1,
        "short_answer": 1,
        "short_rejected": 0,
        "rejected_like_chosen": 0,
        "fragment_instruction": 0,
        "total": 4,
    }


def test_a_rejected_answer_like_the_chosen_one_is_dropped():
    chosen = prose()

    def pair(rejected: str) -> PreferenceSample:
        return PreferenceSample(
            instruction="Write about feature stores please.", chosen=chosen, rejected=rejected,
            category="posts", extract_id="e", document_id="d", source="test",
        )  # fmt: skip

    kept, counts = filter_samples(
        [pair(chosen), pair("Too generic."), pair(prose(40))],
        min_instruction_chars=5,
        min_answer_chars=50,
        min_rejected_chars=20,
    )
    assert len(kept) == 1
    assert (counts.rejected_like_chosen, counts.short_rejected) == (1, 1)
