"""The per-category train/test split, by groups, so nothing of the test split was seen in training.

Within each category the samples are grouped by document (or by extract), the groups are
sorted and shuffled with the seed, and ``round(test_size x groups)`` of them (at least one
when the category has two groups or more and ``test_size`` > 0; never all) go to the test
split. All samples of one extract, and with ``group_by: document`` all extracts of one
document, are on the same side. Samples whose input fixed their split (a handbook JSON
dataset) keep it. Afterwards :func:`remove_test_overlap` drops test samples whose answer
text also occurs in training, and :func:`check_no_leakage` proves the split is clean.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from llm_engineering.application.datasets.quality import text_key
from llm_engineering.domain.dataset import Sample, sample_answer
from llm_engineering.domain.exceptions import LLMTwinError

GroupBy = Literal["document", "extract"]


class LeakageError(LLMTwinError):
    """The train and test splits share an extract, a document or an answer."""


class SplitResult(BaseModel):
    """Train and test samples, and how many of each category went where."""

    train: list[Sample]
    test: list[Sample]
    test_overlap_removed: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per split and category, with totals: ``{"train": {"articles": 90, "total": 120}, ...}``."""
        result: dict[str, dict[str, int]] = {}
        for name, samples in (("train", self.train), ("test", self.test)):
            per_category = dict(sorted(Counter(str(s.category) for s in samples).items()))
            result[name] = {**per_category, "total": len(samples)}
        return result


def _group(sample: Sample, group_by: GroupBy) -> str:
    return sample.document_id if group_by == "document" else sample.extract_id


def split_samples(
    samples: Sequence[Sample], *, test_size: float, seed: int, group_by: GroupBy = "document"
) -> SplitResult:
    """Split ``samples`` per category into train and test by groups (rules in the module docstring).

    Args:
        samples: the filtered samples.
        test_size: share of each category's groups in the test split.
        seed: seed of the shuffle.
        group_by: ``document`` or ``extract``.
    """
    train: list[Sample] = []
    test: list[Sample] = []
    by_category: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.split == "train":
            train.append(sample)
        elif sample.split == "test":
            test.append(sample)
        else:
            by_category[str(sample.category)].append(sample)
    for category in sorted(by_category):
        members = by_category[category]
        groups = sorted({_group(s, group_by) for s in members})
        random.Random(f"{seed}:{category}").shuffle(groups)
        n_test = round(test_size * len(groups))
        if test_size > 0 and len(groups) >= 2:
            n_test = min(max(n_test, 1), len(groups) - 1)
        test_groups = set(groups[:n_test])
        for sample in members:
            (test if _group(sample, group_by) in test_groups else train).append(sample)
    return remove_test_overlap(SplitResult(train=train, test=test))


def remove_test_overlap(split: SplitResult) -> SplitResult:
    """Drop test samples whose answer (or instruction and answer) also occurs in training, after normalisation."""
    train_answers = {text_key(sample_answer(s)) for s in split.train}
    kept = [s for s in split.test if text_key(sample_answer(s)) not in train_answers]
    return SplitResult(
        train=split.train,
        test=kept,
        test_overlap_removed=split.test_overlap_removed + len(split.test) - len(kept),
    )


def check_no_leakage(split: SplitResult, *, group_by: GroupBy = "document") -> None:
    """Prove that no extract (no document, with ``group_by: document``) and no answer is on both sides.

    Samples whose split the input fixed are checked on their answers only.

    Raises:
        LeakageError: naming what is shared.
    """
    train_generated = [s for s in split.train if s.split is None]
    test_generated = [s for s in split.test if s.split is None]
    shared_extracts = {s.extract_id for s in train_generated} & {s.extract_id for s in test_generated}
    if shared_extracts:
        raise LeakageError(
            f"{len(shared_extracts)} extracts are in both splits, e.g. {sorted(shared_extracts)[0]}"
        )
    if group_by == "document":
        shared_documents = {s.document_id for s in train_generated} & {s.document_id for s in test_generated}
        if shared_documents:
            raise LeakageError(
                f"{len(shared_documents)} documents are in both splits, e.g. {sorted(shared_documents)[0]}"
            )
    shared_answers = {text_key(sample_answer(s)) for s in split.train} & {
        text_key(sample_answer(s)) for s in split.test
    }
    if shared_answers:
        raise LeakageError(f"{len(shared_answers)} answers are in both splits")
