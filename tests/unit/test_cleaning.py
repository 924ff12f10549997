"""Cleaning rules per category, on small inline cases and on real scraped pages of the shared corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llm_engineering.application.preprocessing.boilerplate import author_boilerplate, repeated_lines
from llm_engineering.application.preprocessing.cleaning import (
    clean_article,
    clean_article_text,
    clean_document,
    clean_post,
    clean_repository,
)
from llm_engineering.application.preprocessing.lines import normalise_characters
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument
from llm_engineering.domain.types import DataCategory


def _article(content: str, **extra) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": "A title", "Subtitle": "", "Content": content, **extra},
        platform="example.com",
        author_id="a1",
        author_full_name="Ada Lovelace",
        link="https://example.com/a",
    )


# -- characters and whitespace -----------------------------------------------------------


def test_wrapped_lines_are_joined_and_spaces_collapsed_but_paragraphs_stay():
    text = "A paragraph wrapped at\nseventy columns, with a pre-\ntrained model and   extra   spaces.\n\n\n\nSecond paragraph."
    assert clean_article_text(text) == (
        "A paragraph wrapped at seventy columns, with a pre-trained model and extra spaces.\n\nSecond paragraph."
    )


def test_headings_list_items_and_quotes_keep_their_own_lines():
    text = "## Why it matters\n\nIntro line:\n  * first item\n  * second item\n> a quote\n\nEnd."
    cleaned = clean_article_text(text)
    assert "## Why it matters" in cleaned
    assert "Intro line:\n  * first item\n  * second item\n> a quote" in cleaned


def test_bold_markers_and_icon_markers_go_but_identifiers_stay():
    cleaned = clean_article_text("Use **LoRA** adapters __ and call `__init__` on my_var__x.")
    assert cleaned == "Use LoRA adapters and call `__init__` on my_var__x."


# -- code --------------------------------------------------------------------------------


def test_fenced_code_is_kept_verbatim():
    code = "```python\ndef f(x):\n\n    return  x  *  2   # keep   spacing\n```"
    cleaned = clean_article_text(f"Some text here.\n\n{code}\n\nMore text.")
    assert code in cleaned


def test_indented_code_becomes_a_fenced_block_without_its_copy_icon():
    text = (
        "Install it as follows.\n\n    \n    \n    pip install  unsloth\n"
        "    if x:\n        run()   # two spaces __\n\nThen import it."
    )
    cleaned = clean_article_text(text)
    assert "```\npip install  unsloth\nif x:\n    run()   # two spaces\n```" in cleaned
    assert cleaned.endswith("Then import it.")


def test_nested_list_items_are_not_taken_for_code():
    cleaned = clean_article_text(
        "Menu:\n\n  * Top item\n\n    * Nested item\n\nThe article text goes on here."
    )
    assert "```" not in cleaned and "* Nested item" in cleaned


# -- boilerplate -------------------------------------------------------------------------

HEAD_PARAGRAPH = "The real paragraph of the article, long enough to count as one."
LAST_PARAGRAPH = "The last real paragraph of the article, long enough to count too."

CHROME = [
    "Share this post",
    "Copy link",
    "SubscribeSign in",
    "Sign up",
    "Sign up for our newsletter",
    "Follow",
    "Follow me on Medium",
    "·Follow",
    "Ready for more?",
    "This site requires JavaScript to run correctly. Please turn on JavaScript or unblock scripts",
    "© 2024 Paul Iusztin",
    "__Copyright 2023, Maxime Labonne",
    "decodingml.substack.com",
    "13",
    "2.1K",
    "Next",
    "Note",
    "* * *",
    "↓↓↓",
    "Image by author",
    "[Share](https://example.com/share)",
    "https://example.com/subscribe",
]


@pytest.mark.parametrize("line", CHROME)
def test_chrome_lines_go_from_the_page_head_and_foot(line):
    text = f"{line}\n\n{HEAD_PARAGRAPH}\n\nMiddle text.\n\n{LAST_PARAGRAPH}\n\n{line}"
    assert clean_article_text(text) == f"{HEAD_PARAGRAPH}\n\nMiddle text.\n\n{LAST_PARAGRAPH}"


@pytest.mark.parametrize(
    "line",
    [
        "SubscribeSign in",
        "This site requires JavaScript to run correctly. Please turn on JavaScript or unblock scripts",
        "* * *",
        "↓↓↓",
        "Image by author",
        "#",
        "[Share](https://example.com/share)",
        "  * [Home](https://example.com/) · [About](https://example.com/about)",
        "https://example.com/subscribe",
    ],
)
def test_noise_and_link_only_lines_go_wherever_they_stand(line):
    text = f"{HEAD_PARAGRAPH}\n\n{line}\n\n{LAST_PARAGRAPH}"
    assert clean_article_text(text) == f"{HEAD_PARAGRAPH}\n\n{LAST_PARAGRAPH}"


@pytest.mark.parametrize(
    "block",
    [
        "## Next",
        "## Note",
        "### Share",
        "Next",
        "socket.io",
        "1999",
        "13",
        "2.1K",
        "Follow the white rabbit.",
        "| Year | Loss |\n|---|---|\n| 1999 | 0.5 |\n| 2000 | 0.25 |",
        "Year | Loss\n---|---\n1999 | 0.5",
        "| 1999 | 0.5 |",
        "```\n1999\n\n---\n© 2024\n```",
        "    Share this post\n    13",
        "  * socket.io\n  * 1999\n  * Note",
        "We serve it with socket.io and decodingml.substack.com since 1999.",
        "> Note",
    ],
)
def test_content_in_the_body_survives(block):
    """Tables, short headings, code, numbers and domain-like words between two paragraphs stay."""
    cleaned = clean_article_text(f"{HEAD_PARAGRAPH}\n\n{block}\n\n{LAST_PARAGRAPH}")
    if block.startswith("    "):  # indented code comes back fenced
        block = "```\nShare this post\n13\n```"
    assert cleaned == f"{HEAD_PARAGRAPH}\n\n{block}\n\n{LAST_PARAGRAPH}"


def test_tables_survive_even_in_the_head_and_foot():
    table = "| Model | Score |\n|---|---|\n| 7B | 0.5 |"
    text = f"Jane Doe\n\nJul 31, 2023\n\n{table}\n\nMenu\n\n{HEAD_PARAGRAPH}\n\n13\n\n{table}"
    assert clean_article_text(text) == f"{table}\n\n{HEAD_PARAGRAPH}\n\n{table}"


def test_blocks_keep_the_separator_they_had():
    text = f"{HEAD_PARAGRAPH}\n\n## Setup\nRun this:\n  * one\n  * two\n\n\n\n{LAST_PARAGRAPH}"
    assert (
        clean_article_text(text)
        == f"{HEAD_PARAGRAPH}\n\n## Setup\nRun this:\n  * one\n  * two\n\n{LAST_PARAGRAPH}"
    )


def test_a_table_right_after_its_caption_line_stays_attached_and_code_stands_apart():
    text = f"{HEAD_PARAGRAPH}\nResults:\n| a | b |\n|---|---|\n| 1 | 2 |\n```\nx = 1\n```\n{LAST_PARAGRAPH}"
    assert clean_article_text(text) == (
        f"{HEAD_PARAGRAPH} Results:\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nx = 1\n```\n\n{LAST_PARAGRAPH}"
    )


def test_a_heading_wrapped_by_html2text_is_one_heading():
    text = (
        "### A blueprint for designing production LLM systems: From Notebooks to\nproduction\n\n"
        + HEAD_PARAGRAPH
    )
    assert clean_article_text(text).startswith(
        "### A blueprint for designing production LLM systems: From Notebooks to production\n\n"
    )
    assert (
        clean_article_text(
            text, title="A blueprint for designing production LLM systems: From Notebooks to production"
        )
        == HEAD_PARAGRAPH
    )


def test_headings_repeating_the_title_are_dropped():
    text = "# My Great Post\n\nThe body of the post says something useful here.\n\n#### My Great Post"
    assert clean_article_text(text, title="My Great Post - Blog Name") == (
        "The body of the post says something useful here."
    )


def test_a_page_header_of_short_lines_goes_but_one_short_line_stays():
    header = "Jane Doe\n\nJul 31, 2023\n\n  * Home\n  * Archive\n\n"
    body = "This is the first real paragraph of the article with enough words."
    assert clean_article_text(header + body) == body
    assert clean_article_text("Hello everyone!\n\n" + body) == "Hello everyone!\n\n" + body


def test_run_together_pages_lose_their_header_and_footer():
    text = (
        "Title | PublicationOpen in appSign inWriteTitle·FollowPublished in X·5 min read·Mar 1, 2024"
        "2.1K13ListenShareThe article starts here and says a lot of things. "
        + "More words. " * 40
        + "Sign up to discover human stories that deepen your understanding.FreeMembership"
    )
    cleaned = clean_article_text(text)
    assert cleaned.startswith("The article starts here")
    assert cleaned.endswith("More words.")


def test_the_title_and_subtitle_open_the_text():
    title, text = clean_article(
        {"Title": "Fine-tuning  101", "Subtitle": "A **gentle** intro", "Content": "Body text here."}
    )
    assert title == "Fine-tuning 101"
    assert text == "Fine-tuning 101\n\nA gentle intro\n\nBody text here."


# -- posts and repositories --------------------------------------------------------------


def test_posts_keep_their_line_breaks_and_lose_buttons():
    post = clean_post({"Content": "𝗕𝗶𝗴 news!\n\n\n\nWe shipped it.\nhashtag#mlops   hashtag#rag\n…see more"})
    assert post == "Big news!\n\nWe shipped it.\n#mlops #rag"


def test_repositories_keep_code_whitespace_and_get_path_headers():
    files = {
        "src/b.py": "def f():\r\n\treturn 1\r\n\r\n\r\n",
        "README.md": "# Demo\n\nRun   it.\n",
        "empty.txt": "  \n",
        "logo.png": "\x89PNG\x00\x00",
    }
    assert clean_repository("demo", files) == (
        "# demo\n\n## File: README.md\n\n# Demo\n\nRun   it.\n\n## File: src/b.py\n\ndef f():\n\treturn 1"
    )


def test_documents_are_cleaned_per_category_and_empty_ones_give_none():
    post = PostDocument(
        content={"Content": "Hello  world"},
        platform="linkedin",
        author_id="a",
        author_full_name="A B",
        link="l1",
    )
    repo = RepositoryDocument(
        name="demo",
        content={"a.py": "x = 1\n"},
        platform="github",
        author_id="a",
        author_full_name="A B",
        link="l2",
    )
    cleaned_post, cleaned_repo = clean_document(post), clean_document(repo)
    assert cleaned_post is not None and cleaned_post.content == "Hello world"
    assert cleaned_post.category == DataCategory.POSTS and cleaned_post.source_hash == post.content_hash
    assert cleaned_repo is not None and cleaned_repo.title == "demo" and "x = 1" in cleaned_repo.content
    assert clean_document(_article("")) is None
    assert clean_document(_article("Share this post\n\nCopy link\n\n13")) is None
    article = _article("Real text.")
    assert clean_document(article).id == article.id  # keeps the raw id


# -- real pages --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_pages(shared_corpus: Path) -> dict[str, dict]:
    """The shared corpus's article records by link, read at test time."""
    records = json.loads((shared_corpus / "ArticleDocument.json").read_text(encoding="utf-8"))
    return {record["link"]: record for record in records}


def _page(pages: dict[str, dict], link_part: str) -> dict:
    (record,) = [r for link, r in pages.items() if link_part in link]
    return record


def test_a_real_blog_page_loses_its_menus_and_keeps_text_and_code(corpus_pages):
    record = _page(corpus_pages, "2024-07-29_Finetune_Llama31")
    raw = record["content"]["Content"]
    assert "Hands-On GNNs" in raw and "Graph Attention Network" in raw  # the site menu
    title, text = clean_article(record["content"])
    assert title and text.startswith(title)
    for menu_item in ("Hands-On GNNs", "Graph Attention Network", "Minecraft Bot", "Copyright"):
        assert menu_item not in text
    assert "Supervised Fine-Tuning (SFT) is a method to improve and customize pre-trained LLMs." in text
    assert "```\nimport torch\nfrom trl import SFTTrainer\n" in text  # code block kept, fenced
    assert (
        "max_seq_length = 2048\nmodel, tokenizer = FastLanguageModel.from_pretrained(\n    model_name="
        in text
    )
    assert "\n\n\n" not in text
    assert len(text) < len(raw)


def test_a_real_substack_page_loses_share_widgets_and_comments(corpus_pages):
    record = _page(corpus_pages, "4-bit-quantization-with-gptq")
    raw = record["content"]["Content"]
    assert raw.count("Share this post") >= 2 and "Discussion about this post" in raw
    _, text = clean_article(record["content"])
    lines = text.split("\n")
    for widget in ("Share this post", "Copy link", "Facebook", "Subscribe", "maximelabonne.substack.com"):
        assert widget not in lines
    assert "Discussion about this post" not in text and "Substack is the home" not in text
    assert "Let’s start by introducing the problem we’re trying to solve." in text
    assert text.count("4-bit Quantization with GPTQ") == 1  # the title, not its repeats in widgets


def test_a_real_run_together_medium_page_loses_its_chrome(corpus_pages):
    record = _page(corpus_pages, "an-end-to-end-framework-for-production-ready-llm-systems-by-building")
    _, text = clean_article(record["content"])
    assert "Open in app" not in text and "ListenShare" not in text
    assert "Sign up to discover human stories" not in text and "Recommended from Medium" not in text
    assert "What is your LLM Twin? It is an AI character that writes like yourself" in text


def test_the_whole_corpus_keeps_its_code_and_loses_its_widgets(corpus_pages):
    """Every fenced block of every real page survives verbatim; no widget line is left anywhere."""
    widgets = {"share this post", "copy link", "subscribesign in", "facebook", "email", "other", "note"}
    for link, record in corpus_pages.items():
        raw = normalise_characters(record["content"]["Content"])
        _, text = clean_article(record["content"])
        for block in re.findall(r"^```.*?^```", raw, flags=re.M | re.S):
            assert block in text, link
        assert not widgets & {line.strip().casefold() for line in text.split("\n")}, link


# -- repeated lines ----------------------------------------------------------------------

PROMO = (
    "**Check out** the **full-fledged version** of the **article** on our **Medium\npublication**. "
    "**It’s FREE** ↓↓↓"
)


def _newsletter(number: int, *, promo: bool = True) -> str:
    body = (
        f"## Conclusion\n\nIssue {number} explains a different idea about feature pipelines at length.\n\n"
        "```python\nimport torch\n```\n\n"
    )
    return body + (f"{PROMO}\n\nThanks for reading, see you next week." if promo else "Bye.")


def test_lines_repeated_across_an_authors_documents_are_found_and_dropped():
    texts = [_newsletter(i) for i in range(8)] + [_newsletter(8, promo=False)]
    boilerplate = repeated_lines(texts)
    assert boilerplate == {
        "check out the full-fledged version of the article on our medium publication. it’s free ↓↓↓",
        "thanks for reading, see you next week.",
    }  # headings, code and short lines never count; each document's own text is not repeated
    cleaned = clean_article_text(texts[0], boilerplate=boilerplate)
    assert "full-fledged" not in cleaned and "see you next week" not in cleaned
    assert cleaned == (
        "## Conclusion\n\nIssue 0 explains a different idea about feature pipelines at length.\n\n"
        "```python\nimport torch\n```"
    )
    assert "full-fledged" in clean_article_text(texts[0])  # nothing is dropped unless passed


def test_repeated_lines_are_the_same_from_raw_and_cleaned_texts():
    raw = [_newsletter(i) for i in range(5)]
    assert repeated_lines(raw) == repeated_lines([clean_article_text(t) for t in raw])


@pytest.mark.parametrize(
    ("documents", "min_documents", "min_share", "expected"),
    [(3, 3, 0.2, True), (2, 3, 0.2, False), (3, 3, 0.5, False), (5, 2, 0.5, True)],
)
def test_a_line_must_repeat_in_enough_documents_and_a_large_enough_share(
    documents, min_documents, min_share, expected
):
    texts = [_newsletter(i, promo=i < documents) for i in range(8)]
    found = repeated_lines(texts, min_documents=min_documents, min_share=min_share)
    assert bool(found) is expected


@pytest.mark.parametrize(("min_documents", "min_share"), [(1, 0.2), (3, 0.0), (3, 1.5)])
def test_bad_thresholds_are_refused(min_documents, min_share):
    with pytest.raises(ValueError, match="min_"):
        repeated_lines([], min_documents=min_documents, min_share=min_share)


def test_posts_and_documents_drop_the_authors_repeated_lines():
    boilerplate = frozenset({"Follow me for more tips on MLOps and LLMs every day"})
    post = clean_post(
        {"Content": "Big news!\n\n**Follow me** for more tips on MLOps and LLMs every day"},
        boilerplate=boilerplate,
    )
    assert post == "Big news!"
    document = PostDocument(
        content={
            "Content": "Hello world, this is news.\nFollow me for more tips on MLOps and LLMs every day"
        },
        platform="linkedin",
        author_id="a",
        author_full_name="A B",
        link="l1",
    )
    assert clean_document(document, boilerplate=boilerplate).content == "Hello world, this is news."


def test_author_boilerplate_is_computed_per_author():
    texts = {
        "Ada": [_newsletter(i) for i in range(4)],
        "Bob": [_newsletter(i, promo=False) for i in range(4)],
    }
    found = author_boilerplate(texts)
    assert len(found["Ada"]) == 2 and found["Bob"] == frozenset()


def test_a_real_authors_promotions_are_found_and_dropped(corpus_pages):
    paul = [r["content"] for r in corpus_pages.values() if r["author_full_name"] == "Paul Iusztin"]
    boilerplate = repeated_lines(content["Content"] for content in paul)
    paul = [r["content"] for r in corpus_pages.values() if r["platform"] == "decodingml.substack.com"]
    assert "if not otherwise stated, all images are created by the author." in boilerplate
    assert not any(len(key.split()) < 5 for key in boilerplate)  # "## Conclusion", "Paul" never count
    with_promo = [
        c
        for c in paul
        if "If not otherwise stated, all images are created by the author." in clean_article(c)[1]
    ]
    assert len(with_promo) >= 10
    for content in with_promo:
        _, text = clean_article(content, boilerplate=boilerplate)
        assert "If not otherwise stated" not in text and len(text) > 500
