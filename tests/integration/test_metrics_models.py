"""Metrics that need a model: author perplexity (tiny twins), embedding similarity and retrieval (MiniLM, Qdrant Edge),
and the attribution classifier and style distance on the shared handbook corpus (two real authors)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from llm_engineering.domain.chat import build_messages, render_prompt
from llm_engineering.infrastructure.embeddings import default_model_path, load_embedder
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
from llm_engineering.model.evaluation.attribution import AttributionClassifier, passages, shuffled
from llm_engineering.model.evaluation.perplexity import reference_nll
from llm_engineering.model.evaluation.retrieval import retrieval_scores
from llm_engineering.model.evaluation.similarity import embedding_similarities
from llm_engineering.model.evaluation.style import style_distance
from llm_engineering.model.generation import load_causal_lm
from tests.evaluation_fixtures import (
    author_texts,
    cleaned_document,
    fill_feature_store,
    instructions,
    tiny_twins,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def twins() -> dict[str, Path]:
    return tiny_twins()


def perplexity(folder: Path, references: list[str]) -> float:
    model, tokenizer = load_causal_lm(folder)
    prompts = [
        render_prompt(tokenizer, build_messages(q, author="Ada Byron"))
        for q in instructions(len(references), seed=7)
    ]
    return reference_nll(model, tokenizer, prompts=prompts, references=references, batch_size=3).perplexity


def test_author_perplexity_is_lowest_for_the_twin_on_the_authors_held_out_text(twins: dict[str, Path]):
    held_out = author_texts("ada", 8, seed=11)
    shuffled = []
    for text in held_out:
        words = text.split()
        random.Random(0).shuffle(words)
        shuffled.append(" ".join(words))
    twin_on_author = perplexity(twins["twin"], held_out)
    assert twin_on_author < perplexity(twins["base"], held_out) / 3
    assert twin_on_author < perplexity(twins["twin"], author_texts("bo", 8, seed=11)) / 3
    assert twin_on_author < perplexity(twins["twin"], shuffled)


def test_perplexity_counts_only_reference_tokens_and_truncates_them(twins: dict[str, Path]):
    model, tokenizer = load_causal_lm(twins["twin"])
    prompts = [render_prompt(tokenizer, build_messages("Why?", author="Ada Byron"))] * 2
    references = author_texts("ada", 2, seed=3)
    full = reference_nll(model, tokenizer, prompts=prompts, references=references)
    expected = sum(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in references)
    assert full.tokens == expected
    cut = reference_nll(model, tokenizer, prompts=prompts, references=references, max_reference_tokens=8)
    assert cut.tokens == 16
    # batching (with right padding) does not change the figures
    single = reference_nll(model, tokenizer, prompts=prompts, references=references, batch_size=1)
    assert single.per_sample_nll == pytest.approx(full.per_sample_nll, rel=1e-4)


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(default_model_path())


def test_embedding_similarity_ranks_a_paraphrase_above_an_unrelated_text(embedder):
    reference = "A feature store keeps the features used in training and in serving consistent."
    answers = [
        reference,
        "Feature stores make sure training and serving read the same feature values.",
        "My cat likes to sleep in the afternoon sun by the window.",
    ]
    same, paraphrase, unrelated = embedding_similarities(answers, [reference] * 3, embedder=embedder)
    assert same == pytest.approx(1.0, abs=1e-4)
    assert paraphrase > 0.6 > unrelated


SUBJECTS = {
    "sourdough": "Sourdough bread needs a lively starter, long fermentation and a very hot oven.",
    "kayaking": "Sea kayaking in cold water calls for a drysuit, a paddle float and a practised roll.",
    "compilers": "A compiler parses source code into a syntax tree, optimises it and emits machine code.",
    "beekeeping": "Beekeepers inspect the hive frames for brood, honey stores and signs of varroa mites.",
    "chess": "Chess openings such as the Sicilian Defence fight for the centre from the flank.",
    "astronomy": "Telescopes with larger apertures gather more light and reveal fainter galaxies.",
}


def test_retrieval_finds_each_instructions_source_document(embedder, tmp_path: Path):
    documents = [
        cleaned_document(
            f"doc-{name}",
            f"{text}\n\n{text.split(' ')[0]} is a topic I keep returning to.",
            author="Ada Byron",
        )
        for name, text in SUBJECTS.items()
    ]
    documents.append(
        cleaned_document("other", SUBJECTS["chess"], author="Bo Brash")
    )  # another author's twin text
    queries = [
        "How do I bake bread with a starter?",
        "What gear do I need for paddling at sea?",
        "How does a compiler turn code into machine instructions?",
        "What do you look for when checking a bee hive?",
        "Which chess openings fight for the centre?",
        "Why do bigger telescopes show fainter objects?",
    ]
    with QdrantEdgeStore(tmp_path / "qdrant") as store:
        fill_feature_store(store, documents, embedder=embedder)
        right = retrieval_scores(
            queries,
            [d.id for d in documents[:6]],
            store=store,
            embedder=embedder,
            k=1,
            author_full_name="Ada Byron",
        )
        wrong = retrieval_scores(
            queries,
            [d.id for d in documents[1:6]] + [None],
            store=store,
            embedder=embedder,
            k=1,
            author_full_name="Ada Byron",
        )
    assert (right.hit_at_k, right.mrr, right.queries, right.unresolved) == (1.0, 1.0, 6, 0)
    assert wrong.hit_at_k == 0.0 and wrong.mrr < 0.6 and wrong.unresolved == 1


def corpus_passages(shared_corpus: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Per author: training and held-out passages of 150 words, split by document."""
    articles = json.loads((shared_corpus / "ArticleDocument.json").read_text(encoding="utf-8"))
    by_author: dict[str, list[str]] = {}
    for article in articles:
        by_author.setdefault(article["author_full_name"], []).append(article["content"].get("Content", ""))
    result = {}
    for author, docs in by_author.items():
        cut = int(len(docs) * 0.75)

        def chop(texts: list[str]) -> list[str]:
            return [p for t in texts for p in passages(t, max_words=150) if len(p.split()) >= 50]

        result[author] = (chop(docs[:cut]), chop(docs[cut:]))
    return result


def test_classifier_and_style_tell_the_two_handbook_authors_apart(shared_corpus: Path):
    corpus = corpus_passages(shared_corpus)
    (paul_train, paul_held), (maxime_train, maxime_held) = corpus["Paul Iusztin"], corpus["Maxime Labonne"]
    classifier = AttributionClassifier(paul_train, maxime_train)
    recall = classifier.is_author(paul_held).mean()
    specificity = (~classifier.is_author(maxime_held)).mean()
    assert (recall + specificity) / 2 >= 0.85
    # Paul's own held-out words, shuffled or looped, are not Paul's writing.
    rng = random.Random(0)
    assert classifier.is_author([shuffled(p, rng) for p in paul_held]).mean() <= 0.1
    looped = [" ".join([" ".join(p.split()[:8])] * 6) for p in paul_held]
    assert not classifier.is_author(looped).any()
    own, _ = style_distance(paul_held, paul_train)
    other, _ = style_distance(maxime_held, paul_train)
    assert own < other
