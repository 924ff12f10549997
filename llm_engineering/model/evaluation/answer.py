"""Answering: every version answers the samples in each arm, decoded the way the API decodes.

Two arms (``config.arms``):

- **served**: the prompt users get. Each instruction's passages come from the API's own
  retriever (:class:`~llm_engineering.application.rag.hybrid.ContextRetriever`: hybrid
  dense + BM25 search filtered to the author), and :func:`~llm_engineering.domain.chat.build_messages`
  applies the same context budget as serving. The sample's **own document is left out** of
  its retrieval, so a twin cannot score by copying its reference out of the prompt.
- **bare**: no passages (what fine-tuning alone adds).

Retrieval does not depend on the model, so each sample's passages are found once and every
version reads the same prompt. Decoding is :class:`~llm_engineering.domain.decoding.Decoding`
(the evaluation config's ``generation`` section), through the same generator serving uses.
Author perplexity is measured on the bare prompt, with the model in float32.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from llm_engineering.application.feature_store import iter_cleaned_documents, scroll_all
from llm_engineering.application.rag.hybrid import ContextRetriever
from llm_engineering.application.rag.lexical import LexicalIndex
from llm_engineering.configs.evaluating import AnswerGenerationConfig, PerplexityConfig
from llm_engineering.domain.chat import build_messages, fit_context
from llm_engineering.domain.cleaned_documents import embedded_collection
from llm_engineering.domain.decoding import Decoding
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import VectorStore
from llm_engineering.model.evaluation.plan import EvaluationPlan
from llm_engineering.model.evaluation.results import EvalSample, EvaluationAnswers, VersionAnswers
from llm_engineering.model.evaluation.retrieval import source_document_ids
from llm_engineering.model.registry import ModelVersion


class Generator(Protocol):
    """What answers a batch of conversations (``generation.load_generator`` returns one)."""

    def generate(
        self, conversations: Sequence[Sequence[dict[str, str]]], decoding: Decoding, *, batch_size: int = 8
    ) -> list[Any]: ...


def load_folder_generator(folder: str | Path, generation: AnswerGenerationConfig) -> Generator:
    """The generator serving uses, for a model folder (``generation.runtime``; batch-invariant)."""
    from llm_engineering.model.generation import load_generator

    return load_generator(folder, runtime=generation.runtime)


def load_version_generator(version: ModelVersion, generation: AnswerGenerationConfig) -> Generator:
    """The generator serving would use for ``version``'s folder."""
    return load_folder_generator(version.folder, generation)


GeneratorLoader = Callable[[ModelVersion], Generator]


@dataclass
class ServedContexts:
    """Each sample's retrieved passages for the served arm.

    Attributes:
        passages: per sample, the passages best first (own document left out, ``k`` at most).
        documents: per sample, the document of each passage.
        left_out: chunks dropped because they came from the sample's own document.
        unresolved: samples whose own document was not known (their chunks could not be left out by id;
            any chunk whose text is part of the reference is dropped instead).
    """

    passages: list[list[str]]
    documents: list[list[str]]
    left_out: int
    unresolved: int


def lexical_index(store: VectorStore) -> LexicalIndex:
    """The BM25 index of every embedded chunk in ``store`` (as serving builds it)."""
    return LexicalIndex(
        (point.id, point.payload)
        for category in DataCategory
        for point in scroll_all(store, embedded_collection(category))
    )


def _folded(text: str) -> str:
    return " ".join(text.split()).lower()


def served_contexts(
    samples: Sequence[EvalSample],
    *,
    retriever: ContextRetriever,
    store: VectorStore,
    lexical: LexicalIndex | None,
    author: str,
    k: int,
) -> ServedContexts:
    """Retrieve each sample's passages as the API does, with the sample's own document left out.

    A sample without a ``document_id`` is traced to its document by its reference text
    (:func:`~.retrieval.source_document_ids`); one still unknown drops every chunk whose text
    occurs in its reference.
    """
    missing = [i for i, s in enumerate(samples) if not s.document_id]
    traced: dict[int, str | None] = {}
    if missing:
        documents = list(iter_cleaned_documents(store, author_full_names=[author]))
        found = source_document_ids([samples[i].reference for i in missing], documents)
        traced = dict(zip(missing, found, strict=True))
    passages: list[list[str]] = []
    document_ids: list[list[str]] = []
    left_out = unresolved = 0
    for i, sample in enumerate(samples):
        own = sample.document_id or traced.get(i)
        unresolved += own is None
        reference = _folded(sample.reference)
        result = retriever.retrieve(sample.instruction, store=store, lexical=lexical, k=3 * k, author=author)
        kept = []
        for chunk in result.chunks:
            if chunk.document_id == own or (own is None and _folded(chunk.content) in reference):
                left_out += 1
                continue
            kept.append(chunk)
        passages.append([c.content for c in kept[:k]])
        document_ids.append([c.document_id for c in kept[:k]])
    return ServedContexts(passages=passages, documents=document_ids, left_out=left_out, unresolved=unresolved)


def conversations_for(
    samples: Sequence[EvalSample], *, author: str, arm: str, contexts: Sequence[Sequence[str]] = ()
) -> list[list[dict[str, str]]]:
    """The prompts of one arm: ``build_messages`` with the served passages, or none."""
    if arm == "served":
        return [
            build_messages(s.instruction, author=author, context=c)
            for s, c in zip(samples, contexts, strict=True)
        ]
    return [build_messages(s.instruction, author=author) for s in samples]


def answer_arm(
    generator: Generator,
    samples: Sequence[EvalSample],
    *,
    author: str,
    arm: str,
    generation: AnswerGenerationConfig,
    contexts: Sequence[Sequence[str]] = (),
) -> tuple[list[Any], float]:
    """One version's answers in one arm; returns the ``Generated`` answers and the seconds taken."""
    conversations = conversations_for(samples, author=author, arm=arm, contexts=contexts)
    started = time.perf_counter()
    answers = generator.generate(conversations, generation.decoding(), batch_size=generation.batch_size)
    return answers, time.perf_counter() - started


def _perplexity(
    version: ModelVersion, plan: EvaluationPlan, settings: PerplexityConfig
) -> tuple[float, int, list]:
    from llm_engineering.domain.chat import render_prompt
    from llm_engineering.model.evaluation.perplexity import reference_nll
    from llm_engineering.model.generation import load_causal_lm

    model, tokenizer = load_causal_lm(version.folder, dtype="float32")
    measured = reference_nll(
        model,
        tokenizer,
        prompts=[
            render_prompt(tokenizer, build_messages(s.instruction, author=plan.author)) for s in plan.samples
        ],
        references=[s.reference for s in plan.samples],
        max_reference_tokens=settings.max_reference_tokens,
        batch_size=settings.batch_size,
    )
    pairs = [
        (nll * n if n else 0.0, n)
        for nll, n in zip(measured.per_sample_nll, measured.per_sample_tokens, strict=True)
    ]
    return measured.perplexity, measured.tokens, pairs


def answer_samples(
    plan: EvaluationPlan,
    *,
    generation: AnswerGenerationConfig,
    arms: Sequence[str],
    perplexity: PerplexityConfig | None,
    metrics: Sequence[str],
    contexts: ServedContexts | None = None,
    load: GeneratorLoader | None = None,
    progress: bool = True,
) -> EvaluationAnswers:
    """Each version answers the plan's samples in each arm; author perplexity is measured once per version.

    Args:
        plan: the checked plan.
        generation: the decoding and how to run it.
        arms: ``served`` and/or ``bare``.
        perplexity: perplexity settings; None skips it.
        metrics: the metric groups asked for (recorded with the answers).
        contexts: the served arm's passages (:func:`served_contexts`); required with ``served``.
        load: version -> generator; default: :func:`load_version_generator`.
        progress: show a progress bar over versions.

    Raises:
        ValueError: the served arm without contexts.
    """
    if "served" in arms and contexts is None:
        raise ValueError("the served arm needs the retrieved contexts (served_contexts)")
    load = load or (lambda version: load_version_generator(version, generation))
    rows: list[VersionAnswers] = []
    for version in tqdm(plan.versions, desc="versions", unit="version", disable=not progress):
        generator = load(version)
        measured = _perplexity(version, plan, perplexity) if perplexity is not None else None
        for arm in arms:
            passages = contexts.passages if arm == "served" and contexts is not None else []
            generated, seconds = answer_arm(
                generator, plan.samples, author=plan.author, arm=arm, generation=generation, contexts=passages
            )
            row = VersionAnswers(
                name=version.name,
                stage=version.stage,
                folder=str(version.folder),
                arm=arm,
                answers=[g.text for g in generated],
                finish_reasons=[g.finish_reason for g in generated],
                completion_tokens=sum(g.completion_tokens for g in generated),
                seconds=round(seconds, 3),
                passages=[len(fit_context(p)) for p in passages],
            )
            if measured is not None:
                row.perplexity, row.perplexity_tokens, row.perplexity_nll = measured
            rows.append(row)
        close = getattr(generator, "close", None)
        if close is not None:  # the generator's decoding thread ends with it
            close()
    return EvaluationAnswers(
        author=plan.author,
        dataset=str(plan.dataset),
        samples=plan.samples,
        versions=rows,
        production=plan.production,
        metrics=list(metrics),
        author_texts=plan.author_texts,
        contexts=contexts.passages if contexts is not None else [],
        context_documents=contexts.documents if contexts is not None else [],
        left_out=contexts.left_out if contexts is not None else 0,
        decoding=generation.decoding().model_dump(mode="json"),
        checks=plan.checks,
    )


def retrieve_served_contexts(
    plan: EvaluationPlan,
    *,
    store: VectorStore,
    embedder: Any,
    k: int,
    llm: Any = None,
    reranker: Any = None,
) -> ServedContexts:
    """The served arm's passages, retrieved the way the API retrieves them (see :func:`served_contexts`).

    Args:
        plan: the checked plan (its samples and author).
        store: the feature store the API searches.
        embedder: the embedding model the chunks were embedded with.
        k: passages per prompt before the context budget.
        llm: the endpoint for self-query and query expansion, when serving has one (``RAG_LLM``).
        reranker: the cross-encoder, when serving has one (``RERANK_MODEL_ID``).
    """
    retriever = ContextRetriever(embedder=embedder, known_authors=[plan.author], llm=llm, reranker=reranker)
    return served_contexts(
        plan.samples, retriever=retriever, store=store, lexical=lexical_index(store), author=plan.author, k=k
    )
