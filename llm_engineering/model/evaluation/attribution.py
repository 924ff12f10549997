"""Attribution rate: the share of a version's answers that a classifier attributes to the author.

The classifier is scikit-learn's logistic regression over two TF-IDF views of the text:
character 2-4-grams within word boundaries (spelling, punctuation habits, morphology) and
word uni- to trigrams (vocabulary, turns of phrase, word order). It learns the author's
training-split text against **other authors' writing** (their cleaned documents in the
feature store): real negatives, so it learns "like the author", not "unlike the base model".

Every text is cut to the same number of words (``words``): the training text of each side is
joined and cut into consecutive windows of exactly ``words`` words, and every text judged is
clipped to its first ``words`` words, so the classifier cannot go by length. Two kinds of
answer are never the author's, whatever their vocabulary:

- a **looping** answer (one word 4-gram 3+ times within its first ``words`` words,
  :func:`~.generated.loops`) is not attributed; judged on the clipped text, like everything
  else, so long human writing that reuses a phrase now and then is not caught;
- a **shuffled** text has the author's words in no author's order: every window of the
  author's text also goes in with its words shuffled, as a hard negative, so the classifier
  must learn word order (measured on the handbook's two authors: shuffled held-out text of
  Paul Iusztin attributed to him 49% of the time with half the windows shuffled, 7% with all).

Beside the rates it reports its own **held-out accuracy**: balanced accuracy over the
author's held-out references (the test split, which no classifier saw) and windows of other
authors' held-out documents (a seeded share kept out of training). A rate is only worth
reading when that accuracy is well above 0.5.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.model.evaluation.generated import loops


class AttributionUnavailable(LLMTwinError):
    """The classifier cannot be trained: no author text or no other author's text to contrast it with."""


def clip_words(text: str, max_words: int) -> str:
    """The first ``max_words`` words of ``text`` (whitespace kept as single spaces)."""
    return " ".join(text.split()[:max_words])


def passages(text: str, *, max_words: int) -> list[str]:
    """``text`` cut into consecutive passages of at most ``max_words`` words (the last may be shorter)."""
    tokens = text.split()
    return [" ".join(tokens[i : i + max_words]) for i in range(0, len(tokens), max_words)]


def windows(texts: Sequence[str], *, words: int) -> list[str]:
    """``texts`` joined in order and cut into windows of exactly ``words`` words (a shorter tail is dropped)."""
    tokens = [token for text in texts for token in text.split()]
    return [" ".join(tokens[i : i + words]) for i in range(0, len(tokens) - words + 1, words)]


def shuffled(text: str, rng: random.Random) -> str:
    """``text`` with its words in a random order."""
    tokens = text.split()
    rng.shuffle(tokens)
    return " ".join(tokens)


class AttributionClassifier:
    """A fitted author-vs-other classifier.

    Args:
        author_texts: text written by the author (joined and cut into ``words``-word windows).
        other_texts: text by other authors, one item per document (each cut into windows).
        words: the one text length, in words, of training and prediction.
        shuffled_share: shuffled author windows added as negatives, per author window.
        seed: seed of the shuffles and the solver.

    Raises:
        AttributionUnavailable: either side has no full window.
    """

    def __init__(
        self,
        author_texts: Sequence[str],
        other_texts: Sequence[str],
        *,
        words: int = 50,
        shuffled_share: float = 1.0,
        seed: int = 0,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        author = windows(author_texts, words=words)
        other = [w for text in other_texts for w in windows([text], words=words)]
        if not author or not other:
            raise AttributionUnavailable(
                f"the attribution classifier needs {words}-word windows of the author and of other authors "
                f"({len(author)} author, {len(other)} other)"
            )
        rng = random.Random(seed)
        hard = [
            shuffled(w, rng)
            for w in rng.sample(author, min(len(author), max(1, round(len(author) * shuffled_share))))
        ]
        self.words = words
        self.training = {"author": len(author), "other_authors": len(other), "shuffled_author": len(hard)}
        features = FeatureUnion(
            [
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)),
                ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 3), sublinear_tf=True)),
            ]
        )
        classifier = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000, random_state=seed)
        self._pipeline = make_pipeline(features, classifier)
        negatives = other + hard
        self._pipeline.fit(author + negatives, [1] * len(author) + [0] * len(negatives))

    def is_author(self, texts: Sequence[str]) -> np.ndarray:
        """True for each text attributed to the author (a text looping within its first ``words`` words never is)."""
        if not texts:
            return np.zeros(0, dtype=bool)
        clipped = [clip_words(t, self.words) for t in texts]
        predicted = self._pipeline.predict(clipped) == 1
        return predicted & np.array([not loops(t) for t in clipped])


@dataclass
class AttributionResult:
    """Attribution per version and how good the classifier was.

    Attributes:
        rates: row name -> share of its answers attributed to the author.
        flags: row name -> 1.0 / 0.0 per answer (attributed or not), for intervals.
        classifier_accuracy: balanced accuracy on held-out author references and held-out other authors.
        author_recall: share of the author's held-out references attributed to the author.
        other_specificity: share of the other authors' held-out windows not attributed to the author.
        shuffled_rejected: share of the author's held-out references, words shuffled, not attributed.
        words: the one text length, in words.
        training: windows the classifier learned from, per kind.
    """

    rates: dict[str, float]
    flags: dict[str, list[float]]
    classifier_accuracy: float
    author_recall: float
    other_specificity: float
    shuffled_rejected: float
    words: int
    training: dict[str, int] = field(default_factory=dict)


def attribution_rates(
    *,
    author_texts: Sequence[str],
    references: Sequence[str],
    answers: Mapping[str, Sequence[str]],
    other_documents: Sequence[str],
    words: int = 50,
    held_out_share: float = 0.25,
    seed: int = 0,
) -> AttributionResult:
    """Attribution of each row's answers, and the classifier's held-out accuracy (see the module docstring).

    Args:
        author_texts: the author's training-split text (positives).
        references: the author's held-out reference answers of the test samples.
        answers: row name -> its answers.
        other_documents: other authors' documents (negatives); a seeded ``held_out_share`` of them is
            kept out of training to measure the classifier.
        words: every text is cut to this many words.
        held_out_share: share of the other documents held out (at least one when there are two).
        seed: seed of the held-out choice, the shuffles and the solver.

    Raises:
        AttributionUnavailable: no author text, or no other author's text.
    """
    if not author_texts:
        raise AttributionUnavailable("no author text in the training split to learn the author from")
    if not other_documents:
        raise AttributionUnavailable(
            "no other author's writing to contrast the author with: add a second author to the feature store"
        )
    order = list(range(len(other_documents)))
    random.Random(seed).shuffle(order)
    held = max(1, int(len(order) * held_out_share)) if len(order) >= 2 else 0
    held_docs = [other_documents[i] for i in order[:held]]
    train_docs = [other_documents[i] for i in order[held:]]
    classifier = AttributionClassifier(author_texts, train_docs, words=words, seed=seed)
    flags = {
        name: classifier.is_author(list(texts)).astype(float).tolist() for name, texts in answers.items()
    }
    held_author = [r for r in references if r.split()]
    recall = float(classifier.is_author(held_author).mean()) if held_author else 0.0
    held_other = [w for text in held_docs for w in windows([text], words=words)]
    specificity = float((~classifier.is_author(held_other)).mean()) if held_other else float("nan")
    rng = random.Random(seed + 1)
    shuffled_refs = [shuffled(clip_words(r, words), rng) for r in held_author]
    rejected = float((~classifier.is_author(shuffled_refs)).mean()) if shuffled_refs else 0.0
    accuracy = recall if np.isnan(specificity) else (recall + specificity) / 2
    return AttributionResult(
        rates={name: (sum(f) / len(f) if f else 0.0) for name, f in flags.items()},
        flags=flags,
        classifier_accuracy=accuracy,
        author_recall=recall,
        other_specificity=specificity,
        shuffled_rejected=rejected,
        words=words,
        training=classifier.training,
    )
