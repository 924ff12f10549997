"""The pure pieces of ``bench.twin_voice``: held-out articles, their questions, scores, the table, the checks.

Kept apart from the run (pipelines, serving) so they are tested on tiny inputs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llm_engineering.model.evaluation.report import aligned_table

if TYPE_CHECKING:
    from llm_engineering.model.evaluation.attribution import AttributionClassifier

MIN_OWN_SHARE = 0.75
"""Served answers the classifier must attribute to the twin's own author."""
MIN_BARE_MARGIN = 0.15
"""Without passages: the twin's own-author share over the base model's, for the same prompt."""
MAX_LOOP_RATE = 0.1
"""Answers with one word 4-gram 3+ times, at most."""


# -- the corpus, held-out articles and their questions ------------------------------------


@dataclass(frozen=True)
class Article:
    """A cleaned handbook article (cleaned as the feature pipeline cleans it)."""

    id: str
    author: str
    title: str
    text: str
    link: str


def load_articles(corpus: Path) -> list[Article]:
    """The corpus's articles, cleaned as the feature pipeline cleans them (each author's boilerplate lines dropped)."""
    from llm_engineering.application.preprocessing.boilerplate import author_boilerplate
    from llm_engineering.application.preprocessing.cleaning import clean_document
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.infrastructure.warehouse_json import read_documents

    documents = read_documents(corpus)
    raw = documents.get(ArticleDocument, [])
    texts: dict[str, list[str]] = {}
    for document in raw:
        content = document.content.get("Content") if isinstance(document.content, dict) else None
        if isinstance(content, str):
            texts.setdefault(document.author_id, []).append(content)
    boilerplate = author_boilerplate(texts)
    articles = []
    for document in raw:
        cleaned = clean_document(document, boilerplate=boilerplate.get(document.author_id, frozenset()))
        if cleaned is not None:
            title = cleaned.title or document.content.get("Title") or document.link
            articles.append(
                Article(str(document.id), document.author_full_name, title, cleaned.content, document.link)
            )
    return articles


def _stable(text: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def choose_held_out(
    articles: Sequence[Article], *, per_author: int, seed: int = 0, min_words: int = 300, split: str = "test"
) -> dict[str, list[Article]]:
    """``per_author`` articles of each author, chosen by a seeded hash of their links (stable across runs).

    Articles under ``min_words`` words are not chosen (too little to ask about or to score). The
    ``test`` split is the first ``per_author`` in hash order, the ``dev`` split the next ``per_author``.

    Raises:
        ValueError: an author has too few long articles to hold the split out and still train
            (2 more than the held-out ones).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    start = SPLITS.index(split) * per_author
    by_author: dict[str, list[Article]] = {}
    for article in articles:
        by_author.setdefault(article.author, []).append(article)
    chosen: dict[str, list[Article]] = {}
    for author, own in sorted(by_author.items()):
        long = sorted(
            (a for a in own if len(a.text.split()) >= min_words), key=lambda a: _stable(a.link, seed)
        )
        if len(long) < start + per_author + 2:
            raise ValueError(
                f"{author} has {len(long)} articles of {min_words}+ words; {start + per_author + 2} needed"
            )
        chosen[author] = long[start : start + per_author]
    return chosen


SPLITS = ("test", "dev")
"""The bench's held-out splits: settings are chosen on ``dev``, and a ``dev`` run never reads ``test``."""


def split_articles(
    articles: Sequence[Article], *, per_author: int, split: str = "test"
) -> tuple[list[Article], dict[str, list[Article]]]:
    """The articles a run on ``split`` may read at all, and the held-out ones it asks about
    (:func:`choose_held_out`). A ``dev`` run also drops the ``test`` split's articles, so choosing
    settings on dev never sees the articles the bench reports on."""
    held = choose_held_out(articles, per_author=per_author, split=split)
    if split == "test":
        return list(articles), held
    test_ids = {a.id for chosen in choose_held_out(articles, per_author=per_author).values() for a in chosen}
    return [a for a in articles if a.id not in test_ids], held


_TITLE_NOISE = re.compile(r"\s*(?:[-|–—:]\s*)?(?:by\s+)?\b(?:decoding ml|medium)\b\s*", re.IGNORECASE)


def topic_of(title: str, authors: Sequence[str] = ()) -> str:
    """The article's topic from its title: author names, "by ...", site names and separators stripped."""
    topic = title
    for author in authors:
        topic = re.sub(
            r"(?:\s*[-|–—:]\s*)?(?:by\s+)?" + re.escape(author) + r"(?:\s*[-|–—:]\s*)?",
            " ",
            topic,
            flags=re.IGNORECASE,
        )
    topic = _TITLE_NOISE.sub(" ", topic)
    topic = " ".join(topic.split()).strip(" -|–—:.")
    return topic or title.strip()


_HEADING = re.compile(r"^\s{0,3}#{1,4}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FENCE = re.compile(r"^\s*```.*?^\s*```", re.MULTILINE | re.DOTALL)
_NOT_A_TOPIC = re.compile(
    r"^(?:conclusion|references|introduction|table of contents|share|subscribe|summary|next steps|"
    r"resources|acknowledg|this week|images?\b|figure\b|well\b|so\b)",
    re.IGNORECASE,
)


_QUESTION_WORD = re.compile(r"^(?:what|why|how|when|which|who|is|are|can|do|does|should)\b", re.IGNORECASE)


def section_topics(text: str, *, title: str = "") -> list[str]:
    """Markdown section headings of ``text`` that name a topic, in order.

    Headings inside code blocks (comments) are not sections; numbering, emphasis and leading
    symbols are stripped; a heading of 2-8 words that is not boilerplate names a topic.
    """
    seen = {title.casefold()}
    topics = []
    for match in _HEADING.finditer(_FENCE.sub("", text)):
        heading = re.sub(r"[*_`\[\]\\]", "", match.group(1))
        heading = re.sub(r"^[^\w]+|^\d+[.)]\s*", "", heading).strip(" .:#?!")
        heading = re.sub(r"^\d+[.)]\s*", "", heading)
        words = heading.split()
        if not 2 <= len(words) <= 8 or _NOT_A_TOPIC.match(heading) or not re.match(r"[A-Za-z]", heading):
            continue
        if heading.casefold() in seen or any(not ch.isprintable() or ord(ch) > 0x2000 for ch in heading):
            continue
        seen.add(heading.casefold())
        topics.append(heading)
    return topics


def questions_for_article(article: Article, *, n: int, authors: Sequence[str] = ()) -> list[str]:
    """``n`` questions a reader of ``article`` would ask, each naming its topic and none an author.

    The first asks about the title's topic; the next about its sections' topics within it; then
    general questions on the title's topic fill up to ``n``.
    """
    topic = topic_of(article.title, authors).rstrip("?!. ")
    questions = [f"What should an engineer know about {topic}?"]
    for section in section_topics(article.text, title=article.title):
        if _QUESTION_WORD.match(section):  # "What is abliteration": a question naming its topic already
            questions.append(f"{section}?")
        elif topic_of(section, authors).casefold() != topic.casefold():
            questions.append(f"How do you approach {section} when working on {topic}?")
    questions += [
        f"What are the common mistakes with {topic}, and how do you avoid them?",
        f"How would you explain {topic} to a colleague who has never tried it?",
        f"When is {topic} worth the effort in a real project?",
    ]
    unique = list(dict.fromkeys(questions))
    return unique[:n]


def held_out_passages(text: str, *, size: int = 1200, limit: int = 6) -> list[str]:
    """Up to ``limit`` consecutive passages of about ``size`` characters (a short tail is dropped)."""
    flat = " ".join(text.split())
    cuts = [flat[i : i + size] for i in range(0, len(flat), size)]
    return [c for c in cuts if len(c) > size // 2][:limit]


# -- scoring and the table ----------------------------------------------------------------


@dataclass
class Row:
    """One model answering as one author in one arm."""

    model: str  # "twin" or "base"
    author: str
    arm: str  # "served" or "bare"
    answers: list[str] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    own_share: float | None = None
    loop_rate: float | None = None

    @property
    def label(self) -> str:
        return f"{'twin of' if self.model == 'twin' else 'base as'} {self.author}"

    @property
    def ended_share(self) -> float | None:
        if not self.finish_reasons:
            return None
        return sum(r == "stop" for r in self.finish_reasons) / len(self.finish_reasons)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_rows(rows: Sequence[Row]) -> str:
    """The answers table: one line per model, author and arm."""
    header = ["model", "arm", "answers", "own author", "loop rate", "ended"]
    lines = [header] + [
        [r.label, r.arm, str(len(r.answers)), _cell(r.own_share), _cell(r.loop_rate), _cell(r.ended_share)]
        for r in rows
    ]
    return aligned_table(lines)


def checks(rows: Sequence[Row], ratios: Mapping[str, Mapping[str, float]]) -> list[tuple[str, bool]]:
    """The issue's checks, each as (what was compared, passed).

    Args:
        rows: every model x author x arm row, scored.
        ratios: twin's author -> held-out articles' author -> perplexity twin/base.
    """
    found = {(r.model, r.author, r.arm): r for r in rows}
    results: list[tuple[str, bool]] = []
    for author in sorted({r.author for r in rows if r.model == "twin"}):
        served = found.get(("twin", author, "served"))
        if served is not None and served.own_share is not None:
            results.append(
                (
                    f"twin of {author}: served answers attributed to {author} "
                    f"{served.own_share:.2f} >= {MIN_OWN_SHARE:.2f}",
                    served.own_share >= MIN_OWN_SHARE,
                )
            )
        bare, base = found.get(("twin", author, "bare")), found.get(("base", author, "bare"))
        if bare and base and bare.own_share is not None and base.own_share is not None:
            margin = bare.own_share - base.own_share
            results.append(
                (
                    f"twin of {author}, no passages: {bare.own_share:.2f} - base {base.own_share:.2f} "
                    f"= {margin:+.2f} >= {MIN_BARE_MARGIN:+.2f}",
                    margin >= MIN_BARE_MARGIN - 1e-9,
                )
            )
        for arm in ("served", "bare"):
            row = found.get(("twin", author, arm))
            if row is not None and row.loop_rate is not None:
                results.append(
                    (
                        f"twin of {author}, {arm}: loop rate {row.loop_rate:.2f} <= {MAX_LOOP_RATE:.2f}",
                        row.loop_rate <= MAX_LOOP_RATE,
                    )
                )
    for author, by_text in sorted(ratios.items()):
        others = [ratio for text_author, ratio in by_text.items() if text_author != author]
        if author in by_text and others:
            own, other = by_text[author], min(others)
            results.append(
                (
                    f"twin of {author}: held-out perplexity twin/base, own articles {own:.3f} < other's {other:.3f}",
                    own < other,
                )
            )
    return results


def format_ratios(ratios: Mapping[str, Mapping[str, float]]) -> str:
    """Perplexity twin/base per twin (rows) and held-out articles' author (columns)."""
    columns = sorted({a for by_text in ratios.values() for a in by_text})
    header = ["twin of", *(f"{a}'s articles" for a in columns)]
    lines = [header] + [
        [twin, *(f"{by_text[a]:.3f}" if a in by_text else "-" for a in columns)]
        for twin, by_text in sorted(ratios.items())
    ]
    return aligned_table(lines)


def author_classifiers(training_texts: Mapping[str, Sequence[str]]) -> dict[str, AttributionClassifier]:
    """One classifier per author: their articles against the other authors' and the impostors'
    (``AttributionConfig.impostors``, the evaluation's own negatives beyond the corpus, read once)."""
    from llm_engineering.configs.evaluating import AttributionConfig
    from llm_engineering.model.evaluation.attribution import AttributionClassifier
    from llm_engineering.model.evaluation.score import impostor_documents

    impostors = impostor_documents(AttributionConfig().impostors, skip=set(training_texts))
    return {
        author: AttributionClassifier(
            list(texts),
            [t for other, ts in training_texts.items() if other != author for t in ts] + impostors,
        )
        for author, texts in training_texts.items()
    }


def score_rows(rows: Sequence[Row], *, classifiers: Mapping[str, AttributionClassifier]) -> None:
    """Fill each row's own-author share (the classifier of the row's author) and loop rate."""
    from llm_engineering.model.evaluation.generated import loop_rate

    for row in rows:
        row.loop_rate = loop_rate(row.answers)
        flags = classifiers[row.author].is_author(row.answers) if row.answers else []
        row.own_share = float(sum(bool(f) for f in flags) / len(flags)) if len(flags) else None


def classifier_accuracy(
    classifiers: Mapping[str, AttributionClassifier], held_out: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """Per author: balanced accuracy of its classifier on passages of the held-out articles of every author."""
    accuracy = {}
    for author, classifier in classifiers.items():
        recalls = []
        for text_author, passages in held_out.items():
            if not passages:
                continue
            said = classifier.is_author(list(passages))
            right = said if text_author == author else ~said
            recalls.append(float(right.mean()))
        accuracy[author] = sum(recalls) / len(recalls) if recalls else float("nan")
    return accuracy
