"""The main job: end_to_end_data on the shipped demo, through `tools.run` as `poe demo` runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import load_from_disk

from llm_engineering.domain.documents import ArticleDocument, PostDocument
from tests.zenml_helpers import run_cli

pytestmark = pytest.mark.e2e


def test_the_demo_goes_from_files_to_both_datasets_and_a_rerun_redoes_nothing(project_env, tmp_path):
    first = run_cli("end-to-end-data")
    assert first.exit_code == 0, first.output
    # Two demo authors: Maya (9 articles, 4 posts) and Theo (6 articles, 3 posts).
    assert "crawl_links: crawled 13 links" in first.output and "13 stored" in first.output
    assert "crawl_links_2: crawled 9 links" in first.output and "9 stored" in first.output
    assert "clean_documents: 22 documents" in first.output and "22 new" in first.output
    assert project_env.count(ArticleDocument) == 15 and project_env.count(PostDocument) == 7

    saved = {}
    for line in first.output.splitlines():
        if line.startswith("build_dataset") and "saved to" in line:
            folder = Path(line.split("saved to ", 1)[1].strip())
            saved[folder.parent.name] = load_from_disk(str(folder))
    assert set(saved) == {"instruction", "preference"}
    assert saved["instruction"]["train"].column_names == ["instruction", "output", "document_id", "context"]
    assert saved["preference"]["train"].column_names == [
        "prompt",
        "chosen",
        "rejected",
        "document_id",
        "context",
    ]
    assert saved["instruction"]["train"].num_rows > 0 and saved["instruction"]["test"].num_rows > 0
    # The twin learns the author's own words: every answer is a passage of her demo writing.
    demo_text = " ".join(p.read_text() for p in Path("data/demo").rglob("*.md"))
    answers = [row["output"] for row in saved["instruction"]["train"]]
    markdown_answers = [a for a in answers if a[:60] in demo_text]
    assert len(markdown_answers) >= len(answers) // 2

    second = run_cli("end-to-end-data", "--no-cache")
    assert second.exit_code == 0, second.output
    assert "0 stored, 13 skipped" in second.output and "0 stored, 9 skipped" in second.output
    assert "0 new, 0 changed, 22 unchanged" in second.output
    assert "nothing to embed" in second.output
