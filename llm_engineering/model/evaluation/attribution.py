"""Attribution rate: the share of a version's answers that a classifier attributes to the author.

The classifier (:class:`AttributionClassifier`) is two scikit-learn logistic regressions that
vote, weighted by how well each told held-out training windows apart: one on the stylometric
profile of :mod:`.style` (function words, sentence and word lengths, punctuation, richness),
one on TF-IDF character 2-4-grams and word 1-3-grams. It
learns the author's training-split text against **other authors' writing** (their cleaned
documents in the feature store, and impostor authors' writing beyond it, ``attribution.impostors``):
real negatives, so it learns "like the author", not "unlike the base model", and writing unlike
every author it knows is not forced onto one of them.

Every text is cut to the same number of words (``words``): the training text of each side is
joined and cut into consecutive windows of exactly ``words`` words, and every text judged is
clipped to its first ``words`` words, so the classifier cannot go by length. Two kinds of
answer are never the author's, whatever their vocabulary:

- a **looping** answer (one word 4-gram 3+ times within its first :data:`LOOP_WORDS` words,
  :func:`~.generated.loops`) is not attributed; judged on a short window, so long human writing
  that reuses a phrase now and then is not caught;
- a **shuffled** text has the author's words in no writer's order: a third regression, on
  word 2-3-grams, learns every training window against the same window shuffled, and a text
  it calls shuffled is not attributed (shuffled author text as plain hard negatives of the
  author classifier was tried first: on the demo's small corpus it then rejected the
  author's own held-out text too).

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
from llm_engineering.model.evaluation.style import profile_from_counts, style_counts


class AttributionUnavailable(LLMTwinError):
    """The classifier cannot be trained: no author text or no other author's text to contrast it with."""


LOOP_WORDS = 50
"""A text whose first 50 words repeat one word 4-gram 3 times is a loop, never the author's writing.
Measured: 0 of the demo authors' 50-word windows, 3% of the handbook's (lists and code); at 100
words the handbook's share is 9%, so the gate looks at 50 whatever the classifier's length."""


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


def style_vectors(texts: Sequence[str]) -> np.ndarray:
    """Each text's stylometric profile as one row: function-word, sentence-length and word-length
    distributions, punctuation per word and MATTR (:mod:`.style`)."""
    rows = []
    for text in texts:
        counts = style_counts(text)
        if not counts[-1]:
            rows.append(np.zeros(counts.size - 1))
            continue
        profile = profile_from_counts(counts)
        rows.append(
            np.concatenate(
                [
                    profile.function_words,
                    profile.sentence_lengths,
                    profile.word_lengths,
                    profile.punctuation / 100,
                    [profile.richness],
                ]
            )
        )
    return np.array(rows)


class AttributionClassifier:
    """A fitted author-vs-other classifier, with the gates that keep loops and word salad out.

    Two logistic regressions vote: one on the stylometric profile (:func:`style_vectors`,
    standardised: carries small corpora of similar topics), one on TF-IDF character 2-4-grams and
    word 1-3-grams (vocabulary and phrasing: carries larger ones). Their log-odds are weighted as
    learned on training windows neither saw (:func:`_learned_weights`). Balanced accuracy by
    document (``python -m bench.attribution``, 4 folds, at 50 / 100 words): the demo's two authors
    0.84 / 0.88 (style alone 0.76 / 0.86, TF-IDF alone 0.60 / 0.64, the plain average this
    replaced 0.73 / 0.81); the handbook's 0.94 / 0.95 (TF-IDF alone 0.93 / 0.95, style alone
    0.78 / 0.85, the average 0.87 / 0.92). A third model, trained on all the training windows
    against the same windows with their words shuffled (word 2-3-grams), says whether a text is
    in a writer's order at all.

    Args:
        author_texts: text written by the author (joined and cut into ``words``-word windows).
        other_texts: text by other authors (joined and cut into windows, so short posts count too).
        words: the one text length, in words, of training and prediction.
        seed: seed of the shuffles and the solvers.

    Raises:
        AttributionUnavailable: either side has no full window.
    """

    def __init__(
        self, author_texts: Sequence[str], other_texts: Sequence[str], *, words: int = 100, seed: int = 0
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        author = windows(author_texts, words=words)
        other = windows(other_texts, words=words)
        if not author or not other:
            raise AttributionUnavailable(
                f"the attribution classifier needs {words}-word windows of the author and of other authors "
                f"({len(author)} author, {len(other)} other)"
            )
        rng = random.Random(seed)
        mixed = [shuffled(w, rng) for w in author + other]
        self.words = words
        self.training = {"author": len(author), "other_authors": len(other), "shuffled": len(mixed)}
        texts, labels = author + other, [1] * len(author) + [0] * len(other)

        def regression(c: float) -> LogisticRegression:
            return LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)

        def voters(texts: Sequence[str], labels: Sequence[int]) -> list:
            tfidf = FeatureUnion(
                [
                    ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)),
                    ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 3), sublinear_tf=True)),
                ]
            )
            style = make_pipeline(FunctionTransformer(style_vectors), StandardScaler())
            return [
                make_pipeline(style, regression(0.1)).fit(texts, labels),
                make_pipeline(tfidf, regression(10.0)).fit(texts, labels),
            ]

        self._voters = voters(texts, labels)
        self.voter_weights, self._bias = _learned_weights(author, other, voters, seed=seed)
        order = TfidfVectorizer(analyzer="word", ngram_range=(2, 3), sublinear_tf=True)
        self._ordered = make_pipeline(order, regression(10.0)).fit(
            texts + mixed, [1] * len(texts) + [0] * len(mixed)
        )

    def voter_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Each voter's probability that each text (clipped to :attr:`words`) is the author's: (voters, texts)."""
        return _probabilities(self._voters, [clip_words(t, self.words) for t in texts])

    def author_probability(self, texts: Sequence[str]) -> np.ndarray:
        """The voters' log-odds, weighted as learned (:func:`_learned_weights`), as one probability per text."""
        if not texts:
            return np.zeros(0)
        combined = self.voter_weights @ _logit(self.voter_probabilities(texts)) + self._bias
        return 1 / (1 + np.exp(-combined))

    def is_author(self, texts: Sequence[str]) -> np.ndarray:
        """True for each text attributed to the author: voted the author's, in a writer's word order, and
        not looping within its first :data:`LOOP_WORDS` words."""
        if not texts:
            return np.zeros(0, dtype=bool)
        clipped = [clip_words(t, self.words) for t in texts]
        votes = self.author_probability(clipped) > 0.5
        ordered = self._ordered.predict(clipped) == 1
        return votes & ordered & np.array([not loops(clip_words(t, LOOP_WORDS)) for t in texts])


STACKING_FOLDS = 3
"""Blocks of consecutive training windows the voters' weights are learned over (one held out at a time)."""


def _probabilities(voters: Sequence, texts: Sequence[str]) -> np.ndarray:
    """Each fitted voter's probability that each text is the author's: (voters, texts)."""
    return np.array([voter.predict_proba(texts)[:, 1] for voter in voters])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _learned_weights(
    author: Sequence[str], other: Sequence[str], voters, *, seed: int
) -> tuple[np.ndarray, float]:
    """How much each voter's log-odds counts, learned on the training windows the voters did not see.

    Each side's windows are cut into :data:`STACKING_FOLDS` blocks of consecutive windows (so a
    block holds whole stretches of documents, not neighbours of its training windows); voters
    trained on the other blocks score the held-out block, and a logistic regression on those
    out-of-block log-odds gives the weights and the bias. Which voter to trust differs by corpus
    (``python -m bench.attribution``: style carries the demo's small corpus, TF-IDF the
    handbook's), so a fixed average is worse than the better voter on both. With fewer than
    :data:`STACKING_FOLDS` windows on a side the voters count equally.
    """
    from sklearn.linear_model import LogisticRegression

    if min(len(author), len(other)) < STACKING_FOLDS:
        return np.full(2, 0.5), 0.0
    scores, labels = [], []
    for fold in range(STACKING_FOLDS):
        held, train = {0: [], 1: []}, {0: [], 1: []}
        for label, side in ((1, author), (0, other)):
            blocks = np.array_split(np.arange(len(side)), STACKING_FOLDS)
            held[label] = [side[i] for i in blocks[fold]]
            train[label] = [side[i] for b, block in enumerate(blocks) if b != fold for i in block]
        fitted = voters(train[1] + train[0], [1] * len(train[1]) + [0] * len(train[0]))
        scores.append(_logit(_probabilities(fitted, held[1] + held[0])).T)
        labels += [1] * len(held[1]) + [0] * len(held[0])
    stacker = LogisticRegression(class_weight="balanced", random_state=seed).fit(np.vstack(scores), labels)
    return stacker.coef_[0], float(stacker.intercept_[0])


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
    words: int = 100,
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
    held_other = windows(held_docs, words=words)
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
