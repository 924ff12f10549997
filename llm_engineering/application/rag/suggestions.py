"""Suggested questions: questions the corpus can answer, built ahead of time from the cleaned documents.

For each cleaned document, the first prose sentence of each paragraph is turned back into
the question it answers (the dataset pipeline's offline patterns: "X is Y" -> "What is X?",
"To X, Y" -> "How do you X?", ...), and the document's topic (its title, else its heading)
gives "What did you write in "T"?". A suggestion is shown alone, far from its paragraph, so
each one names its topic: a question that holds none of the topic's words ("What was the
fix?") is asked about the topic ("What was the fix, in "Why My RAG Answers Were Wrong"?"), or
dropped when the document has no title or heading. Questions are de-duplicated per author,
kept in document order, capped per author,
and stored as one JSON file (``{"authors": {name: [questions]}, "built_at": ...}``) that the
service reads; :func:`build_suggestions` is called after the feature pipeline, or lazily by
the service on the first request when the file is missing.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from llm_engineering.application.questions import (
    STOP_WORDS,
    first_sentence,
    fragment_reason,
    question_for,
)
from llm_engineering.application.rag.self_query import fold_name, match_author
from llm_engineering.domain.cleaned_documents import CleanedDocument

SUGGESTIONS_FILE = "suggestions.json"
_VAGUE_ENDING = re.compile(r"\b(it|this|that|these|those|them)\W*$", re.IGNORECASE)
"""Questions ending on a pronoun ("How do you implement it?") need their paragraph to make sense."""


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+\-]*")
_HEADING = re.compile(r"^\s*#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_NOT_TOPIC = frozenset(
    {"what", "how", "why", "when", "who", "which", "you", "your", "write", "wrote", "tell", "time"}
)


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def topic_label(document: CleanedDocument) -> str | None:
    """The document's topic as a reader would name it: its title, else its opening heading."""
    if document.title and len(document.title.split()) >= 2:
        return " ".join(document.title.split())
    first = document.content.strip().split("\n", 1)[0] if document.content.strip() else ""
    heading = _HEADING.match(first)
    text = heading.group("text") if heading else first.strip()
    if 2 <= len(text.split()) <= 12 and not text.endswith((".", ":", ",")):
        return " ".join(text.split())
    return None


def topic_words(document: CleanedDocument) -> set[str]:
    """Stems of the content words of the document's topic label (section headings such as "The fix"
    are too generic to name a topic on their own)."""
    texts = [topic_label(document) or ""]
    return {
        _stem(word)
        for text in texts
        for word in _WORD.findall(text)
        if len(word) >= 3 and word.lower() not in STOP_WORDS and word.lower() not in _NOT_TOPIC
    }


def names_topic(question: str, words: set[str]) -> bool:
    """Whether ``question`` holds one of the topic's words (compared by stem)."""
    return any(_stem(word) in words for word in _WORD.findall(question))


def _dangling(question: str) -> bool:
    """A sentence cut on a function word ("What is rank fusion sounds fancy and?")."""
    return fragment_reason(question) == "ends on a function word"


def _about(question: str, label: str) -> str:
    """``question`` asked about ``label``: 'What was the fix?' -> 'What was the fix, in "Label"?'."""
    body, end = (question[:-1], question[-1]) if question[-1:] in "?." else (question, "?")
    return f'{body}, in "{label}"{end}'


def questions_for_document(document: CleanedDocument, *, per_document: int = 3) -> list[str]:
    """Up to ``per_document`` questions ``document`` answers, best first (its topic's question first);
    each names the document's topic (see the module doc)."""
    label = topic_label(document)
    words = topic_words(document)
    questions = [f'What did you write in "{label}"?'] if label else []
    for paragraph in document.content.split("\n\n"):
        if _HEADING.match(paragraph.strip().split("\n", 1)[0]) or paragraph.strip() == label:
            continue  # a heading is the topic, not a statement to ask about
        sentence = first_sentence(paragraph)
        question = question_for(sentence) if sentence else None
        vague = question is not None and _VAGUE_ENDING.search(question)
        if not question or vague or not 4 <= len(question.split()) <= 20 or _dangling(question):
            continue
        if not names_topic(question, words):
            if label is None:
                continue
            question = _about(question, label)
        if question not in questions:
            questions.append(question)
        if len(questions) >= per_document:
            break
    return questions


def build_suggestions(
    documents: Iterable[CleanedDocument], *, directory: Path, per_author: int = 50, per_document: int = 3
) -> Path:
    """Write the suggestions file under ``directory`` (atomically) and return its path.

    Args:
        documents: the cleaned documents (every author).
        directory: where the file goes (``STATE_DIR/suggestions``).
        per_author: most questions kept per author.
        per_document: most questions taken from one document.
    """
    by_author: dict[str, list[str]] = {}
    for document in documents:
        kept = by_author.setdefault(document.author_full_name, [])
        for question in questions_for_document(document, per_document=per_document):
            if len(kept) < per_author and question not in kept:
                kept.append(question)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SUGGESTIONS_FILE
    record = {"built_at": datetime.now(UTC).isoformat(timespec="seconds"), "authors": by_author}
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".suggestions.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, ensure_ascii=False, indent=1)
    os.replace(tmp, path)
    return path


def load_suggestions(path: Path, *, author: str | None = None, n: int = 5) -> list[str]:
    """``n`` stored questions of ``author`` (matched case- and space-insensitively), or of every author in turn.

    Raises:
        FileNotFoundError: the file was not built yet.
    """
    authors: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))["authors"]
    if author:
        name = match_author(author, authors) or next(
            (a for a in authors if fold_name(a) == fold_name(author)), None
        )
        return authors.get(name, [])[:n] if name else []
    mixed: list[str] = []
    lists = list(authors.values())
    for i in range(max((len(q) for q in lists), default=0)):
        mixed.extend(q[i] for q in lists if i < len(q))
    return mixed[:n]
