"""Retrieved passages in the training prompts, as serving builds them (the RAFT recipe).

Every served answer has retrieved passages of its author in its prompt, so the twin is
trained the same way: each sample's instruction is searched, with the serving retriever's
dense search (:func:`rag.retrieval.search_many`, the same embedder and embedded chunks),
among its author's chunks, and its prompt gets one of three contexts, chosen by a hash of
the sample (deterministic, the same in every dataset):

- ``oracle`` (share ``oracle_share``): the best chunk of the answer's own document among the
  best chunks of other documents, in rank order, as a search that finds it returns them;
- ``distractors`` (share ``distractor_share``): chunks of other documents only, so the twin
  learns to answer from its own knowledge when the passages do not hold the answer;
- ``none``: no passages (serving with ``rag: false``, a question nothing matches).

A training prompt shows text of training documents only, never of a held-out one. A held-out
(validation or test) prompt is never ``oracle``: like the evaluation's served arm, it is
retrieved with its own document left out, among the training documents and those of its own
split. The context budget of :mod:`llm_engineering.domain.chat`
applies here as in serving: at most ``CONTEXT_PASSAGES`` passages, each clipped to
``PASSAGE_WORDS`` words, stored in the dataset's ``context`` column as they are rendered.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel

from llm_engineering.application.datasets.flow import FilteredSamples
from llm_engineering.application.datasets.splits import assign_splits
from llm_engineering.application.preprocessing.embedding import TextEmbedder
from llm_engineering.configs.datasets import DatasetContextConfig, SplitConfig
from llm_engineering.domain.chat import CONTEXT_PASSAGES, clip_passage
from llm_engineering.domain.dataset import Extract, Sample
from llm_engineering.domain.vector_store import VectorStore

Mode = Literal["oracle", "distractors", "none"]


class Passage(BaseModel):
    """A retrieved chunk: its document and text."""

    document_id: str
    text: str


Retrieve = Callable[[Sequence[str], str], list[list[Passage]]]
"""``retrieve(queries, author)``: the best chunks of ``author`` for each query, best first."""


class ContextReport(BaseModel):
    """Samples with their passages, and how many got each context."""

    samples: list[Sample]
    modes: dict[str, int]
    oracle_missing: int = 0
    """Samples drawn ``oracle`` whose own document the search did not find (given distractors)."""

    def summary(self) -> str:
        """One line: samples per context mode."""
        missing = (
            f", {self.oracle_missing} oracle rows without their own passage" if self.oracle_missing else ""
        )
        return f"context of {len(self.samples)} samples: {dict(sorted(self.modes.items()))}{missing}"


def context_mode(sample: Sample, *, oracle_share: float, distractor_share: float, seed: int) -> Mode:
    """The sample's context mode, by a hash of its extract and instruction."""
    digest = hashlib.sha256(f"{seed}:{sample.extract_id}:{sample.instruction}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    if draw < oracle_share:
        return "oracle"
    if draw < oracle_share + distractor_share:
        return "distractors"
    return "none"


def choose_passages(
    candidates: Sequence[Passage], *, document_id: str, mode: Mode, allowed: Callable[[str], bool]
) -> tuple[list[str], bool]:
    """The passages of one prompt, best first, and whether its own document is among them.

    Args:
        candidates: the search's hits, best first.
        document_id: the answer's document.
        mode: ``oracle``, ``distractors`` or ``none``.
        allowed: whether a document's text may appear in this prompt (same split).
    """
    if mode == "none":
        return [], False
    own = next((p for p in candidates if p.document_id == document_id), None) if mode == "oracle" else None
    others = [p for p in candidates if p.document_id != document_id and allowed(p.document_id)]
    chosen: list[Passage] = []
    seen: set[str] = set()
    for passage in [*([own] if own else []), *others]:
        text = clip_passage(passage.text)
        if text and text not in seen:
            seen.add(text)
            chosen.append(passage)
        if len(chosen) == CONTEXT_PASSAGES:
            break
    # Rank order, as the search returned them (the own passage is not always first).
    rank = {id(p): i for i, p in enumerate(candidates)}
    chosen.sort(key=lambda p: rank[id(p)])
    return [clip_passage(p.text) for p in chosen], own is not None


def attach_context(
    samples: Sequence[Sample],
    *,
    retrieve: Retrieve,
    author_of: Callable[[str], str | None],
    split_of: Callable[[str], str],
    oracle_share: float,
    distractor_share: float,
    seed: int,
) -> ContextReport:
    """Give each sample the passages of its prompt (rules in the module docstring).

    Args:
        samples: the filtered samples.
        retrieve: the search over the embedded chunks (one call per author).
        author_of: the author of a document id (None: unknown, the sample gets no passages).
        split_of: the split of a document id (train, validation or test).
        oracle_share: share of samples whose passages include their own document's.
        distractor_share: share whose passages come from other documents only.
        seed: seed of the draw.
    """
    modes: Counter[str] = Counter()
    by_author: dict[str, list[int]] = {}
    drawn: list[Mode] = []
    for position, sample in enumerate(samples):
        mode = context_mode(sample, oracle_share=oracle_share, distractor_share=distractor_share, seed=seed)
        author = author_of(sample.document_id)
        if author is None:
            mode = "none"
        elif mode == "oracle" and split_of(sample.document_id) != "train":
            mode = "distractors"
        drawn.append(mode)
        if mode != "none":
            by_author.setdefault(author, []).append(position)  # type: ignore[arg-type]
    contexts: dict[int, list[str]] = {}
    missing = 0
    for author, positions in by_author.items():
        hits = retrieve([samples[p].instruction for p in positions], author)
        for position, candidates in zip(positions, hits, strict=True):
            sample = samples[position]
            side = split_of(sample.document_id)
            passages, found_own = choose_passages(
                candidates,
                document_id=sample.document_id,
                mode=drawn[position],
                allowed=lambda document, side=side: split_of(document) in ("train", side),
            )
            if drawn[position] == "oracle" and not found_own:
                missing += 1
            contexts[position] = passages
    result: list[Sample] = []
    for position, sample in enumerate(samples):
        passages = contexts.get(position, [])
        modes[drawn[position] if passages else "none"] += 1
        result.append(sample.model_copy(update={"context": tuple(passages)}))
    return ContextReport(samples=result, modes=dict(modes), oracle_missing=missing)


def store_retriever(store: VectorStore, embedder: TextEmbedder, *, candidates: int) -> Retrieve:
    """:data:`Retrieve` over the embedded chunks of ``store`` (serving's dense search)."""
    from llm_engineering.application.rag.retrieval import NoEmbeddedChunks, search_many

    def retrieve(queries: Sequence[str], author: str) -> list[list[Passage]]:
        try:
            hits = search_many(queries, store=store, embedder=embedder, k=candidates, author_full_name=author)
        except NoEmbeddedChunks:
            return [[] for _ in queries]
        return [[Passage(document_id=h.document_id, text=h.content) for h in found] for found in hits]

    return retrieve


def add_context(
    filtered: FilteredSamples,
    *,
    extracts: Sequence[Extract],
    retrieve: Retrieve,
    split: SplitConfig,
    settings: DatasetContextConfig,
) -> tuple[FilteredSamples, ContextReport]:
    """The filtered samples with their passages; the split is the one the dataset will get.

    Args:
        filtered: the samples that passed the quality filters.
        extracts: the run's extracts (they name each document's author).
        retrieve: the search (:func:`store_retriever`).
        split: the dataset's split settings (a prompt shows text of its own split or training only).
        settings: shares, candidates and seed.
    """
    authors = {e.document_id: e.author_full_name for e in extracts}
    free = [s.document_id for s in filtered.samples if s.split is None]
    sides: dict[str, str] = {}
    if split.group_by == "document":
        sizes = {"test_size": split.test_size, "validation_size": split.validation_size, "seed": split.seed}
        # The samples' documents are split exactly as build_dataset will; other documents of the
        # author (all filtered out) by the same thresholds.
        sides = {**assign_splits(list(authors), **sizes), **assign_splits(free, **sizes)}
    report = attach_context(
        filtered.samples,
        retrieve=retrieve,
        author_of=authors.get,
        split_of=lambda document: sides.get(document, "train"),
        oracle_share=settings.oracle_share,
        distractor_share=settings.distractor_share,
        seed=settings.seed,
    )
    return filtered.model_copy(update={"samples": report.samples}), report
