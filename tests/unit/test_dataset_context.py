"""Retrieved passages in training prompts (RAFT): the own passage in a share, distractors, none; never held-out text."""

from __future__ import annotations

from collections.abc import Sequence

from llm_engineering.application.datasets.context import Passage, attach_context, choose_passages
from llm_engineering.domain.chat import CONTEXT_PASSAGES, PASSAGE_WORDS
from llm_engineering.domain.dataset import InstructionSample

SPLIT = {"d0": "train", "d1": "train", "d2": "train", "d3": "train", "d4": "test", "d5": "validation"}


def sample(i: int, document: str) -> InstructionSample:
    return InstructionSample(
        instruction=f"What do you think about feature store number {i}?",
        answer=f"My own answer number {i}, long enough to read like an answer of the author.",
        category="articles",
        extract_id=f"{document}-{i}",
        document_id=document,
        source="test",
    )


def passage(document: str, n: int = 0) -> Passage:
    words = " ".join(f"{document}w{k}" for k in range(PASSAGE_WORDS + 20))
    return Passage(document_id=document, text=f"{words} {n}")


def retrieve(queries: Sequence[str], author: str) -> list[list[Passage]]:
    assert author == "Maya Lindqvist"
    ranked = [passage(d) for d in ("d4", "d1", "d5", "d0", "d2", "d3")]  # a held-out document ranks first
    return [list(ranked) for _ in queries]


SAMPLES = [sample(i, f"d{i % 6}") for i in range(60)]


def test_passages_follow_the_draw_the_budget_and_never_show_held_out_text_in_training():
    report = attach_context(
        SAMPLES,
        retrieve=retrieve,
        author_of=lambda document: "Maya Lindqvist",
        split_of=SPLIT.__getitem__,
        oracle_share=0.4,
        distractor_share=0.3,
        seed=0,
    )
    assert sum(report.modes.values()) == len(SAMPLES)
    assert set(report.modes) == {"oracle", "distractors", "none"}
    assert 0.2 < report.modes["oracle"] / len(SAMPLES) < 0.6
    for row in report.samples:
        documents = {p.split("w", 1)[0] for p in row.context}
        assert len(row.context) <= CONTEXT_PASSAGES
        assert all(len(p.removesuffix(" …").split()) <= PASSAGE_WORDS for p in row.context)
        if SPLIT[row.document_id] == "train":
            assert all(SPLIT[d] == "train" for d in documents)  # no held-out text in a training prompt
        else:
            assert row.document_id not in documents  # held out: retrieved with its own document left out
    own = [r for r in report.samples if r.document_id in {p.split("w", 1)[0] for p in r.context}]
    assert len(own) == report.modes["oracle"]
    again = attach_context(
        SAMPLES,
        retrieve=retrieve,
        author_of=lambda document: "Maya Lindqvist",
        split_of=SPLIT.__getitem__,
        oracle_share=0.4,
        distractor_share=0.3,
        seed=0,
    )
    assert again == report  # deterministic


def test_an_oracle_prompt_keeps_the_search_rank_order_and_its_own_passage():
    candidates = [passage("d1"), passage("d2"), passage("d3"), passage("d0"), passage("d0", 1)]
    chosen, found = choose_passages(candidates, document_id="d0", mode="oracle", allowed=lambda d: True)
    assert found and [c.split("w", 1)[0] for c in chosen] == ["d1", "d2", "d0"]
    chosen, found = choose_passages(candidates, document_id="d0", mode="distractors", allowed=lambda d: True)
    assert not found and [c.split("w", 1)[0] for c in chosen] == ["d1", "d2", "d3"]
    assert choose_passages(candidates, document_id="d0", mode="none", allowed=lambda d: True) == ([], False)
