"""Query expansion: several phrasings of a question, searched separately and fused.

Offline there is no model to rephrase with, so the question alone is searched (a synonym
list would be a guess about the corpus). With an LLM endpoint, the model writes
``n - 1`` other phrasings, one per line; the original always comes first, and a failed or
empty answer leaves just the original.
"""

from __future__ import annotations

from llm_engineering.domain.llm import ChatMessage, LLMClient, LLMError

_EXPAND_PROMPT = (
    "Write {count} different rephrasings of this question for a search engine over an author's "
    "articles and posts. One per line, no numbering, nothing else.\n\nQuestion: {question}"
)


def expand_query(question: str, *, n: int = 3, llm: LLMClient | None = None) -> list[str]:
    """The question followed by up to ``n - 1`` distinct rephrasings (only the question offline).

    Args:
        question: the user's question.
        n: most queries to return, the question included.
        llm: the endpoint that rephrases; None: offline.
    """
    question = " ".join(question.split())
    if llm is None or n <= 1:
        return [question]
    messages: list[ChatMessage] = [
        {"role": "user", "content": _EXPAND_PROMPT.format(count=n - 1, question=question)}
    ]
    try:
        answer = llm.complete(messages, max_tokens=200, temperature=0.0)
    except LLMError:
        return [question]
    queries = [question]
    for line in answer.splitlines():
        line = line.strip().lstrip("-*0123456789.) ").strip()
        if line and line.casefold() not in {q.casefold() for q in queries}:
            queries.append(line)
    return queries[:n]
