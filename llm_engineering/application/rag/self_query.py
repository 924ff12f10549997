"""Self-query: the author a question names becomes a search filter.

Offline, the question is matched against the known authors (the warehouse's users and the
authors whose chunks are stored): a full name anywhere in the question, in any case and
spacing ("what does paul   iusztin think"), or a possessive ("Paul Iusztin's"). With an
LLM endpoint, the model is asked for the name and its answer is matched against the same
list. Either way only a known author comes back: self-query never creates a user, and a
name the corpus does not know is no filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from llm_engineering.application.datasets.ports import ChatMessage, LLMClient, LLMError
from llm_engineering.domain.names import name_key

fold_name = name_key
"""A name folded for comparison (the project's one normaliser): case-insensitive, runs of whitespace as one space."""


def match_author(name: str | None, known_authors: Iterable[str]) -> str | None:
    """The known author whose folded name equals ``name``'s, spelled as stored; None when none does."""
    if not name or not name.strip():
        return None
    folded = fold_name(name)
    return next((author for author in known_authors if fold_name(author) == folded), None)


def find_author(question: str, known_authors: Sequence[str]) -> str | None:
    """The known author whose full name the question contains (longest name first), or None.

    Args:
        question: the user's question.
        known_authors: full names as stored ("First Last").
    """
    text = f" {fold_name(question)} "
    for author in sorted(known_authors, key=len, reverse=True):
        words = [re.escape(word) for word in fold_name(author).split()]
        if words and re.search(r"(?<![\w])" + r"\s+".join(words) + r"(?:'s|’s)?(?![\w])", text):
            return author
    return None


_AUTHOR_PROMPT = (
    "Which person, if any, does this question name as the author whose writing or opinion it asks "
    "about? Answer with the person's full name only, or NONE.\n\nQuestion: {question}"
)


def find_author_with_llm(question: str, known_authors: Sequence[str], *, llm: LLMClient) -> str | None:
    """Ask the model for the author the question names, then match its answer against the known authors.

    Falls back to :func:`find_author` when the model fails or names nobody known.
    """
    messages: list[ChatMessage] = [{"role": "user", "content": _AUTHOR_PROMPT.format(question=question)}]
    try:
        answer = llm.complete(messages, max_tokens=20, temperature=0.0).strip().strip(".\"'")
    except LLMError:
        answer = ""
    return match_author(answer, known_authors) or find_author(question, known_authors)
