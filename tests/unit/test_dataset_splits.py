"""The train/validation/test split by document: groups never straddle it, every dataset agrees, leaks are caught."""

from __future__ import annotations

import pytest

from llm_engineering.application.datasets.splits import (
    LeakageError,
    SplitResult,
    check_no_leakage,
    split_samples,
)
from llm_engineering.domain.dataset import InstructionSample, PreferenceSample


def sample(
    document: int, extract: int, variant: int = 0, *, category: str = "articles", split=None
) -> InstructionSample:
    return InstructionSample(
        instruction=f"Instruction {variant} about extract {extract} of document {document}.",
        answer=f"Answer text of extract {extract} of document {document} in {category}.",
        category=category,
        extract_id=f"{category}-{document}-{extract}",
        document_id=f"{category}-{document}",
        source="test",
        split=split,
    )


SAMPLES = [
    sample(d, e, v, category=c)
    for c, documents in (("articles", 20), ("posts", 3))
    for d in range(documents)
    for e in range(3)
    for v in range(2)
]


@pytest.mark.parametrize("group_by", ["document", "extract"])
def test_no_group_is_both_trained_on_and_held_out(group_by):
    result = split_samples(SAMPLES, test_size=0.1, validation_size=0.1, seed=1, group_by=group_by)
    check_no_leakage(result, group_by=group_by)
    key = "document_id" if group_by == "document" else "extract_id"
    held_out = {getattr(s, key) for s in [*result.test, *result.validation]}
    assert not {getattr(s, key) for s in result.train} & held_out
    assert not {getattr(s, key) for s in result.test} & {getattr(s, key) for s in result.validation}
    counts = result.counts()
    assert sum(counts[name]["total"] for name in ("train", "validation", "test")) == len(SAMPLES)
    assert counts["test"]["total"] > 0 and counts["validation"]["total"] > 0


def test_a_document_is_on_the_same_side_in_every_dataset_whatever_the_other_documents():
    full = split_samples(SAMPLES, test_size=0.2, validation_size=0.2, seed=3)
    side = {s.document_id: name for name, part in full.parts().items() for s in part}
    preference = [
        PreferenceSample(
            instruction=s.instruction,
            chosen=s.answer,
            rejected="A generic answer that says nothing in particular.",
            category=s.category,
            extract_id=s.extract_id,
            document_id=s.document_id,
            source="test",
        )
        for s in SAMPLES[::3]  # another dataset, of a subset of the documents
    ]
    subset = split_samples(preference, test_size=0.2, validation_size=0.2, seed=3)
    assert {
        s.document_id: name for name, part in subset.parts().items() for s in part
    }.items() <= side.items()
    assert full == split_samples(SAMPLES, test_size=0.2, validation_size=0.2, seed=3)
    assert {s.document_id for s in full.test} != {
        s.document_id for s in split_samples(SAMPLES, test_size=0.2, seed=4).test
    }


def test_a_small_corpus_still_holds_out_one_test_and_one_validation_document():
    few = [sample(d, e) for d in range(4) for e in range(2)]
    result = split_samples(few, test_size=0.01, validation_size=0.01, seed=0)
    assert len({s.document_id for s in result.test}) == 1
    assert len({s.document_id for s in result.validation}) == 1
    assert len({s.document_id for s in result.train}) == 2
    single = [sample(0, e, category="repositories") for e in range(3)]
    assert split_samples(single, test_size=0.9, seed=0, group_by="document").train == single
    assert split_samples(SAMPLES, test_size=0.0, seed=0).test == []


def test_fixed_splits_are_kept_and_test_answers_seen_in_training_are_removed():
    train = sample(1, 1, split="train")
    same_answer = sample(1, 1, variant=1, split="test")
    test = sample(2, 1, split="test")
    result = split_samples([train, same_answer, test], test_size=0.5, seed=0)
    assert result.train == [train] and result.test == [test]
    assert result.test_overlap_removed == 1


def test_the_leakage_check_names_what_is_shared():
    a, b = sample(1, 1), sample(1, 2)
    with pytest.raises(LeakageError, match="documents are in both splits"):
        check_no_leakage(SplitResult(train=[a], test=[b]), group_by="document")
    check_no_leakage(SplitResult(train=[a], test=[b]), group_by="extract")
    with pytest.raises(LeakageError, match="extracts are in both splits"):
        check_no_leakage(SplitResult(train=[a], test=[sample(1, 1, variant=1)]), group_by="extract")
