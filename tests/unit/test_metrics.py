"""Each evaluation metric on inputs whose answer is known: the author's own text scores as the author."""

from __future__ import annotations

import random

import pytest

from llm_engineering.configs.evaluating import AttributionConfig
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.model.evaluation.attribution import (
    AttributionClassifier,
    AttributionUnavailable,
    attribution_rates,
    windows,
)
from llm_engineering.model.evaluation.generated import distinct_values, ended_flags, loop_rate, loops
from llm_engineering.model.evaluation.intervals import mean_interval, worse_beyond
from llm_engineering.model.evaluation.retrieval import rank_of, source_document_ids
from llm_engineering.model.evaluation.rouge import lcs_length, mean_rouge_l, rouge_l
from llm_engineering.model.evaluation.score import impostor_documents
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
    assert accuracy >= 0.9


def bo_documents(count: int, seed: int) -> list[str]:
    return [" ".join(author_texts("bo", 3, seed=seed + i)) for i in range(count)]


def test_attribution_rates_rank_the_author_like_version_first_and_report_held_out_accuracy():
    found = attribution_rates(
        author_texts=author_texts("ada", 40, seed=0),
        references=author_texts("ada", 20, seed=5),
        answers={"twin": author_texts("ada", 20, seed=6), "base": author_texts("bo", 20, seed=6)},
        other_documents=bo_documents(12, seed=100),
    )
    assert found.rates["twin"] >= 0.7
    assert found.rates["base"] <= 0.1
    assert found.flags["twin"] == [float(f) for f in found.flags["twin"]] and len(found.flags["twin"]) == 20
    assert found.classifier_accuracy >= 0.8 and found.other_specificity >= 0.9
    assert found.training["other_authors"] > 0 and found.training["shuffled"] > 0


def test_a_looping_answer_and_a_shuffled_answer_are_not_attributed_to_the_author():
    own = author_texts("ada", 12, seed=7)
    first_sentence = [text.split(";")[0] + "." for text in own]
    found = attribution_rates(
        author_texts=author_texts("ada", 40, seed=0),
        references=author_texts("ada", 12, seed=5),
        answers={
            "author": own,
            "looping": [" ".join([sentence] * 6) for sentence in first_sentence],
            "shuffled": shuffled_words(own, seed=3),
        },
        other_documents=bo_documents(12, seed=100),
    )
    assert found.rates["author"] >= 0.7  # the author's own held-out words are theirs...
    assert found.rates["looping"] == 0.0  # ...but not repeated in a loop...
    assert found.rates["shuffled"] <= 0.1  # ...nor in no author's order
    assert found.shuffled_rejected >= 0.9


def test_every_text_is_cut_to_the_same_number_of_words():
    assert windows(["one two three", "four five six seven"], words=3) == ["one two three", "four five six"]
    classifier = AttributionClassifier(author_texts("ada", 20, seed=0), bo_documents(6, seed=0), words=30)
    assert classifier.words == 30 and classifier.training["author"] >= 20


def topic_texts(vocabulary: list[str], count: int, seed: int) -> list[str]:
    """Sentences of one template whose content words come from ``vocabulary``: one style, one topic."""
    rng = random.Random(seed)
    templates = [
        "The {} of a {} is in the {}.",
        "A {} and the {} went by a {}.",
        "Her {} was on his {} at the {}.",
    ]
    return [
        " ".join(rng.choice(templates).format(*rng.sample(vocabulary, 3)) for _ in range(8))
        for _ in range(count)
    ]


def test_the_voters_are_weighted_by_how_well_each_told_held_out_windows_apart():
    # Same sentences, same word lengths, different topic words: only the TF-IDF voter can tell
    # the two apart, so it must carry the vote.
    ada_words = ["kettle", "garden", "ribbon", "lantern", "pillow", "copper", "meadow", "button"]
    bo_words = ["marble", "cotton", "harbor", "pepper", "candle", "tunnel", "willow", "pocket"]
    classifier = AttributionClassifier(topic_texts(ada_words, 30, seed=0), topic_texts(bo_words, 30, seed=1))
    style_weight, tfidf_weight = classifier.voter_weights
    assert tfidf_weight > 2 * abs(style_weight)
    held = topic_texts(ada_words, 10, seed=2) + topic_texts(bo_words, 10, seed=3)
    assert classifier.is_author(held).tolist() == [True] * 10 + [False] * 10


def test_attribution_needs_another_author_to_contrast_the_author_with():
    with pytest.raises(AttributionUnavailable, match="no other author"):
        attribution_rates(author_texts=["a b c"], references=["a"], answers={"v": ["a"]}, other_documents=[])
    with pytest.raises(AttributionUnavailable, match="no author text"):
        attribution_rates(author_texts=[], references=["a"], answers={"v": ["a"]}, other_documents=["x y"])


# -- generated text: loops, endings, variety, intervals ---------------------------------------


LOOPING = "The model didn't know how to split a paragraph. " * 9


@pytest.mark.parametrize(
    ("text", "looping"),
    [
        (LOOPING, True),
        ("a b c d a b c d a b c d", True),  # one 4-gram three times
        ("a b c d a b c d", False),  # twice is not a loop
        ("Punctuation, CASE: a b c d. A B C D! a, b, c, d?", True),  # words are compared folded
        ("", False),
    ],
)
def test_loops_means_one_word_4gram_three_times(text: str, looping: bool):
    assert loops(text) is looping


def test_loop_rate_ended_rate_and_distinct_2():
    answers = [LOOPING, "Chunk by meaning, not by size.", "Measure first; then tune the index."]
    assert loop_rate(answers) == pytest.approx(1 / 3)
    assert ended_flags(["stop", "length", "stop"]) == [1.0, 0.0, 1.0]
    values = distinct_values([*answers, "one"])
    assert values[1] == values[2] == 1.0 and values[0] < 0.2 and values[3] is None


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_samples():
    few = [1.0, 0.0] * 5
    many = [1.0, 0.0] * 200
    low, high = mean_interval(few)
    assert low < 0.5 < high and (low, high) == mean_interval(few)  # seeded: the same twice
    narrow = mean_interval(many)
    assert narrow[1] - narrow[0] < (high - low) / 3
    assert mean_interval([0.0] * 16) == (0.0, 0.0)
    assert mean_interval([]) is None and mean_interval([None]) is None


def test_worse_beyond_needs_disjoint_intervals_on_the_worse_side():
    assert worse_beyond((0.4, 0.8), (0.0, 0.1), better="lower")
    assert not worse_beyond((0.05, 0.8), (0.0, 0.1), better="lower")
    assert worse_beyond((0.1, 0.2), (0.3, 0.5), better="higher")
    assert not worse_beyond(None, (0.3, 0.5), better="higher")


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


# -- impostor authors ---------------------------------------------------------------------------


def test_impostor_writing_is_read_from_each_authors_folders_except_the_skipped_and_cleaned(tmp_path):
    (tmp_path / "cy" / "posts").mkdir(parents=True)
    (tmp_path / "cy" / "one.md").write_text("# Cy\n\n**Cy** writes\nthis.", encoding="utf-8")
    (tmp_path / "cy" / "posts" / "two.txt").write_text("And this.", encoding="utf-8")
    (tmp_path / "cy" / "scan.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "cy" / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "di").mkdir()
    (tmp_path / "di" / "three.md").write_text("Di writes that.", encoding="utf-8")
    impostors = {"Cy": [tmp_path / "cy"], "Di": [tmp_path / "di"]}
    assert impostor_documents(impostors, skip=set()) == [
        "# Cy\n\nCy writes this.",
        "And this.",
        "Di writes that.",
    ]
    assert impostor_documents(impostors, skip={"Di"}) == ["# Cy\n\nCy writes this.", "And this."]
    with pytest.raises(LLMTwinError, match="impostor author 'Ed' is not at .*nowhere"):
        impostor_documents({"Ed": [tmp_path / "nowhere"]}, skip=set())


def test_the_default_impostors_are_the_demo_authors_and_their_writing_ships_with_the_project():
    impostors = AttributionConfig().impostors
    assert set(impostors) == {"Maya Lindqvist", "Theo Castellanos"}
    theo, maya = (impostor_documents(impostors, skip={other}) for other in impostors)
    assert len(maya) >= 10 and len(theo) >= 7
    assert not set(maya) & set(theo)
    assert impostor_documents(impostors, skip=set(impostors)) == []


def test_a_missing_impostor_folder_stops_the_config_before_the_run():
    with pytest.raises(ValueError, match="impostor author 'Ed' is not a folder: .*no/such/folder"):
        AttributionConfig(impostors={"Ed": ["no/such/folder"]})
