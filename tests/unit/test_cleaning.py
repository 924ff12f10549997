"""Cleaning rules per category, on small inline cases and on real scraped pages of the shared corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.preprocessing.cleaning import (
    clean_article,
    clean_article_text,
    clean_document,
    clean_post,
    clean_repository,
    normalise_characters,
)
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


def test_characters_are_normalised():
    raw = "caf\u0065\u0301\u00a0au\u200b lait\r\nnext\rline\u2009end"
    assert normalise_characters(raw) == "café au lait\nnext\nline end"


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


@pytest.mark.parametrize(
    "line",
    [
        "Share this post",
        "Copy link",
        "SubscribeSign in",
        "Ready for more?",
        "This site requires JavaScript to run correctly. Please turn on JavaScript or unblock scripts",
        "© 2024 Paul Iusztin",
        "__Copyright 2023, Maxime Labonne",
        "decodingml.substack.com",
        "13",
        "2.1K",
        "* * *",
        "↓↓↓",
        "Image by author",
    ],
)
def test_boilerplate_lines_are_dropped(line):
    text = f"The real paragraph of the article, long enough to count as one.\n\n{line}\n\nAnother real paragraph."
    assert clean_article_text(text) == (
        "The real paragraph of the article, long enough to count as one.\n\nAnother real paragraph."
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
