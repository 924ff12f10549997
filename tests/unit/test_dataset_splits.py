"""The per-category train/test split: groups never straddle it, the seed fixes it, leaks are caught."""

from __future__ import annotations

import pytest

from llm_engineering.application.datasets.splits import (
    LeakageError,
    SplitResult,
    check_no_leakage,
    split_samples,
)
from llm_engineering.domain.dataset import InstructionSample


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
def test_no_group_is_on_both_sides_and_every_category_has_a_test_part(group_by):
    result = split_samples(SAMPLES, test_size=0.1, seed=1, group_by=group_by)
    check_no_leakage(result, group_by=group_by)
    key = "document_id" if group_by == "document" else "extract_id"
    assert not {getattr(s, key) for s in result.train} & {getattr(s, key) for s in result.test}
    counts = result.counts()
    assert counts["train"]["total"] + counts["test"]["total"] == len(SAMPLES)
    assert counts["test"]["posts"] > 0 and counts["test"]["articles"] > 0
    if group_by == "document":
        assert counts["test"]["articles"] == 2 * 3 * 2  # round(0.1 x 20) documents, 3 extracts, 2 variants


def test_the_seed_fixes_the_split():
    first = split_samples(SAMPLES, test_size=0.2, seed=3)
    assert first == split_samples(SAMPLES, test_size=0.2, seed=3)
    assert {s.document_id for s in first.test} != {
        s.document_id for s in split_samples(SAMPLES, test_size=0.2, seed=4).test
    }


def test_a_category_of_one_group_stays_in_training_and_a_zero_test_size_keeps_everything_there():
    single = [sample(0, e, category="repositories") for e in range(3)]
    assert split_samples(single, test_size=0.5, seed=0).test == []
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
