"""Self-query: the author a question names becomes a search filter.

Offline, the question is matched against the known authors (the warehouse's users and the
authors whose chunks are stored), in this order:

1. a full name anywhere in the question, in any case and spacing ("what does paul   iusztin
   think"), possessive or not ("Paul Iusztin's");
2. a last name ("What does Lindqvist say about chunking?", "Castellanos's view");
3. a first name in the possessive ("Maya's take on LoRA"): a bare first name ("ask Paul") is
   too common a word to filter on.

A partial name (2, 3) must be written capitalised, unless the whole question is in lower
case, so a surname that is also a word ("Paul Young", "young engineers") is not a filter in
ordinary prose; and it must name exactly one known author: a last name two authors share, or
two authors named at once ("compare Lindqvist and Castellanos"), is no filter. With an LLM
endpoint, the model is asked for the name and its answer is matched against the same list.
Either way only a known author comes back: self-query never creates a user, and a name the
corpus does not know is no filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from llm_engineering.domain.llm import ChatMessage, LLMClient, LLMError
from llm_engineering.domain.names import name_key

fold_name = name_key
"""A name folded for comparison (the project's one normaliser): case-insensitive, runs of whitespace as one space."""


def match_author(name: str | None, known_authors: Iterable[str]) -> str | None:
    """The known author whose folded name equals ``name``'s, spelled as stored; None when none does."""
    if not name or not name.strip():
        return None
    folded = fold_name(name)
    return next((author for author in known_authors if fold_name(author) == folded), None)


_POSSESSIVE = r"(?:'s|’s|'|’)"
"""The possessive endings: "Maya's", "Maya’s", and "Castellanos'" after a final s."""


def _full_name_pattern(author: str) -> str:
    words = [re.escape(word) for word in fold_name(author).split()]
    return r"(?<![\w])" + r"\s+".join(words) + _POSSESSIVE + r"?(?![\w])"


def _mentions(question: str, word: str, *, possessive: bool) -> bool:
    """Whether ``question`` holds ``word`` as a whole word (possessive when asked), capitalised
    as a name is, or in a question written all in lower case."""
    # A bare apostrophe is a possessive only after a final s ("Castellanos'"), never "Maya'".
    ending = (_POSSESSIVE if word.endswith("s") else r"(?:'s|’s)") if possessive else _POSSESSIVE + "?"
    pattern = r"(?<![\w])" + re.escape(word) + ending + r"(?![\w])"
    lower_case_question = not any(ch.isupper() for ch in question)
    return any(
        lower_case_question or match.group(0)[0].isupper()
        for match in re.finditer(pattern, question, flags=re.IGNORECASE)
    )


def _only(authors: set[str]) -> str | None:
    return next(iter(authors)) if len(authors) == 1 else None


def find_author(question: str, known_authors: Sequence[str]) -> str | None:
    """The known author the question names, or None (see the module's rules).

    Args:
        question: the user's question.
        known_authors: full names as stored ("First Last").

    Returns:
        The author's name as stored: by full name (longest name first), else by a last name
        that one author alone has, else by one author's first name in the possessive.
    """
    text = f" {fold_name(question)} "
    for author in sorted(known_authors, key=len, reverse=True):
        if fold_name(author).split() and re.search(_full_name_pattern(author), text):
            return author
    # Partial names only for authors with a first and a last name; a name two authors share
    # is ambiguous, and so is a question that names two authors.
    parts = {author: fold_name(author).split() for author in known_authors}
    parts = {author: words for author, words in parts.items() if len(words) >= 2}
    last_names = [words[-1] for words in parts.values()]
    by_last = {
        author
        for author, words in parts.items()
        if last_names.count(words[-1]) == 1 and _mentions(question, words[-1], possessive=False)
    }
    if by_last:
        return _only(by_last)
    first_names = [words[0] for words in parts.values()]
    by_first = {
        author
        for author, words in parts.items()
        if first_names.count(words[0]) == 1 and _mentions(question, words[0], possessive=True)
    }
    return _only(by_first)


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
    # The model may answer with a last name or a possessive: the offline rules read its answer too.
    return (
        match_author(answer, known_authors)
        or find_author(answer, known_authors)
        or find_author(question, known_authors)
    )
