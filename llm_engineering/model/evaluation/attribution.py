"""Attribution rate: the share of a version's answers that a classifier attributes to the author.

The classifier is scikit-learn's logistic regression over two TF-IDF views of the text:
character 2-4-grams within word boundaries (spelling, punctuation habits, morphology) and
word uni- and bigrams (vocabulary, turns of phrase). It learns the author's training-split
text against other writing: the base model's answers to the same instructions (what a
model sounds like before it is trained on the author) and, when the feature store holds
any, other authors' cleaned documents. Texts are cut to the same number of words so the
classifier cannot go by length.

The base model's answers are to the *test* instructions, so the classifier is cross-fitted:
the test samples are split into folds, and the answers of fold k are judged by a classifier
that saw no base answer (and no other author's passage) of fold k. Each version's
**attribution rate** is the share of its answers attributed to the author (higher is more
author-like). Beside it the classifier's own **accuracy** on held-out text is reported:
balanced accuracy over the author's held-out reference answers (should be "author") and the
held-out negatives (should not), plus its recall on the author's held-out text. A rate is only
worth reading when that accuracy is well above 0.5.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from llm_engineering.domain.exceptions import LLMTwinError


class AttributionUnavailable(LLMTwinError):
    """The classifier cannot be trained: no author text or no other writing to contrast it with."""


def clip_words(text: str, max_words: int) -> str:
    """The first ``max_words`` words of ``text`` (whitespace kept as single spaces)."""
    return " ".join(text.split()[:max_words])


def passages(text: str, *, max_words: int) -> list[str]:
    """``text`` cut into consecutive passages of at most ``max_words`` words (the last may be shorter)."""
    tokens = text.split()
    return [" ".join(tokens[i : i + max_words]) for i in range(0, len(tokens), max_words)]


class AttributionClassifier:
    """A fitted author-vs-other classifier.

    Args:
        author_texts: text written by the author.
        other_texts: text not written by the author.
        max_words: texts are cut to this many words, in training and in prediction.
        seed: seed of the solver.

    Raises:
        AttributionUnavailable: either side is empty.
    """

    def __init__(
        self, author_texts: Sequence[str], other_texts: Sequence[str], *, max_words: int = 200, seed: int = 0
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        author = [t for t in (clip_words(x, max_words) for x in author_texts) if t]
        other = [t for t in (clip_words(x, max_words) for x in other_texts) if t]
        if not author or not other:
            raise AttributionUnavailable(
                f"the attribution classifier needs author text and other text "
                f"({len(author)} author, {len(other)} other)"
            )
        self.max_words = max_words
        features = FeatureUnion(
            [
                (
                    "chars",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1),
                ),
                (
                    "words",
                    TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
                ),
            ]
        )
        classifier = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000, random_state=seed)
        self._pipeline = make_pipeline(features, classifier)
        self._pipeline.fit(author + other, [1] * len(author) + [0] * len(other))

    def is_author(self, texts: Sequence[str]) -> np.ndarray:
        """True for each text attributed to the author."""
        if not texts:
            return np.zeros(0, dtype=bool)
        return self._pipeline.predict([clip_words(t, self.max_words) for t in texts]) == 1


@dataclass
class AttributionResult:
    """Attribution rates per version and how good the classifier was.

    Attributes:
        rates: version name -> share of its answers attributed to the author.
        classifier_accuracy: balanced accuracy on held-out author references and held-out negatives.
        author_recall: share of the author's held-out references attributed to the author.
        folds: folds of the cross-fitting.
        training: texts the classifiers learned from (author, base answers, other authors), per fold on average.
    """

    rates: dict[str, float]
    classifier_accuracy: float
    author_recall: float
    folds: int
    training: dict[str, float] = field(default_factory=dict)


def _fold_of(n: int, folds: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    assignment = [0] * n
    for position, index in enumerate(order):
        assignment[index] = position % folds
    return assignment


def attribution_rates(
    *,
    author_texts: Sequence[str],
    references: Sequence[str],
    answers: Mapping[str, Sequence[str]],
    base_answers: Sequence[str] | None = None,
    other_texts: Sequence[str] = (),
    folds: int = 5,
    max_words: int = 200,
    seed: int = 0,
) -> AttributionResult:
    """Cross-fitted attribution rates of each version's answers (see the module docstring).

    Args:
        author_texts: the author's training-split text (positives).
        references: the author's reference answers of the test samples (held-out positives).
        answers: version name -> its answers, aligned with ``references``.
        base_answers: the base model's answers aligned with ``references`` (negatives), if any.
        other_texts: passages by other authors (negatives), if any.
        folds: cross-fitting folds (at most the number of test samples, at least 2).
        max_words: texts are cut to this many words.
        seed: seed of the fold assignment and of the solver.

    Raises:
        AttributionUnavailable: no author text, or neither base answers nor other authors' text.
        ValueError: answers not aligned with the references.
    """
    n = len(references)
    for name, texts in answers.items():
        if len(texts) != n:
            raise ValueError(f"{name}: {len(texts)} answers for {n} references")
    if base_answers is not None and len(base_answers) != n:
        raise ValueError(f"base answers: {len(base_answers)} for {n} references")
    if not author_texts:
        raise AttributionUnavailable("no author text in the training split to learn the author from")
    if not base_answers and not other_texts:
        raise AttributionUnavailable(
            "no other writing to contrast the author with: evaluate the base version or add other authors"
        )
    folds = max(2, min(folds, n)) if n >= 2 else 1
    sample_fold = _fold_of(n, folds, seed)
    other_fold = _fold_of(len(other_texts), folds, seed + 1)
    attributed = {name: 0 for name in answers}
    held_author_right = held_other_right = held_author = held_other = 0
    trained = {"author": 0.0, "base_answers": 0.0, "other_authors": 0.0}
    for k in range(folds):
        in_fold = [i for i in range(n) if sample_fold[i] == k] if folds > 1 else list(range(n))
        train_base = [base_answers[i] for i in range(n) if sample_fold[i] != k] if base_answers else []
        train_other = [t for i, t in enumerate(other_texts) if other_fold[i] != k or folds == 1]
        held_negatives = [base_answers[i] for i in in_fold] if base_answers and folds > 1 else []
        held_negatives += [t for i, t in enumerate(other_texts) if other_fold[i] == k and folds > 1]
        classifier = AttributionClassifier(
            author_texts, train_base + train_other, max_words=max_words, seed=seed
        )
        trained["author"] += len(author_texts) / folds
        trained["base_answers"] += len(train_base) / folds
        trained["other_authors"] += len(train_other) / folds
        for name, texts in answers.items():
            attributed[name] += int(classifier.is_author([texts[i] for i in in_fold]).sum())
        held_author += len(in_fold)
        held_author_right += int(classifier.is_author([references[i] for i in in_fold]).sum())
        held_other += len(held_negatives)
        held_other_right += int((~classifier.is_author(held_negatives)).sum())
    recall = held_author_right / held_author if held_author else 0.0
    specificity = held_other_right / held_other if held_other else None
    accuracy = recall if specificity is None else (recall + specificity) / 2
    return AttributionResult(
        rates={name: count / n if n else 0.0 for name, count in attributed.items()},
        classifier_accuracy=accuracy,
        author_recall=recall,
        folds=folds,
        training={key: round(value, 1) for key, value in trained.items()},
    )
