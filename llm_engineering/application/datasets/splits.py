"""The train/validation/test split by document, deterministic, identical for every dataset.

Each group (a document, or with ``group_by: extract`` an extract) gets a score in [0, 1)
from the SHA-256 of the seed and its id; a group whose score is below ``test_size`` is in
the test split, below ``test_size + validation_size`` in the validation split, else in
training. The assignment of a document depends on its id alone, never on the other
documents or the dataset type: the instruction and the preference dataset of the same
documents put each document on the same side, so DPO never trains on a test document.
A corpus too small for the thresholds to pick anything (three groups or more) gets its
lowest-scored group as test and its next as validation; training always keeps the
highest-scored group. Samples whose input fixed their
split (a handbook JSON dataset) keep it. Afterwards :func:`remove_test_overlap` drops held-out
samples whose answer text also occurs in training, and :func:`check_no_leakage` proves it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from llm_engineering.application.datasets.quality import text_key
from llm_engineering.domain.dataset import Sample, Split, sample_answer
from llm_engineering.domain.exceptions import LLMTwinError

GroupBy = Literal["document", "extract"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")


class LeakageError(LLMTwinError):
    """The train and held-out splits share an extract, a document or an answer."""


class SplitResult(BaseModel):
    """Train, validation and test samples, and how many of each category went where."""

    train: list[Sample]
    test: list[Sample]
    validation: list[Sample] = []
    test_overlap_removed: int = 0

    def parts(self) -> dict[str, list[Sample]]:
        """The splits by name, training first."""
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per split and category, with totals: ``{"train": {"articles": 90, "total": 120}, ...}``."""
        result: dict[str, dict[str, int]] = {}
        for name, samples in self.parts().items():
            per_category = dict(sorted(Counter(str(s.category) for s in samples).items()))
            result[name] = {**per_category, "total": len(samples)}
        return result


def _group(sample: Sample, group_by: GroupBy) -> str:
    return sample.document_id if group_by == "document" else sample.extract_id


def split_score(group: str, *, seed: int) -> float:
    """The group's place in [0, 1): the first 8 bytes of SHA-256 of ``seed:group``."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    groups: Sequence[str], *, test_size: float, validation_size: float, seed: int
) -> dict[str, Split]:
    """The split of every group (rules in the module docstring)."""
    scores = {group: split_score(group, seed=seed) for group in set(groups)}
    assigned: dict[str, Split] = {
        group: "test"
        if score < test_size
        else "validation"
        if score < test_size + validation_size
        else "train"
        for group, score in scores.items()
    }
    ranked = sorted(scores, key=lambda group: (scores[group], group))
    if len(ranked) >= 3:  # a small corpus still gets one held-out group of each asked-for kind
        if test_size > 0 and "test" not in assigned.values():
            assigned[ranked[0]] = "test"
        if validation_size > 0 and "validation" not in assigned.values():
            assigned[next(g for g in ranked if assigned[g] == "train")] = "validation"
    if ranked and "train" not in assigned.values():  # training is never empty: the highest score trains
        assigned[ranked[-1]] = "train"
    return assigned


def split_samples(
    samples: Sequence[Sample],
    *,
    test_size: float,
    seed: int,
    group_by: GroupBy = "document",
    validation_size: float = 0.0,
) -> SplitResult:
    """Split ``samples`` into train, validation and test by groups (rules in the module docstring).

    Args:
        samples: the filtered samples.
        test_size: share of the groups in the test split (by score threshold).
        seed: seed of the scores.
        group_by: ``document`` or ``extract``.
        validation_size: share of the groups in the validation split.
    """
    parts: dict[str, list[Sample]] = {name: [] for name in SPLITS}
    free = [s for s in samples if s.split is None]
    assigned = assign_splits(
        [_group(s, group_by) for s in free], test_size=test_size, validation_size=validation_size, seed=seed
    )
    for sample in samples:
        parts[sample.split or assigned[_group(sample, group_by)]].append(sample)
    return remove_test_overlap(SplitResult(**parts))


def remove_test_overlap(split: SplitResult) -> SplitResult:
    """Drop held-out (validation and test) samples whose answer also occurs in training, after normalisation."""
    train_answers = {text_key(sample_answer(s)) for s in split.train}
    test = [s for s in split.test if text_key(sample_answer(s)) not in train_answers]
    validation = [s for s in split.validation if text_key(sample_answer(s)) not in train_answers]
    removed = len(split.test) - len(test) + len(split.validation) - len(validation)
    return SplitResult(
        train=split.train,
        test=test,
        validation=validation,
        test_overlap_removed=split.test_overlap_removed + removed,
    )


def check_no_leakage(split: SplitResult, *, group_by: GroupBy = "document") -> None:
    """Prove that no extract (no document, with ``group_by: document``) and no answer of training
    is held out (validation or test).

    Samples whose split the input fixed are checked on their answers only.

    Raises:
        LeakageError: naming what is shared.
    """
    train_generated = [s for s in split.train if s.split is None]
    test_generated = [s for s in [*split.validation, *split.test] if s.split is None]
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
        text_key(sample_answer(s)) for s in [*split.validation, *split.test]
    }
    if shared_answers:
        raise LeakageError(f"{len(shared_answers)} answers are in both splits")
