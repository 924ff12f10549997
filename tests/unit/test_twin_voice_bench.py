"""The pieces of ``poe bench-twin-voice`` on tiny inputs: held-out articles, their questions, the
pipeline overrides (valid keys of today's configs), the scores, the table and the checks."""

from __future__ import annotations

import pytest

from bench.twin_voice import FULL, QUICK, dataset_overrides, feature_overrides, training_overrides
from bench.twin_voice_report import (
    Article,
    Row,
    author_classifiers,
    checks,
    choose_held_out,
    format_ratios,
    format_rows,
    held_out_passages,
    questions_for_article,
    score_rows,
    section_topics,
    split_articles,
    topic_of,
)
from tools.run import load_pipeline_config

AUTHORS = ["Maxime Labonne", "Paul Iusztin"]

ARTICLE_TEXT = """# Merge Large Language Models with mergekit

Model merging combines several models into one.

## 🤝 Merge algorithms

Some prose about merging.

### 1\\. SLERP

Spherical interpolation.

```python
# Save config as yaml file
print("a comment, not a section")
```

## What is a passthrough merge?

More prose.

## Conclusion

The end.
"""


def _article(
    author: str = "Maxime Labonne", title: str = "Merge Large Language Models with mergekit"
) -> Article:
    return Article(
        id="a1", author=author, title=f"{title} - {author}", text=ARTICLE_TEXT, link="https://x/a1"
    )


@pytest.mark.parametrize(
    ("title", "topic"),
    [
        (
            "Maxime Labonne - Fine-tune Llama 3.1 Ultra-Efficiently with Unsloth",
            "Fine-tune Llama 3.1 Ultra-Efficiently with Unsloth",
        ),
        ("Uncensor any LLM with abliteration - Maxime Labonne", "Uncensor any LLM with abliteration"),
        ("Real-time feature pipelines for RAG - by Paul Iusztin", "Real-time feature pipelines for RAG"),
        ("Architect LLM & RAG inference pipelines | Decoding ML", "Architect LLM & RAG inference pipelines"),
    ],
)
def test_the_topic_is_the_title_without_author_or_site(title, topic):
    assert topic_of(title, AUTHORS) == topic


def test_sections_are_headings_that_name_a_topic_outside_code_blocks():
    assert section_topics(ARTICLE_TEXT, title="Merge Large Language Models with mergekit") == [
        "Merge algorithms",
        "What is a passthrough merge",
    ]  # "SLERP" is one word, the code comment and "Conclusion" are no sections


def test_questions_name_the_topic_never_an_author_and_do_not_repeat():
    questions = questions_for_article(_article(), n=4, authors=AUTHORS)
    assert questions == [
        "What should an engineer know about Merge Large Language Models with mergekit?",
        "How do you approach Merge algorithms when working on Merge Large Language Models with mergekit?",
        "What is a passthrough merge?",
        "What are the common mistakes with Merge Large Language Models with mergekit, and how do you avoid them?",
    ]
    plain = Article(id="b", author="Paul Iusztin", title="RAG evaluation!", text="no headings here", link="l")
    asked = questions_for_article(plain, n=3, authors=AUTHORS)
    assert len(asked) == len(set(asked)) == 3 and all("RAG evaluation" in q for q in asked)
    assert not any(name in q for q in asked + questions for name in ("Labonne", "Iusztin", "Maxime", "Paul"))


def test_held_out_articles_are_chosen_per_author_stably_and_long_enough():
    long_text = "word " * 400
    articles = [
        Article(id=f"{a}{i}", author=a, title=f"t{i}", text=long_text if i else "too short", link=f"{a}/{i}")
        for a in AUTHORS
        for i in range(6)
    ]
    held = choose_held_out(articles, per_author=2)
    assert set(held) == set(AUTHORS) and all(len(chosen) == 2 for chosen in held.values())
    assert all(
        article.author == author and article.text == long_text
        for author, chosen in held.items()
        for article in chosen
    )
    assert held == choose_held_out(list(reversed(articles)), per_author=2)  # the order read does not matter
    assert held != choose_held_out(articles, per_author=2, seed=1)
    with pytest.raises(ValueError, match="Maxime Labonne has 5 articles of 300\\+ words; 6 needed"):
        choose_held_out(articles, per_author=4)


def test_a_dev_run_asks_about_other_articles_and_never_reads_the_test_ones():
    articles = [
        Article(id=f"{a}{i}", author=a, title=f"t{i}", text="word " * 400, link=f"{a}/{i}")
        for a in AUTHORS
        for i in range(8)
    ]
    test = {a.id for chosen in choose_held_out(articles, per_author=2).values() for a in chosen}
    usable, dev = split_articles(articles, per_author=2, split="dev")
    dev_ids = {a.id for chosen in dev.values() for a in chosen}
    assert len(test) == len(dev_ids) == 4 and not test & dev_ids
    assert {a.id for a in usable} == {
        a.id for a in articles
    } - test  # dev articles stay: they are asked about
    assert split_articles(articles, per_author=2) == (articles, choose_held_out(articles, per_author=2))
    with pytest.raises(ValueError, match="Maxime Labonne has 8 articles of 300\\+ words; 10 needed"):
        split_articles(articles, per_author=4, split="dev")
    with pytest.raises(ValueError, match="unknown split 'train'"):
        choose_held_out(articles, per_author=2, split="train")


def test_held_out_passages_are_cut_to_size_and_the_short_tail_dropped():
    passages = held_out_passages("abcdefghij " * 45, size=200, limit=10)
    assert [len(p) for p in passages] == [
        200,
        200,
    ]  # 494 characters: the 94-character tail (under half) is dropped
    assert len(held_out_passages("x " * 5000, size=100, limit=3)) == 3


def test_the_bench_overrides_are_valid_keys_of_the_shipped_configs():
    """Other stages change their configs: the bench's --set values must stay valid (the CLI validates
    them the same way before a run)."""
    features = load_pipeline_config("feature-engineering", None, feature_overrides(AUTHORS))
    assert features.author_full_names == AUTHORS
    for pipeline in ("generate-instruct-datasets", "generate-preference-datasets"):
        assert load_pipeline_config(pipeline, None, dataset_overrides("Paul Iusztin")).author_full_names == [
            "Paul Iusztin"
        ]
    for pipeline in ("generate-instruct-datasets", "generate-preference-datasets"):
        extra = dataset_overrides("Paul Iusztin", ["context.oracle_share=0.3"])
        assert load_pipeline_config(pipeline, None, extra).context.oracle_share == 0.3
    training = load_pipeline_config("training", None, training_overrides("Paul Iusztin", FULL))
    assert (training.author, training.sft.max_steps, training.dpo.max_steps) == ("Paul Iusztin", 100, 30)
    quick = load_pipeline_config(
        "training", None, training_overrides("Paul Iusztin", QUICK, ["dpo.beta=0.2"])
    )
    assert quick.sft.max_steps == QUICK.sft_steps and quick.dpo.beta == 0.2


def _rows(twin_served=0.8, twin_bare=0.5, base_bare=0.3, loop=0.0) -> list[Row]:
    rows = []
    for model, arm, share in (
        ("twin", "served", twin_served),
        ("twin", "bare", twin_bare),
        ("base", "served", 0.6),
        ("base", "bare", base_bare),
    ):
        rows.append(
            Row(model, "Maxime Labonne", arm, ["a"] * 4, ["stop", "stop", "stop", "length"], share, loop)
        )
    return rows


def test_checks_pass_and_fail_on_each_threshold():
    ratios = {"Maxime Labonne": {"Maxime Labonne": 0.80, "Paul Iusztin": 0.85}}
    assert all(passed for _, passed in checks(_rows(), ratios))
    failed = [
        text
        for text, passed in checks(_rows(twin_served=0.7, twin_bare=0.4, loop=0.25), ratios)
        if not passed
    ]
    assert len(failed) == 4  # served share, bare margin (+0.10), loop rate in both arms
    assert "0.70 >= 0.75" in failed[0] and "+0.10 >= +0.15" in failed[1]
    worse = {"Maxime Labonne": {"Maxime Labonne": 0.90, "Paul Iusztin": 0.85}}
    (ppl,) = [(t, p) for t, p in checks(_rows(), worse) if "perplexity" in t]
    assert ppl == (
        "twin of Maxime Labonne: held-out perplexity twin/base, own articles 0.900 < other's 0.850",
        False,
    )


def test_tables_show_each_row_and_ratio():
    table = format_rows(_rows()).splitlines()
    assert table[0].split() == ["model", "arm", "answers", "own", "author", "loop", "rate", "ended"]
    assert table[2].split() == ["twin", "of", "Maxime", "Labonne", "served", "4", "0.80", "0.00", "0.75"]
    assert len(table) == 6
    ratios = format_ratios({"Maxime Labonne": {"Maxime Labonne": 0.8, "Paul Iusztin": 0.85}}).splitlines()
    assert ratios[2].split() == ["Maxime", "Labonne", "0.800", "0.850"]


def test_scores_use_the_rows_own_authors_classifier_and_count_loops():
    """The demo's two authors as tiny real inputs: articles train, posts are the answers."""
    from llm_engineering.settings import PROJECT_ROOT

    demo = PROJECT_ROOT / "data" / "demo"
    maya = [p.read_text(encoding="utf-8") for p in sorted((demo / "articles").glob("*.md"))]
    theo = [
        p.read_text(encoding="utf-8") for p in sorted((demo / "theo-castellanos" / "articles").glob("*.md"))
    ]
    maya_post = " ".join(p.read_text(encoding="utf-8") for p in sorted((demo / "posts").glob("*.md")))
    theo_post = " ".join(
        p.read_text(encoding="utf-8") for p in sorted((demo / "theo-castellanos" / "posts").glob("*.md"))
    )
    loop = "the model did not know how to split a paragraph. " * 6
    rows = [
        Row("twin", "Maya Lindqvist", "bare", [maya_post, theo_post]),
        Row("base", "Theo Castellanos", "bare", [maya_post, theo_post, loop, loop]),
    ]
    score_rows(rows, classifiers=author_classifiers({"Maya Lindqvist": maya, "Theo Castellanos": theo}))
    assert (rows[0].own_share, rows[0].loop_rate) == (0.5, 0.0)  # Maya's posts are hers, Theo's not
    assert (rows[1].own_share, rows[1].loop_rate) == (0.25, 0.5)  # ... and the other way round; loops never


def test_rescoring_needs_the_answers_of_an_earlier_run(tmp_path):
    import click

    from bench.twin_voice import rescore_run

    with pytest.raises(click.ClickException, match="no answers of an earlier run at .*answers.json"):
        rescore_run(tmp_path / "no-corpus", tmp_path, FULL)
