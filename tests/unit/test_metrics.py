"""Each evaluation metric on inputs whose answer is known: the author's own text scores as the author."""

from __future__ import annotations

import random

import pytest

from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.model.evaluation.attribution import (
    AttributionClassifier,
    AttributionUnavailable,
    attribution_rates,
)
from llm_engineering.model.evaluation.retrieval import rank_of, source_document_ids
from llm_engineering.model.evaluation.rouge import lcs_length, mean_rouge_l, rouge_l
from llm_engineering.model.evaluation.style import PUNCTUATION, mattr, style_distance, style_profile
from tests.evaluation_fixtures import author_texts


def shuffled_words(texts: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.replace(".", "").replace(";", "").replace(",", "").split()
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


# -- ROUGE-L ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reference", "expected"),
    [
        ("the cat sat", "the cat sat", 1.0),
        ("dogs bark loudly", "the cat sat", 0.0),
        # LCS 6 of 7 answer words and 6 of 6 reference words: F1 = 12/13.
        ("the cat was found under the bed", "the cat was under the bed", 12 / 13),
        # Order matters: LCS of "a b c d" and "d c b a" is 1 -> P = R = 1/4.
        ("a b c d", "d c b a", 0.25),
        ("", "the cat", 0.0),
    ],
)
def test_rouge_l_known_values(answer: str, reference: str, expected: float):
    assert rouge_l(answer, reference) == pytest.approx(expected)


def test_lcs_is_symmetric_and_case_folded_by_rouge():
    assert lcs_length("abcbdab", "bdcaba") == lcs_length("bdcaba", "abcbdab") == 4
    assert rouge_l("The Cat SAT", "the cat sat") == 1.0


def test_mean_rouge_l_needs_aligned_lists():
    assert mean_rouge_l(["a b", "c"], ["a b", "d"]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="as many answers"):
        mean_rouge_l(["a"], [])


# -- style distance ---------------------------------------------------------------------------


def test_mattr_known_values():
    assert mattr(["a", "b", "c"]) == 1.0
    assert mattr(["a", "a", "a", "a"]) == 0.25
    # windows of 2 over a b a b: every window has 2 types -> 1.0
    assert mattr(["a", "b", "a", "b"], window=2) == 1.0
    assert mattr(["a", "a", "b", "b"], window=2) == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_identical_text_has_zero_style_distance():
    texts = author_texts("ada", 5, seed=0)
    distance, parts = style_distance(texts, texts)
    assert distance == pytest.approx(0.0, abs=1e-9)
    assert set(parts) == {"function_words", "sentence_lengths", "word_lengths", "punctuation", "richness"}


def test_the_authors_held_out_text_is_closer_than_another_author_or_shuffled_words():
    train, held_out = author_texts("ada", 40, seed=0), author_texts("ada", 10, seed=1)
    own, _ = style_distance(held_out, train)
    other, _ = style_distance(author_texts("bo", 10, seed=2), train)
    shuffled, parts = style_distance(shuffled_words(held_out), train)
    assert own < 0.1
    assert other > own + 0.15
    assert shuffled > own
    assert parts["punctuation"] > 0.5  # the shuffled text lost Ada's semicolons and commas


def test_style_profile_counts_sentences_and_punctuation():
    profile = style_profile(["One two three. Four five!", "Six; seven, eight?"])
    assert profile.words == 8
    assert profile.sentence_lengths[0] == pytest.approx(1.0)  # every sentence has 1-5 words
    rates = dict(zip(PUNCTUATION, profile.punctuation, strict=True))
    # One each of ! ; , ? in 8 words (full stops end sentences and are measured by sentence lengths).
    assert {mark: rates[mark] for mark in "!;,?"} == {"!": 12.5, ";": 12.5, ",": 12.5, "?": 12.5}
    assert sum(rates.values()) == pytest.approx(50.0)


def test_style_profile_of_no_words_is_refused():
    with pytest.raises(ValueError, match="no words"):
        style_profile(["...", ""])


# -- attribution ------------------------------------------------------------------------------


def test_classifier_tells_two_synthetic_authors_apart_on_held_out_text():
    classifier = AttributionClassifier(author_texts("ada", 40, seed=0), author_texts("bo", 40, seed=0))
    ada, bo = author_texts("ada", 30, seed=9), author_texts("bo", 30, seed=9)
    accuracy = (classifier.is_author(ada).sum() + (~classifier.is_author(bo)).sum()) / 60
    assert accuracy >= 0.95


def test_attribution_rates_rank_the_author_like_version_first():
    references = author_texts("ada", 20, seed=5)
    found = attribution_rates(
        author_texts=author_texts("ada", 40, seed=0),
        references=references,
        answers={
            "twin": author_texts("ada", 20, seed=6),
            "base": author_texts("bo", 20, seed=6),
        },
        base_answers=author_texts("bo", 20, seed=6),
        folds=4,
    )
    assert found.rates["twin"] >= 0.9
    assert found.rates["base"] <= 0.1
    assert found.classifier_accuracy >= 0.9
    assert found.author_recall >= 0.9
    assert found.folds == 4


def test_attribution_needs_something_to_contrast_the_author_with():
    with pytest.raises(AttributionUnavailable, match="no other writing"):
        attribution_rates(author_texts=["a b c"], references=["a"], answers={"v": ["a"]})
    with pytest.raises(AttributionUnavailable, match="no author text"):
        attribution_rates(author_texts=[], references=["a"], answers={"v": ["a"]}, other_texts=["x y"])


# -- retrieval bookkeeping --------------------------------------------------------------------


def test_rank_counts_distinct_documents():
    assert rank_of(["a", "a", "b", "c"], "c") == 3
    assert rank_of(["a", "b"], "z") is None


def test_references_are_traced_to_the_document_that_holds_them():
    def document(doc_id: str, content: str) -> CleanedDocument:
        return CleanedDocument(
            id=doc_id,
            category="articles",
            content=content,
            platform="local",
            author_id="a",
            author_full_name="Ada",
            link=f"file:///{doc_id}",
            source_hash="h",
        )

    documents = [
        document("d1", "Alpha beta gamma.\n\nDelta   epsilon zeta."),
        document("d2", "Eta theta iota."),
    ]
    found = source_document_ids(["delta epsilon\nzeta", "Theta iota", "not anywhere"], documents)
    assert found == ["d1", "d2", None]
