"""Scoring: every metric of every version in every arm, each with a bootstrap 95% interval, then promotion.

A metric that cannot be computed (no feature store, no other author for the classifier)
becomes a note in the results, never a crashed run. Per-answer metrics (ROUGE-L, embedding
similarity, attribution, loop, ended, distinct-2, judge scores) are means with the interval
of the mean; pooled ones (style distance, author perplexity) are recomputed on each
resample of the test samples (:mod:`.intervals`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.application.preprocessing.cleaning import clean_article_text
from llm_engineering.application.preprocessing.embedding import TextEmbedder
from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.llm import LLMClient
from llm_engineering.domain.metrics import VERSION_METRICS
from llm_engineering.domain.vector_store import VectorStore
from llm_engineering.model.evaluation.attribution import attribution_rates, clip_words
from llm_engineering.model.evaluation.generated import distinct_values, ended_flags, loop_flags
from llm_engineering.model.evaluation.intervals import bootstrap_interval, mean_interval
from llm_engineering.model.evaluation.judge import judge_answers
from llm_engineering.model.evaluation.promotion import decide_promotion
from llm_engineering.model.evaluation.results import (
    EvaluationAnswers,
    EvaluationResults,
    VersionAnswers,
    VersionResult,
)
from llm_engineering.model.evaluation.retrieval import retrieval_scores, source_document_ids
from llm_engineering.model.evaluation.rouge import rouge_l
from llm_engineering.model.evaluation.similarity import embedding_similarities
from llm_engineering.model.evaluation.style import profile_from_counts, style_components, style_counts


def other_author_documents(
    store: VectorStore, *, author: str, max_documents: int, seed: int = 0
) -> tuple[list[str], set[str]]:
    """Other authors' cleaned documents (their text), a seeded sample of at most ``max_documents``, and
    the names of every author in the store."""
    names: set[str] = set()
    found = []
    for document in iter_cleaned_documents(store):
        name = " ".join(document.author_full_name.split())
        names.add(name)
        if name != author and document.content.split():
            found.append(document.content)
    random.Random(seed).shuffle(found)
    return found[: max(max_documents, 0)], names


def impostor_documents(impostors: Mapping[str, Sequence[Path]], *, skip: Collection[str]) -> list[str]:
    """The Markdown and text files of each impostor author not in ``skip``, read from their folders
    (``AttributionConfig.impostors`` holds them resolved against the project root) and cleaned as
    crawled articles are (:func:`~llm_engineering.application.preprocessing.cleaning.clean_article_text`),
    so that the author's side and the impostors' differ in writing, not in Markdown markup.

    Raises:
        LLMTwinError: a folder of an author who is not skipped does not exist.
    """
    texts = []
    for name, folders in impostors.items():
        if name in skip:
            continue
        for folder in folders:
            if not folder.is_dir():
                raise LLMTwinError(f"the writing of impostor author {name!r} is not at {folder}")
            for path in sorted(folder.rglob("*")):
                if path.suffix in (".md", ".txt") and path.is_file():
                    text = clean_article_text(path.read_text(encoding="utf-8"))
                    if text.split():
                        texts.append(text)
    return texts


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _set(result: VersionResult, metric: str, values: Sequence[float | None], seed: int) -> None:
    """A per-answer metric: the mean and the interval of the mean."""
    result.scores[metric] = _mean(values)
    result.intervals[metric] = mean_interval(values, seed=seed)


def style_with_interval(
    answers: Sequence[str], references: Sequence[str], *, seed: int = 0
) -> tuple[float, tuple[float, float] | None, dict[str, float]]:
    """Style distance of ``answers`` from their ``references``, its 95% interval (answer and reference resampled
    together) and its parts.

    Raises:
        ValueError: either side holds no words.
    """
    mine = np.array([style_counts(a) for a in answers])
    theirs = np.array([style_counts(r) for r in references])

    def distance(idx: np.ndarray) -> float:
        parts = style_components(
            profile_from_counts(mine[idx].sum(0)), profile_from_counts(theirs[idx].sum(0))
        )
        return sum(parts.values()) / len(parts)

    parts = style_components(profile_from_counts(mine.sum(0)), profile_from_counts(theirs.sum(0)))
    return (
        sum(parts.values()) / len(parts),
        bootstrap_interval(distance, len(answers), seed=seed),
        parts,
    )


def _style(
    result: VersionResult, answers: Sequence[str], references: Sequence[str], notes: list[str], seed: int
) -> None:
    try:
        value, interval, parts = style_with_interval(answers, references, seed=seed)
    except ValueError as exc:  # answers without a word: as far as can be
        result.scores["style_distance"], result.intervals["style_distance"] = 1.0, None
        notes.append(f"style_distance of {result.key}: {exc}; scored 1.0")
        return
    result.scores["style_distance"], result.intervals["style_distance"] = value, interval
    result.details["style_parts"] = {k: round(v, 4) for k, v in parts.items()}


def _perplexity(result: VersionResult, row: VersionAnswers, seed: int) -> None:
    result.scores["author_perplexity"] = row.perplexity
    if not row.perplexity_nll:
        result.intervals["author_perplexity"] = None
        return
    pairs = np.array(row.perplexity_nll, dtype=float)

    def pooled(idx: np.ndarray) -> float:
        tokens = pairs[idx, 1].sum()
        if not tokens:
            raise ValueError("no tokens")
        return float(np.exp(pairs[idx, 0].sum() / tokens))

    result.intervals["author_perplexity"] = bootstrap_interval(pooled, len(pairs), seed=seed)


def score_answers(
    answers: EvaluationAnswers,
    *,
    config: EvaluatingConfig,
    embedder: Callable[[], TextEmbedder] | None = None,
    store: VectorStore | None = None,
    judge: LLMClient | None = None,
    other_documents: Sequence[str] | None = None,
    progress: bool = True,
) -> EvaluationResults:
    """Score every row (version x arm) with the configured metrics, with intervals, and decide promotion.

    Args:
        answers: the answering step's output.
        config: the validated config.
        embedder: returns the embedding model (embedding similarity, retrieval); None skips those.
        store: the vector store (retrieval, other authors for attribution); None skips what needs it.
        judge: the LLM judge client; None: no judge scores.
        other_documents: other authors' texts for the attribution classifier; None: read from ``store``.
        progress: show progress bars.

    Returns:
        The results, with ``promotion`` decided (not applied).
    """
    asked = set(answers.metrics)
    seed = config.attribution.seed
    references = [s.reference for s in answers.samples]
    notes: list[str] = [*answers.checks]
    details: dict[str, Any] = {}
    if "served" in {v.arm for v in answers.versions}:
        if not any(any(v.passages) for v in answers.versions if v.arm == "served"):
            notes.append("served arm: no passage was retrieved (empty feature store?): it was answered bare")
        details["served_context"] = {
            "left_out_own_document_chunks": answers.left_out,
            "passages_per_prompt": round(
                sum(sum(v.passages) for v in answers.versions if v.arm == "served")
                / max(1, sum(len(v.passages) for v in answers.versions if v.arm == "served")),
                2,
            ),
        }
    results = {v.key: VersionResult(name=v.name, stage=v.stage, arm=v.arm) for v in answers.versions}
    model: TextEmbedder | None = None
    if embedder is not None and ({"embedding_similarity", "retrieval"} & asked):
        model = embedder()
    for row in tqdm(answers.versions, desc="score", unit="row", disable=not progress):
        result = results[row.key]
        result.details["answers_per_second"] = round(row.answers_per_second, 3)
        result.details["stopped_at_limit"] = row.finish_reasons.count("length")
        _set(result, "loop_rate", loop_flags(row.answers), seed)
        _set(result, "ended_rate", ended_flags(row.finish_reasons), seed)
        _set(result, "distinct_2", distinct_values(row.answers), seed)
        if "author_perplexity" in asked:
            _perplexity(result, row, seed)
        if "rouge_l" in asked:
            _set(
                result, "rouge_l", [rouge_l(a, r) for a, r in zip(row.answers, references, strict=True)], seed
            )
        if "style_distance" in asked:
            _style(result, row.answers, references, notes, seed)
        if "embedding_similarity" in asked:
            if model is None:
                result.scores["embedding_similarity"] = result.intervals["embedding_similarity"] = None
            else:
                _set(
                    result,
                    "embedding_similarity",
                    embedding_similarities(row.answers, references, embedder=model),
                    seed,
                )
    if "embedding_similarity" in asked and model is None:
        notes.append("embedding_similarity: no embedding model given; not scored")
    if "attribution_rate" in asked:
        _score_attribution(
            answers,
            config=config,
            store=store,
            other_documents=other_documents,
            results=results,
            notes=notes,
            details=details,
        )
    run_scores: dict[str, float] = {}
    if "retrieval" in asked:
        run_scores = _score_retrieval(
            answers, config=config, store=store, embedder=model, notes=notes, details=details
        )
    if judge is not None:
        _score_judge(answers, config=config, judge=judge, results=results, notes=notes, progress=progress)
    metrics = [m for m in VERSION_METRICS if any(m in r.scores for r in results.values())]
    evaluation = EvaluationResults(
        author=answers.author,
        dataset=answers.dataset,
        samples=answers.samples,
        answers={v.key: v.answers for v in answers.versions},
        versions=list(results.values()),
        run_scores=run_scores,
        details=details,
        notes=notes,
        metrics=metrics,
        primary_metric=config.promotion.primary_metric,
        primary_arm=config.promotion.arm,
        production=answers.production,
    )
    evaluation.promotion = decide(evaluation, config=config)
    return evaluation


def decide(evaluation: EvaluationResults, *, config: EvaluatingConfig):
    """Promotion on the primary metric of the primary arm (the fallback when no version has a primary score),
    guarded in the guard arm (served, what users get, when it was answered)."""
    settings = config.promotion
    metric = settings.primary_metric
    scores = evaluation.scores_of(metric)
    if settings.fallback_metric and all(s is None for s in scores.values()):
        evaluation.notes.append(
            f"promotion: no version has a {metric} score; decided on {settings.fallback_metric}"
        )
        metric = settings.fallback_metric
        scores = evaluation.scores_of(metric)
        evaluation.primary_metric = metric
    base = next((v.name for v in evaluation.versions if v.stage == "base"), None)
    guard_arm = settings.guard_arm or ("served" if "served" in evaluation.arms else settings.arm)
    return decide_promotion(
        scores,
        metric=metric,
        margin=settings.margin,
        production=evaluation.production,
        guards={guard: evaluation.intervals_of(guard, arm=guard_arm) for guard in settings.guards},
        baseline=base,
    )


def _score_attribution(
    answers: EvaluationAnswers,
    *,
    config: EvaluatingConfig,
    store: VectorStore | None,
    other_documents: Sequence[str] | None,
    results: dict[str, VersionResult],
    notes: list[str],
    details: dict[str, Any],
) -> None:
    settings = config.attribution
    others: list[str] = list(other_documents or [])
    known = {answers.author}
    if other_documents is None and store is not None:
        try:
            others, names = other_author_documents(
                store, author=answers.author, max_documents=settings.max_other_documents, seed=settings.seed
            )
            known |= names
        except LLMTwinError as exc:
            notes.append(f"attribution_rate: other authors not read from the feature store: {exc}")
    try:
        others += impostor_documents(settings.impostors, skip=known)
        found = attribution_rates(
            author_texts=answers.author_texts,
            references=[s.reference for s in answers.samples],
            answers={v.key: v.answers for v in answers.versions},
            other_documents=others,
            words=settings.words,
            held_out_share=settings.held_out_share,
            seed=settings.seed,
        )
    except LLMTwinError as exc:
        notes.append(f"attribution_rate: not scored: {exc}")
        for result in results.values():
            result.scores["attribution_rate"] = result.intervals["attribution_rate"] = None
        return
    for key, flags in found.flags.items():
        _set(results[key], "attribution_rate", flags, settings.seed)
    details["attribution"] = {
        "classifier_accuracy": round(found.classifier_accuracy, 4),
        "author_recall": round(found.author_recall, 4),
        "other_specificity": round(found.other_specificity, 4),
        "shuffled_rejected": round(found.shuffled_rejected, 4),
        "words": found.words,
        "training_texts": found.training,
    }


def _score_judge(
    answers: EvaluationAnswers,
    *,
    config: EvaluatingConfig,
    judge: LLMClient,
    results: dict[str, VersionResult],
    notes: list[str],
    progress: bool,
) -> None:
    references = [s.reference for s in answers.samples]
    chosen = sorted(answers.author_texts or references, key=len, reverse=True)[: config.judge.author_passages]
    passages = [clip_words(t, config.judge.passage_words) for t in chosen]
    for row in tqdm(answers.versions, desc="judge", unit="row", disable=not progress):
        verdict = judge_answers(
            client=judge,
            instructions=[s.instruction for s in answers.samples],
            answers=row.answers,
            references=references,
            author=answers.author,
            passages=passages,
            max_tokens=config.judge.max_tokens,
        )
        result = results[row.key]
        for name in verdict.means:
            values = [getattr(v, name) if v is not None else None for v in verdict.verdicts]
            _set(result, f"judge_{name}", values, config.attribution.seed)
        result.details["judge_scored"] = verdict.scored
        result.details["judge_missing"] = verdict.missing
        if verdict.missing:
            notes.append(
                f"judge: {verdict.missing} of {len(row.answers)} answers of {row.key} got no score"
                + (f" ({verdict.errors[0]})" if verdict.errors else "")
            )


def _score_retrieval(
    answers: EvaluationAnswers,
    *,
    config: EvaluatingConfig,
    store: VectorStore | None,
    embedder: TextEmbedder | None,
    notes: list[str],
    details: dict[str, Any],
) -> dict[str, float]:
    if store is None or embedder is None:
        notes.append("retrieval: no vector store or embedding model given; not scored")
        return {}
    try:
        targets: list[str | None] = [s.document_id for s in answers.samples]
        if not all(targets):
            documents = list(iter_cleaned_documents(store, author_full_names=[answers.author]))
            traced = source_document_ids([s.reference for s in answers.samples], documents)
            targets = [t or found for t, found in zip(targets, traced, strict=True)]
        found = retrieval_scores(
            [s.instruction for s in answers.samples],
            targets,
            store=store,
            embedder=embedder,
            k=config.retrieval.k,
            author_full_name=answers.author,
        )
    except (LLMTwinError, ValueError) as exc:
        notes.append(f"retrieval: not scored: {exc}")
        return {}
    details["retrieval"] = {"k": found.k, "queries": found.queries, "unresolved": found.unresolved}
    if found.unresolved:
        notes.append(f"retrieval: {found.unresolved} test samples not traced to a document; left out")
    hits = [1.0 if r is not None and r <= found.k else 0.0 for r in found.ranks]
    reciprocal = [1 / r if r is not None else 0.0 for r in found.ranks]
    details["retrieval"]["intervals"] = {
        "retrieval_hit_at_k": mean_interval(hits),
        "retrieval_mrr": mean_interval(reciprocal),
    }
    return {"retrieval_hit_at_k": found.hit_at_k, "retrieval_mrr": found.mrr}
