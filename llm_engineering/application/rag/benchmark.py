"""The retrieval benchmark: held-out questions whose source article is known, and the hit rate of a retriever.

The handbook corpus ships an instruction dataset whose ``test`` split was never used for
training: question/answer pairs written from the authors' articles, without the article's
link. A question's **source article** is found from its *answer* (not the question): the
article of the chunk closest to the answer by dense similarity, and the one closest by
BM25. Only questions where both agree are kept, so the label does not favour either
signal; the retriever under test then sees only the question. The **hit rate** at ``k`` is
the share of questions whose source article is among the links of the ``k`` chunks
returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from llm_engineering.application.preprocessing.embedding import TextEmbedder
from llm_engineering.application.rag.lexical import LexicalIndex
from llm_engineering.application.rag.retrieval import search_many
from llm_engineering.domain.vector_store import VectorStore


@dataclass(frozen=True)
class LabelledQuestion:
    """A held-out question and the link of the article it was written from."""

    question: str
    link: str


def label_questions(
    pairs: Iterable[tuple[str, str]], *, store: VectorStore, lexical: LexicalIndex, embedder: TextEmbedder
) -> list[LabelledQuestion]:
    """``(question, answer)`` pairs labelled with their source article where BM25 confirms the dense label."""
    pairs = list(pairs)
    dense = search_many([answer for _, answer in pairs], store=store, embedder=embedder, k=1)
    labelled = []
    for (question, answer), hits in zip(pairs, dense, strict=True):
        confirming = {hit.payload.get("link") for hit in lexical.search(answer, k=3)}
        if hits and hits[0].link in confirming:
            labelled.append(LabelledQuestion(question=question, link=hits[0].link))
    return labelled


def handbook_pairs(dataset: dict, *, split: str = "test") -> list[tuple[str, str]]:
    """``(instruction, answer)`` pairs of one split of the handbook's ``instruct_datasets.json``."""
    return [
        (sample["instruction"], sample["answer"])
        for category in dataset[split].values()
        for sample in category["samples"]
    ]


def hit_rate(questions: Sequence[LabelledQuestion], retrieve: Callable[[str], Sequence[str]]) -> float:
    """Share of ``questions`` whose source link is among the links ``retrieve(question)`` returns."""
    if not questions:
        return 0.0
    hits = sum(q.link in set(retrieve(q.question)) for q in questions)
    return hits / len(questions)
