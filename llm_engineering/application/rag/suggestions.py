"""Suggested questions: questions the corpus can answer, built ahead of time from the cleaned documents.

For each cleaned document, the first prose sentence of each paragraph is turned back into
the question it answers (the dataset pipeline's offline patterns: "X is Y" -> "What is X?",
"To X, Y" -> "How do you X?", ...), and an article's title gives "What did you write in
"T"?". Questions are de-duplicated per author, kept in document order, capped per author,
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

from llm_engineering.application.datasets.offline import first_sentence, question_for
from llm_engineering.application.rag.self_query import fold_name, match_author
from llm_engineering.domain.cleaned_documents import CleanedDocument

SUGGESTIONS_FILE = "suggestions.json"
_VAGUE_ENDING = re.compile(r"\b(it|this|that|these|those|them)\W*$", re.IGNORECASE)
"""Questions ending on a pronoun ("How do you implement it?") need their paragraph to make sense."""


def questions_for_document(document: CleanedDocument, *, per_document: int = 3) -> list[str]:
    """Up to ``per_document`` questions ``document`` answers, best first (its title's question first)."""
    questions = []
    if document.title and len(document.title.split()) >= 2:
        questions.append(f'What did you write in "{document.title.strip()}"?')
    for paragraph in document.content.split("\n\n"):
        sentence = first_sentence(paragraph)
        question = question_for(sentence) if sentence else None
        vague = question is not None and _VAGUE_ENDING.search(question)
        if question and not vague and 4 <= len(question.split()) <= 20 and question not in questions:
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
