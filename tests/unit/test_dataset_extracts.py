"""Extracts: cutting rules, verbatim text, and reading the feature store in pages."""

from __future__ import annotations

import pytest

from llm_engineering.application.datasets.extracts import (
    build_extracts,
    count_cleaned_documents,
    measure,
    split_document,
)
from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.domain.cleaned_documents import CleanedDocument, cleaned_collection
from llm_engineering.domain.types import DataCategory
from tests.fakes import InMemoryVectorStore


def document(
    content: str,
    *,
    id_: str = "doc-1",
    category: str = "articles",
    author: str = "Maya Lindqvist",
    title: str | None = "A Title",
) -> CleanedDocument:
    return CleanedDocument(
        id=id_,
        category=category,
        title=title,
        content=content,
        platform="local",
        author_id="author-1",
        author_full_name=author,
        link=f"file:///{id_}",
        source_hash="hash",
    )


PARAGRAPH = "This sentence has exactly eight words in it. " * 6  # ~270 characters


def long_article() -> str:
    return "\n\n".join(
        [
            "# A Title",
            PARAGRAPH.strip(),
            "## First section",
            PARAGRAPH.strip(),
            PARAGRAPH.strip(),
            "## Second section",
            "```python\ndef f():\n\n    return 1\n```",
            PARAGRAPH.strip(),
        ]
    )


def test_extracts_stay_within_the_limit_and_are_verbatim_text_of_the_document():
    doc = document(long_article())
    extracts = split_document(doc, max_length=450, min_length=100)

    assert len(extracts) >= 3
    for extract in extracts:
        assert measure(extract.content, "characters") <= 450
        for block in extract.content.split("\n\n"):
            assert block in doc.content  # the author's own text, not rewritten
        assert (extract.document_id, extract.author_full_name, extract.category, extract.title) == (
            "doc-1",
            "Maya Lindqvist",
            DataCategory.ARTICLES,
            "A Title",
        )
    assert [e.index for e in extracts] == list(range(len(extracts)))
    assert len({e.id for e in extracts}) == len(extracts)


def test_a_heading_opens_the_extract_of_its_section_and_code_blocks_stay_whole():
    extracts = split_document(document(long_article()), max_length=450, min_length=100)

    # The first section's heading did not fit after the opening paragraph: it moved on with its text.
    assert not any(e.content.rstrip().split("\n")[-1].startswith("#") for e in extracts)
    first = next(e for e in extracts if "## First section" in e.content)
    assert first.content.startswith("## First section") and first.heading == "First section"
    assert extracts[0].heading == "A Title"
    code = next(e for e in extracts if "```python" in e.content)
    assert "```python\ndef f():\n\n    return 1\n```" in code.content
    assert all(e.heading == "Second section" for e in extracts if e.index > code.index)


def test_a_long_paragraph_is_cut_at_sentences_and_a_short_tail_joins_the_previous_extract():
    sentences = " ".join(f"Sentence number {i} says something useful." for i in range(40))
    doc = document(sentences + "\n\nShort tail.")
    extracts = split_document(doc, max_length=300, min_length=50)

    assert all(e.content.rstrip().endswith(".") for e in extracts)
    assert all(measure(e.content, "characters") <= 300 + 50 for e in extracts)
    assert extracts[-1].content.endswith("Short tail.")
    assert all(measure(e.content, "characters") >= 50 for e in extracts)


@pytest.mark.parametrize(("unit", "max_length", "min_length"), [("characters", 400, 100), ("words", 60, 15)])
def test_lengths_are_counted_in_the_configured_unit(unit, max_length, min_length):
    extracts = split_document(
        document(long_article()), max_length=max_length, min_length=min_length, unit=unit
    )
    assert extracts and all(measure(e.content, unit) <= max_length for e in extracts)


def test_a_document_shorter_than_the_minimum_gives_no_extract_and_is_counted():
    report = build_extracts(
        [document("Too short.", id_="short"), document(long_article(), id_="long")],
        max_length=600,
        min_length=100,
        progress=False,
    )
    assert {e.document_id for e in report.extracts} == {"long"}
    assert report.too_short == {"articles": 1}
    assert report.documents == {"articles": 2}


def test_documents_are_read_in_pages_filtered_by_author_inside_the_store():
    store = InMemoryVectorStore()
    store.add_documents(document(long_article(), id_=f"doc-{i:02d}") for i in range(7))
    store.add_documents([document(long_article(), id_="other", author="Someone Else")])
    store.add_documents([document("A post by Maya. " * 20, id_="post-1", category="posts", title=None)])

    documents = list(iter_cleaned_documents(store, author_full_names=["Maya Lindqvist"], page_size=3))

    assert [d.id for d in documents] == [*(f"doc-{i:02d}" for i in range(7)), "post-1"]
    article_scrolls = [c for c in store.calls if c[:2] == ("scroll", cleaned_collection("articles"))]
    assert len(article_scrolls) == 3 and all(c[2]["limit"] == 3 for c in article_scrolls)
    assert count_cleaned_documents(store, author_full_names=["Maya Lindqvist"]) == 8
    assert count_cleaned_documents(store, categories=["repositories"]) == 0
