"""Extracts: cutting rules, verbatim text, and reading the feature store in pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.datasets.extracts import (
    build_extracts,
    extract_spans,
    measure,
    split_document,
)
from llm_engineering.application.feature_store import count_cleaned_documents, iter_cleaned_documents
from llm_engineering.application.preprocessing.cleaning import clean_article, clean_post
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


def test_a_code_block_that_opens_an_extract_takes_the_paragraph_introducing_it_along():
    lead = "Here is how I load the model, in two lines:"
    code = "```python\nmodel = load()\nmodel.eval()\n```"
    text = "\n\n".join([PARAGRAPH.strip(), PARAGRAPH.strip(), lead, code, PARAGRAPH.strip()])
    extracts = split_document(document(text), max_length=600, min_length=100)

    opening = next(e for e in extracts if code in e.content)
    assert opening.content.startswith(lead)  # the answer opens with the author's prose
    assert not any(e.content.startswith("```") for e in extracts)
    assert extracts[0].content.rstrip().endswith(PARAGRAPH.strip())  # the paragraph moved, whole

    # A lead-in that cannot fit with its code block stays where it was.
    long_code = "```python\n" + "x = 1\n" * 120 + "```"
    text = "\n\n".join([PARAGRAPH.strip(), PARAGRAPH.strip(), lead, long_code])
    spans = [e.content for e in split_document(document(text), max_length=600, min_length=100)]
    assert any(c.rstrip().endswith(lead) for c in spans)


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


# -- verbatim: every extract is a slice of the cleaned text ------------------------------


def _assert_slices(text: str, *, max_length: int, min_length: int, unit: str = "characters") -> list[str]:
    """Every extract is ``text[start:end]``, in order, not overlapping, with nothing but blanks left out."""
    spans = extract_spans(text, max_length=max_length, min_length=min_length, unit=unit)
    extracts = split_document(document(text), max_length=max_length, min_length=min_length, unit=unit)
    assert [e.content for e in extracts] == [text[s:e] for s, e in spans]
    position = 0
    for start, end in spans:
        extract = text[start:end]
        assert start >= position and extract == extract.rstrip() and extract.split("\n")[0].strip()
        assert not text[position:start].strip() or position == 0 or start == position  # only blanks between
        position = end
    if spans:
        covered = "".join(text[s:e] for s, e in spans)
        assert "".join(covered.split()) == "".join(text.split())  # no word lost
    return [text[s:e] for s, e in spans]


QUOTED = " ".join(
    f'She wrote "step {i} keeps the pipeline honest." Then (as always.) it ran. [Note {i}.] “Done!”'
    for i in range(20)
)


@pytest.mark.parametrize(
    "text",
    [
        QUOTED,
        QUOTED.replace(". ", ".   "),
        "# Title\n\n\n\n" + QUOTED + "\n\n\n## Next\n\n" + QUOTED,
        "Intro line:\n  * first item says a thing.\n  * second item says another.\n> a quote.\n\n" * 12,
        "| Year | Loss |\n|---|---|\n" + "\n".join(f"| {1990 + i}. Start | 0.{i}. End |" for i in range(40)),
        "```python\n"
        + "\n\n".join(f"value_{i} = compute({i})  # step {i}. Next." for i in range(40))
        + "\n```",
        "    indented code line one.\n\n    Second. Line.\n" * 15 + "\nAnd prose after it, with words.",
        "word " * 400,
        "x" * 900 + " tail words here" + " and more words" * 10,
        "Post line one!\nPost line two?\n\n\nhashtag #mlops\n" * 20,
        "  \n\n" + PARAGRAPH * 3 + "\n\n  ",
    ],
)
@pytest.mark.parametrize(("unit", "max_length", "min_length"), [("characters", 300, 60), ("words", 40, 8)])
def test_every_extract_is_an_exact_slice_of_the_text(text, unit, max_length, min_length):
    extracts = _assert_slices(text, max_length=max_length, min_length=min_length, unit=unit)
    assert extracts


def test_a_closing_quote_or_bracket_after_the_full_stop_stays_with_its_sentence():
    extracts = _assert_slices(QUOTED, max_length=200, min_length=40)
    assert len(extracts) > 3
    for extract in extracts:
        assert extract.endswith(("”", ".)", ".]", '."', "ran.")), extract[-30:]
        assert not extract.startswith(("”", ")", "]", '"  ')), extract[:30]
    assert 'She wrote "step 3 keeps the pipeline honest." Then (as always.) it ran.' in "\n".join(extracts)


def test_blank_lines_and_spaces_between_blocks_are_kept_as_they_are():
    text = "First paragraph here, long enough.\n\n\n\nSecond   paragraph  here, long enough."
    (extract,) = split_document(document(text), max_length=500, min_length=10)
    assert extract.content == text


def test_every_extract_of_the_real_corpus_is_a_slice_of_its_cleaned_text(shared_corpus: Path):
    records = json.loads((shared_corpus / "ArticleDocument.json").read_text(encoding="utf-8"))
    total = 0
    for record in records:
        _, text = clean_article(record["content"])
        for max_length, min_length in ((1200, 200), (300, 60)):
            total += len(_assert_slices(text, max_length=max_length, min_length=min_length))
        post = clean_post({"Content": record["content"]["Content"][:3000]})
        total += len(_assert_slices(post, max_length=400, min_length=50))
    assert total > 1000
