"""Pure pieces of retrieval: BM25, weighted rank fusion, self-query, query expansion, dedup, suggestions."""

from __future__ import annotations

import json

import pytest

from llm_engineering.application.rag.hybrid import deduplicate, reciprocal_rank_fusion
from llm_engineering.application.rag.lexical import LexicalIndex, tokenize
from llm_engineering.application.rag.query_expansion import expand_query
from llm_engineering.application.rag.retrieval import RetrievedChunk
from llm_engineering.application.rag.self_query import find_author, find_author_with_llm, match_author
from llm_engineering.application.rag.suggestions import (
    build_suggestions,
    load_suggestions,
    questions_for_document,
)
from llm_engineering.domain.llm import LLMError
from tests.fakes import demo_cleaned_documents

AUTHORS = ["Paul Iusztin", "Maxime Labonne", "Ada Lovelace"]


def _chunk(i: int, content: str, author: str = "Ada Lovelace") -> tuple[str, dict]:
    return f"id-{i}", {
        "content": content,
        "title": None,
        "author_full_name": author,
        "link": f"l{i}",
        "category": "posts",
    }


def test_tokenize_drops_stop_words_and_plural_s():
    assert tokenize("The models are Quantized with GPTQ, and LoRA adapters!") == [
        "model",
        "quantized",
        "gptq",
        "lora",
        "adapter",
    ]


def test_bm25_ranks_rare_matching_terms_first_and_filters_before_ranking():
    index = LexicalIndex(
        [
            _chunk(0, "vector databases store embeddings for retrieval"),
            _chunk(1, "GPTQ quantization of weights to 4 bits with GPTQ kernels"),
            _chunk(2, "retrieval retrieval retrieval and more retrieval"),
            _chunk(3, "GPTQ once", author="Paul Iusztin"),
        ]
    )
    assert [h.id for h in index.search("gptq quantization", k=2)] == ["id-1", "id-3"]
    paul = index.search("gptq quantization", k=5, filters={"author_full_name": "Paul Iusztin"})
    assert [h.id for h in paul] == ["id-3"]
    assert index.search("gptq", k=5, filters={"author_full_name": ["Nobody"]}) == []
    assert index.search("the and of", k=5) == []  # stop words only
    assert index.authors == {"Ada Lovelace", "Paul Iusztin"}


def test_weighted_reciprocal_rank_fusion():
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], weights=[1.0, 0.5], k=60)
    assert fused["b"] == pytest.approx(1 / 62 + 0.5 / 61)
    assert fused["a"] == pytest.approx(1 / 61) and fused["c"] == pytest.approx(0.5 / 62)
    assert sorted(fused, key=lambda x: -fused[x]) == ["b", "a", "c"]
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


@pytest.mark.parametrize(
    ("question", "author"),
    [
        ("What does Paul Iusztin think about RAG?", "Paul Iusztin"),
        ("what does paul   IUSZTIN think", "Paul Iusztin"),
        ("Summarise Maxime Labonne's take on GPTQ", "Maxime Labonne"),
        ("What does Paul think?", None),  # a first name alone is no match
        ("Ask Paul Iusztinov", None),  # word boundaries
        ("What would Grace Hopper say?", None),  # an unknown person is no filter
    ],
)
def test_self_query_matches_known_authors_only(question, author):
    assert find_author(question, AUTHORS) == author


DEMO_AUTHORS = ["Maya Lindqvist", "Theo Castellanos", "Paul Young", "Paul Iusztin", "Ada Lindqvist"]


@pytest.mark.parametrize(
    ("question", "author"),
    [
        ("What does Theo Castellanos think about DPO?", "Theo Castellanos"),
        ("How does Castellanos pick a reranker?", "Theo Castellanos"),  # a last name
        ("Castellanos' view on backfills", "Theo Castellanos"),  # possessive after a final s
        ("what does castellanos say about golden sets", "Theo Castellanos"),  # all lower case
        ("What is Maya's take on LoRA?", "Maya Lindqvist"),  # a first name in the possessive
        ("what is maya’s take on lora?", "Maya Lindqvist"),  # typographic apostrophe, lower case
        ("What does Maya think about LoRA?", None),  # a bare first name is no filter
        ("What does Lindqvist say about chunking?", None),  # a last name two authors share
        ("What does Ada Lindqvist say?", "Ada Lindqvist"),  # ... the full name settles it
        ("Advice for Young engineers, says Young?", "Paul Young"),  # capitalised: a name
        ("Is this good advice for young engineers? Ask Maya's team", "Maya Lindqvist"),  # not a name
        ("Is Paul's advice on chunking right?", None),  # a first name two authors share
        ("Compare Castellanos and Young on evaluation", None),  # two authors named: no filter
        ("Theo's P.S. about quantization", "Theo Castellanos"),
        ("Maya' notes", None),  # no possessive
    ],
)
def test_self_query_finds_last_names_and_possessive_first_names_of_one_author(question, author):
    assert find_author(question, DEMO_AUTHORS) == author


def test_llm_self_query_reads_a_last_name_in_the_model_answer():
    llm = ScriptedLLM("Castellanos")
    assert find_author_with_llm("who wrote about streaming?", DEMO_AUTHORS, llm=llm) == "Theo Castellanos"


def test_match_author_folds_case_and_spaces():
    assert match_author("  maxime   LABONNE ", AUTHORS) == "Maxime Labonne"
    assert match_author("Someone Else", AUTHORS) is None and match_author("", AUTHORS) is None


class ScriptedLLM:
    model_id = "scripted"
    max_concurrency = 1

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def complete(self, messages, *, max_tokens=None, temperature=None) -> str:
        self.prompts.append(messages[-1]["content"])
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_llm_self_query_is_matched_against_known_authors():
    assert (
        find_author_with_llm("who wrote about GPTQ?", AUTHORS, llm=ScriptedLLM("maxime labonne."))
        == "Maxime Labonne"
    )
    # the model names someone unknown: no filter, and nobody is created
    assert find_author_with_llm("what does Bob say?", AUTHORS, llm=ScriptedLLM("Bob Dylan")) is None
    # the model fails: the offline match still works
    assert (
        find_author_with_llm("Paul Iusztin on RAG", AUTHORS, llm=ScriptedLLM(LLMError("down")))
        == "Paul Iusztin"
    )


def test_query_expansion_offline_is_the_question_and_llm_adds_distinct_rephrasings():
    assert expand_query("  what is  RAG? ") == ["what is RAG?"]
    llm = ScriptedLLM(
        "1. Explain retrieval augmented generation\n- what is RAG?\n\nHow does RAG work?\nextra line"
    )
    assert expand_query("what is RAG?", n=3, llm=llm) == [
        "what is RAG?",
        "Explain retrieval augmented generation",
        "How does RAG work?",
    ]
    assert expand_query("q", n=3, llm=ScriptedLLM(LLMError("down"))) == ["q"]


def test_deduplicate_drops_repeated_ids_and_near_identical_text():
    def chunk(i: str, content: str) -> RetrievedChunk:
        return RetrievedChunk(
            id=i,
            score=1.0,
            document_id="d",
            index=0,
            category="posts",
            content=content,
            author_full_name="A",
            author_id="a",
            link="l",
            platform="p",
        )

    text = "feature stores keep training and serving features consistent across pipelines"
    kept = deduplicate(
        [chunk("1", text), chunk("1", text), chunk("2", text + "!"), chunk("3", "something else entirely")]
    )
    assert [c.id for c in kept] == ["1", "3"]


def test_suggestions_are_questions_per_author_stored_once(tmp_path):
    documents = demo_cleaned_documents()
    first = questions_for_document(documents[0])
    assert first and first[0].startswith("What did you write in") and len(first) <= 3
    path = build_suggestions(documents, directory=tmp_path / "suggestions", per_author=5)
    stored = json.loads(path.read_text(encoding="utf-8"))["authors"]
    assert list(stored) == ["Maya Lindqvist"] and len(stored["Maya Lindqvist"]) == 5
    assert load_suggestions(path, author="maya  lindqvist", n=2) == stored["Maya Lindqvist"][:2]
    assert load_suggestions(path, author="Nobody", n=2) == []
    assert load_suggestions(path, n=3) == stored["Maya Lindqvist"][:3]
