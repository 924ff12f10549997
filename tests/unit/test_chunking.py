"""Chunking rules, measured with the packaged MiniLM's own tokenizer (loaded without the model)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from llm_engineering.application.preprocessing.chunking import TextChunk, chunk_document, chunk_text
from llm_engineering.application.preprocessing.cleaning import clean_article
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.types import DataCategory
from llm_engineering.infrastructure.embeddings import ModelTokenizer, default_model_path, load_tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> ModelTokenizer:
    return load_tokenizer(default_model_path())


def _prose(paragraphs: int, sentences: int = 6) -> str:
    return "\n\n".join(
        " ".join(
            f"Sentence {s} of paragraph {p} explains how feature pipelines keep embeddings fresh."
            for s in range(sentences)
        )
        for p in range(paragraphs)
    )


def _assert_covers(text: str, chunks: list[TextChunk]) -> None:
    """Chunks are spans of the text, in order, with only blank space left between them."""
    assert chunks, "no chunks"
    assert not text[: chunks[0].start].strip()
    assert not text[chunks[-1].end :].strip()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
    for previous, following in zip(chunks, chunks[1:], strict=False):
        assert following.start > previous.start
        assert not text[previous.end : following.start].strip()  # a gap may hold only blanks


def _words(text: str) -> list[str]:
    return text.split()


def test_the_model_tokenizer_counts_like_the_model(tokenizer):
    assert (tokenizer.max_length, tokenizer.special_tokens) == (256, 2)
    assert tokenizer.count(["hello world", ""]) == [2, 0]
    assert tokenizer.count(["word " * 1000]) == [1000]  # no truncation


@pytest.mark.parametrize(("chunk_size", "chunk_overlap"), [(64, 0), (128, 16), (256, 32), (256, 0)])
def test_every_chunk_fits_and_nothing_is_dropped(tokenizer, chunk_size, chunk_overlap):
    text = _prose(12)
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.token_count == tokenizer.count([chunk.text])[0] + 2 <= chunk_size
    _assert_covers(text, chunks)


def test_a_size_above_the_model_maximum_is_lowered_to_it(tokenizer):
    chunks = chunk_text(_prose(20), tokenizer=tokenizer, chunk_size=1024, chunk_overlap=0)
    assert max(c.token_count for c in chunks) <= 256
    assert max(c.token_count for c in chunks) > 200


@pytest.mark.parametrize("text", ["Hi.", "One short paragraph.\n\nAnd a second one, still short."])
def test_a_short_document_is_one_chunk(tokenizer, text):
    (chunk,) = chunk_text(text, tokenizer=tokenizer, chunk_size=256, chunk_overlap=32)
    assert chunk.text == text and chunk.token_count == tokenizer.count([text])[0] + 2


def test_blank_text_has_no_chunks(tokenizer):
    assert chunk_text(" \n\n ", tokenizer=tokenizer, chunk_size=256, chunk_overlap=32) == []


def test_chunks_overlap_by_whole_sentences_within_the_overlap(tokenizer):
    text = _prose(10)
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=128, chunk_overlap=40)
    for previous, following in zip(chunks, chunks[1:], strict=False):
        assert following.start < previous.end, "no overlap"
        shared = text[following.start : previous.end]
        assert 0 < tokenizer.count([shared])[0] <= 40
        assert re.match(r"Sentence \d", shared), "overlap starts mid-sentence"


def test_no_overlap_when_it_is_zero(tokenizer):
    text = _prose(10)
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=128, chunk_overlap=0)
    assert all(b.start >= a.end for a, b in zip(chunks, chunks[1:], strict=False))
    assert _words(" ".join(c.text for c in chunks)) == _words(text)


def test_long_sentences_overlap_by_their_last_tokens_from_a_word_start(tokenizer):
    text = " ".join(f"word{i}" for i in range(400))  # one sentence, far over a chunk
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=64, chunk_overlap=8)
    _assert_covers(text, chunks)
    for previous, following in zip(chunks, chunks[1:], strict=False):
        assert following.start < previous.end
        assert text[following.start - 1] == " "  # starts at a word
        assert tokenizer.count([text[following.start : previous.end]])[0] <= 8


def test_chunks_end_at_paragraph_breaks_when_half_full(tokenizer):
    text = _prose(8, sentences=3)  # paragraphs of ~50 tokens
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=128, chunk_overlap=0)
    for chunk in chunks:
        assert chunk.text.startswith("Sentence 0 of paragraph"), chunk.text[:40]
        assert chunk.text.endswith("fresh.")


def test_a_code_block_that_fits_stays_whole(tokenizer):
    code = "```python\n" + "\n".join(f"value_{i} = compute({i})" for i in range(12)) + "\n```"
    text = _prose(3) + "\n\n" + code + "\n\n" + _prose(3)
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=256, chunk_overlap=0)
    assert sum(code in c.text for c in chunks) == 1


def test_a_long_code_block_is_cut_only_at_line_breaks(tokenizer):
    lines = [f"    result_{i} = transform(batch[{i}], scale={i} * factor)" for i in range(80)]
    code = "```\n" + "\n".join(lines) + "\n```"
    chunks = chunk_text(code, tokenizer=tokenizer, chunk_size=128, chunk_overlap=0)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.token_count <= 128
        assert (
            chunk.start == 0
            or code[chunk.start - 1] == "\n"
            or code[chunk.start - 5 : chunk.start] == "\n    "
        )
    joined = "\n".join(c.text for c in chunks)
    assert all(line.strip() in joined for line in lines)


def test_repository_text_is_cut_at_lines_never_inside_one(tokenizer):
    source = "\n".join(
        f"def function_{i}(argument):  # sentence. Another one? Yes!\n    return {i}\n" for i in range(60)
    )
    chunks = chunk_text(source, tokenizer=tokenizer, chunk_size=96, chunk_overlap=0, code=True)
    for chunk in chunks:
        assert chunk.token_count <= 96
        assert chunk.start == 0 or source[chunk.start - 1] == "\n" or source[: chunk.start].endswith("\n    ")
        assert chunk.text.rstrip().endswith(("!", ")", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))


def test_a_word_longer_than_a_chunk_is_cut_between_tokens(tokenizer):
    text = "start " + "x" * 3000 + " end"
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=32, chunk_overlap=0)
    assert all(c.token_count <= 32 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_a_real_article_is_chunked_within_bounds(tokenizer, shared_corpus: Path):
    record = json.loads((shared_corpus / "ArticleDocument.json").read_text(encoding="utf-8"))[0]
    _, text = clean_article(record["content"])
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=256, chunk_overlap=32)
    assert len(chunks) > 5
    assert all(c.token_count == tokenizer.count([c.text])[0] + 2 <= 256 for c in chunks)
    _assert_covers(text, chunks)


def _document(content: str, *, document_id: str = "0b7e6b8e-7f5b-4d6b-9f3e-1c2d3e4f5a6b") -> CleanedDocument:
    return CleanedDocument(
        id=document_id,
        category=DataCategory.ARTICLES,
        title="Title",
        content=content,
        platform="example.com",
        author_id="a1",
        author_full_name="Ada Lovelace",
        link="https://example.com/a",
        source_hash="h1",
    )


def test_chunk_ids_are_deterministic_uuids_unique_across_documents(tokenizer):
    text = _prose(10)
    first = chunk_document(_document(text), tokenizer=tokenizer, chunk_size=128, chunk_overlap=16)
    again = chunk_document(_document(text), tokenizer=tokenizer, chunk_size=128, chunk_overlap=16)
    other = chunk_document(
        _document(text, document_id=str(uuid.uuid4())), tokenizer=tokenizer, chunk_size=128, chunk_overlap=16
    )
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    assert not {c.id for c in first} & {c.id for c in other}
    assert all(str(uuid.UUID(c.id)) == c.id for c in first)
    assert [c.index for c in first] == list(range(len(first)))
    edited = chunk_document(
        _document(text.replace("paragraph 9", "section 9")),
        tokenizer=tokenizer,
        chunk_size=128,
        chunk_overlap=16,
    )
    assert [c.id for c in edited][:-2] == [c.id for c in first][:-2]  # unchanged chunks keep their ids
    assert edited[-1].id != first[-1].id


def test_chunks_carry_the_document_fields(tokenizer):
    (chunk,) = chunk_document(_document("Short."), tokenizer=tokenizer, chunk_size=128, chunk_overlap=16)
    assert (chunk.document_id, chunk.author_full_name, chunk.link, chunk.source_hash, chunk.title) == (
        "0b7e6b8e-7f5b-4d6b-9f3e-1c2d3e4f5a6b",
        "Ada Lovelace",
        "https://example.com/a",
        "h1",
        "Title",
    )


def test_table_rows_and_indented_code_are_cut_at_lines_never_at_full_stops(tokenizer):
    rows = [f"| run {i}. Then | loss 0.{i}. Next | Done. OK |" for i in range(40)]
    table = "| Step | Loss | Note |\n|---|---|---|\n" + "\n".join(rows)
    code = "\n".join(f"    print('Step {i}. Then go on. Next')" for i in range(40))
    for text in (table, "Some code follows here.\n\n" + code):
        chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=64, chunk_overlap=0)
        assert len(chunks) > 2
        _assert_covers(text, chunks)
        for chunk in chunks:
            assert (
                chunk.start == 0
                or text[chunk.start - 1] == "\n"
                or text[chunk.start - 4 : chunk.start] == "    "
            )
            assert text[chunk.end : chunk.end + 1] in ("", "\n")


def test_sentences_keep_their_closing_quotes_at_chunk_edges(tokenizer):
    text = " ".join(
        f"She said “pipeline {i} keeps every embedding fresh and every chunk small.” (See note {i}.)"
        for i in range(30)
    )
    chunks = chunk_text(text, tokenizer=tokenizer, chunk_size=48, chunk_overlap=0)
    assert len(chunks) > 2
    _assert_covers(text, chunks)
    for chunk in chunks:
        assert chunk.text.endswith((".”", ".)")), chunk.text[-20:]  # the closing mark stays
