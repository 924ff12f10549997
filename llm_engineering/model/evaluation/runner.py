"""The evaluation flow: plan (check every input), answer (each version), score, decide promotion.

:func:`plan_evaluation` resolves the versions, the dataset and the author and refuses bad
input before any model is loaded: no model version yet, an unknown version, no dataset, an
empty test split, no author, a judge required without an endpoint. :func:`answer_test_split`
loads each version once, answers the test instructions in batches and, while the model is
in memory, measures its author perplexity. :func:`score_answers` computes the other metrics;
one that cannot be computed (no feature store, no contrast for the classifier) becomes a
note in the results, never a crashed run. The ZenML steps call these one each.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from llm_engineering.application.datasets.ports import LLMClient
from llm_engineering.application.datasets.storage import latest_dataset
from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.application.preprocessing.embedding import TextEmbedder
from llm_engineering.configs.evaluating import EvaluatingConfig, GenerationSettings, PerplexitySettings
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.vector_store import VectorStore
from llm_engineering.model.chat import build_messages, render_prompt
from llm_engineering.model.evaluation.attribution import attribution_rates, clip_words, passages
from llm_engineering.model.evaluation.judge import judge_answers
from llm_engineering.model.evaluation.metrics import VERSION_METRICS
from llm_engineering.model.evaluation.perplexity import reference_nll
from llm_engineering.model.evaluation.promotion import decide_promotion
from llm_engineering.model.evaluation.results import (
    EvalSample,
    EvaluationAnswers,
    EvaluationResults,
    VersionAnswers,
    VersionResult,
)
from llm_engineering.model.evaluation.retrieval import retrieval_scores, source_document_ids
from llm_engineering.model.evaluation.rouge import rouge_l
from llm_engineering.model.evaluation.similarity import embedding_similarities
from llm_engineering.model.evaluation.style import style_distance
from llm_engineering.model.registry import ModelRegistry, ModelVersion

TRAINING_FIX = "run `poe run-training-pipeline` first (it registers base, <run>-sft and <run>-dpo)"
DATASET_FIX = "run `poe run-generate-instruct-datasets-pipeline` first, or set dataset: PATH"


class EvaluationInputError(LLMTwinError):
    """The evaluation cannot start: the message says what is missing and how to fix it."""


@dataclass
class EvaluationPlan:
    """What an evaluation will run on.

    Attributes:
        versions: the versions to answer with, in order (base, SFT, DPO, then production).
        dataset: the instruction dataset folder: the config's, else the one the newest trained
            version was trained on, else the newest saved one.
        samples: the test samples used.
        author_texts: the author's training-split answers.
        author: whose twin it is.
        production: the production version's name, if any.
        judge: whether the LLM judge will score.
    """

    versions: list[ModelVersion]
    dataset: Path
    samples: list[EvalSample]
    author_texts: list[str]
    author: str
    production: str | None
    judge: bool


def _versions(config: EvaluatingConfig, registry: ModelRegistry) -> tuple[list[ModelVersion], str | None]:
    if not registry.versions():
        raise EvaluationInputError(f"no model version yet in {registry.root}: {TRAINING_FIX}")
    if config.versions:
        chosen = [registry.get(name) for name in config.versions]
    else:
        base = next((v for v in registry.versions("base") if v.name == "base"), None) or registry.latest(
            "base"
        )
        chosen = [v for v in (base, registry.latest("sft"), registry.latest("dpo")) if v is not None]
    production = registry.production()
    if production is not None and production.name not in {v.name for v in chosen}:
        chosen.append(production)
    unique = list({v.name: v for v in chosen}.values())
    missing = [v.name for v in unique if not Path(v.folder).is_dir()]
    if missing:
        raise EvaluationInputError(
            f"model folder missing for version(s) {', '.join(missing)}: {TRAINING_FIX}"
        )
    return unique, production.name if production else None


def _columns(split: Any, folder: Path) -> tuple[str, str]:
    for instruction, answer in (("instruction", "output"), ("prompt", "chosen")):
        if {instruction, answer} <= set(split.column_names):
            return instruction, answer
    raise EvaluationInputError(
        f"{folder}: expected columns instruction/output or prompt/chosen, found {split.column_names}"
    )


def load_dataset_samples(folder: Path, *, limit: int) -> tuple[list[EvalSample], list[str]]:
    """The first ``limit`` test samples of a saved dataset and the author's training-split answers.

    Raises:
        EvaluationInputError: not a saved dataset, no test split, or an empty one.
    """
    from datasets import load_from_disk

    try:
        dataset = load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as exc:
        raise EvaluationInputError(f"{folder}: not a saved dataset ({exc}); {DATASET_FIX}") from None
    if "test" not in dataset or len(dataset["test"]) == 0:
        raise EvaluationInputError(
            f"the test split of {folder} is empty: nothing to evaluate on. Rebuild the dataset with a larger "
            "split.test_size (or more documents)"
        )
    test = dataset["test"]
    instruction, answer = _columns(test, folder)
    rows = test.select(range(min(limit, len(test))))
    samples = [EvalSample(instruction=r[instruction], reference=r[answer]) for r in rows]
    train_texts: list[str] = []
    if "train" in dataset and len(dataset["train"]):
        _, train_answer = _columns(dataset["train"], folder)
        train_texts = list(dict.fromkeys(dataset["train"][train_answer]))
    return samples, train_texts


def _trained_on(versions: Sequence[ModelVersion], datasets_root: Path) -> Path | None:
    """The instruction dataset the newest trained version learned from, when it is still on disk.

    Its test split is the one no evaluated version was trained on.
    """
    for version in sorted(versions, key=lambda v: v.created_at, reverse=True):
        name = version.datasets.get("instruction")
        if name and (Path(datasets_root) / "instruction" / name).is_dir():
            return Path(datasets_root) / "instruction" / name
    return None


def plan_evaluation(
    config: EvaluatingConfig, *, registry: ModelRegistry, datasets_root: Path, judge_configured: bool
) -> EvaluationPlan:
    """Resolve and check every input of an evaluation; nothing is loaded but the dataset's rows.

    Args:
        config: the validated config.
        registry: the model registry.
        datasets_root: where saved datasets live (``STATE_DIR/datasets``).
        judge_configured: whether an OpenAI-compatible endpoint is configured.

    Raises:
        EvaluationInputError: a clear message naming what is missing.
        UnknownModelVersion: a version named in the config is not in the registry.
    """
    versions, production = _versions(config, registry)
    folder = (
        config.dataset or _trained_on(versions, datasets_root) or latest_dataset(datasets_root, "instruction")
    )
    if folder is None:
        raise EvaluationInputError(f"no instruction dataset under {datasets_root}: {DATASET_FIX}")
    if not Path(folder).is_dir():
        raise EvaluationInputError(f"dataset folder {folder} does not exist: {DATASET_FIX}")
    samples, author_texts = load_dataset_samples(Path(folder), limit=config.samples)
    author = config.author or next((v.author for v in versions if v.author), None)
    if not author:
        raise EvaluationInputError(
            "no author known: the versions record none; set author: First Last in the config"
        )
    if config.judge.mode == "on" and not judge_configured:
        raise EvaluationInputError("judge.mode is 'on' but no endpoint is configured: set OPENAI_BASE_URL")
    return EvaluationPlan(
        versions=versions,
        dataset=Path(folder),
        samples=samples,
        author_texts=author_texts,
        author=author,
        production=production,
        judge=config.judge.mode == "on" or (config.judge.mode == "auto" and judge_configured),
    )


ModelLoader = Callable[[ModelVersion], tuple[Any, Any]]


def answer_with_model(
    model: Any,
    tokenizer: Any,
    samples: Sequence[EvalSample],
    *,
    author: str,
    generation: GenerationSettings,
) -> tuple[list[Any], float]:
    """Answer ``samples`` with one loaded model; returns the ``Generated`` answers and the seconds taken."""
    from llm_engineering.model.generation import generate_answers

    conversations = [build_messages(s.instruction, author=author) for s in samples]
    started = time.perf_counter()
    answers = generate_answers(
        model,
        tokenizer,
        conversations,
        max_new_tokens=generation.max_new_tokens,
        temperature=generation.temperature,
        top_p=generation.top_p,
        batch_size=generation.batch_size,
        seed=generation.seed,
    )
    return answers, time.perf_counter() - started


def answer_test_split(
    plan: EvaluationPlan,
    *,
    generation: GenerationSettings,
    perplexity: PerplexitySettings | None,
    metrics: Sequence[str],
    load: ModelLoader | None = None,
    progress: bool = True,
) -> EvaluationAnswers:
    """Each version answers the test instructions; its author perplexity is measured while it is loaded.

    Args:
        plan: the checked plan.
        generation: generation settings.
        perplexity: perplexity settings; None skips it.
        metrics: the metric groups asked for (recorded with the answers).
        load: version -> ``(model, tokenizer)``; default: ``generation.load_causal_lm`` on its folder.
        progress: show a progress bar over versions.
    """
    if load is None:
        from llm_engineering.model.generation import load_causal_lm

        def load(version: ModelVersion) -> tuple[Any, Any]:
            dtype = None if generation.dtype == "auto" else generation.dtype
            return load_causal_lm(version.folder, device=generation.device, dtype=dtype)

    results = []
    for version in tqdm(plan.versions, desc="versions", unit="version", disable=not progress):
        model, tokenizer = load(version)
        generated, seconds = answer_with_model(
            model, tokenizer, plan.samples, author=plan.author, generation=generation
        )
        answered = VersionAnswers(
            name=version.name,
            stage=version.stage,
            folder=str(version.folder),
            answers=[g.text for g in generated],
            finish_reasons=[g.finish_reason for g in generated],
            completion_tokens=sum(g.completion_tokens for g in generated),
            seconds=round(seconds, 3),
        )
        if perplexity is not None:
            prompts = [
                render_prompt(tokenizer, build_messages(s.instruction, author=plan.author))
                for s in plan.samples
            ]
            measured = reference_nll(
                model,
                tokenizer,
                prompts=prompts,
                references=[s.reference for s in plan.samples],
                max_reference_tokens=perplexity.max_reference_tokens,
                batch_size=perplexity.batch_size,
            )
            answered.perplexity, answered.perplexity_tokens = measured.perplexity, measured.tokens
        results.append(answered)
        del model
    return EvaluationAnswers(
        author=plan.author,
        dataset=str(plan.dataset),
        samples=plan.samples,
        versions=results,
        production=plan.production,
        metrics=list(metrics),
        author_texts=plan.author_texts,
    )


def other_author_passages(
    store: VectorStore, *, author: str, max_passages: int, max_words: int, seed: int = 0
) -> list[str]:
    """Passages of ``max_words`` words from other authors' cleaned documents, a seeded sample of at most ``max_passages``."""
    if max_passages <= 0:
        return []
    found = [
        passage
        for document in iter_cleaned_documents(store)
        if " ".join(document.author_full_name.split()) != author
        for passage in passages(document.content, max_words=max_words)
        if len(passage.split()) >= max_words // 3
    ]
    random.Random(seed).shuffle(found)
    return found[:max_passages]


def _judge_passages(texts: Sequence[str], *, count: int, words: int) -> list[str]:
    chosen = sorted(texts, key=len, reverse=True)[:count]
    return [clip_words(t, words) for t in chosen]


def score_answers(
    answers: EvaluationAnswers,
    *,
    config: EvaluatingConfig,
    embedder: Callable[[], TextEmbedder] | None = None,
    store: VectorStore | None = None,
    judge: LLMClient | None = None,
    progress: bool = True,
) -> EvaluationResults:
    """Score every version's answers with the configured metrics and decide promotion.

    Args:
        answers: the answering step's output.
        config: the validated config.
        embedder: returns the embedding model (embedding similarity, retrieval); None skips those.
        store: the vector store (retrieval, other authors for attribution); None skips what needs it.
        judge: the LLM judge client; None: no judge scores.
        progress: show progress bars.

    Returns:
        The results, with ``promotion`` decided (not applied).
    """
    asked = set(answers.metrics)
    references = [s.reference for s in answers.samples]
    notes: list[str] = []
    details: dict[str, Any] = {}
    results = {v.name: VersionResult(name=v.name, stage=v.stage) for v in answers.versions}
    model: TextEmbedder | None = None
    if embedder is not None and ({"embedding_similarity", "retrieval"} & asked):
        model = embedder()
    for version in tqdm(answers.versions, desc="score", unit="version", disable=not progress):
        result = results[version.name]
        result.details["answers_per_second"] = round(version.answers_per_second, 3)
        result.details["stopped_at_limit"] = version.finish_reasons.count("length")
        if "author_perplexity" in asked:
            result.scores["author_perplexity"] = version.perplexity
        if "rouge_l" in asked:
            result.scores["rouge_l"] = sum(
                rouge_l(a, r) for a, r in zip(version.answers, references, strict=True)
            ) / len(references)
        if "style_distance" in asked:
            try:
                distance, parts = style_distance(version.answers, references)
                result.scores["style_distance"] = distance
                result.details["style_parts"] = {k: round(v, 4) for k, v in parts.items()}
            except ValueError as exc:  # answers without a word: as far as can be
                result.scores["style_distance"] = 1.0
                notes.append(f"style_distance of {version.name}: {exc}; scored 1.0")
        if "embedding_similarity" in asked:
            if model is None:
                result.scores["embedding_similarity"] = None
            else:
                scores = embedding_similarities(version.answers, references, embedder=model)
                result.scores["embedding_similarity"] = sum(scores) / len(scores)
    if "embedding_similarity" in asked and model is None:
        notes.append("embedding_similarity: no embedding model given; not scored")
    if "attribution_rate" in asked:
        _score_attribution(answers, config=config, store=store, results=results, notes=notes, details=details)
    run_scores: dict[str, float] = {}
    if "retrieval" in asked:
        run_scores = _score_retrieval(
            answers, config=config, store=store, embedder=model, notes=notes, details=details
        )
    if judge is not None:
        author_passages = _judge_passages(
            answers.author_texts or references,
            count=config.judge.author_passages,
            words=config.judge.passage_words,
        )
        for version in tqdm(answers.versions, desc="judge", unit="version", disable=not progress):
            verdict = judge_answers(
                client=judge,
                instructions=[s.instruction for s in answers.samples],
                answers=version.answers,
                references=references,
                author=answers.author,
                passages=author_passages,
                max_tokens=config.judge.max_tokens,
            )
            result = results[version.name]
            for name, mean in verdict.means.items():
                result.scores[f"judge_{name}"] = mean
            result.details["judge_scored"] = verdict.scored
            result.details["judge_missing"] = verdict.missing
            if verdict.missing:
                notes.append(
                    f"judge: {verdict.missing} of {len(version.answers)} answers of {version.name} got no score"
                    + (f" ({verdict.errors[0]})" if verdict.errors else "")
                )
    metrics = [m for m in VERSION_METRICS if any(m in r.scores for r in results.values())]
    evaluation = EvaluationResults(
        author=answers.author,
        dataset=answers.dataset,
        samples=answers.samples,
        answers={v.name: v.answers for v in answers.versions},
        versions=list(results.values()),
        run_scores=run_scores,
        details=details,
        notes=notes,
        metrics=metrics,
        primary_metric=config.promotion.primary_metric,
        production=answers.production,
    )
    evaluation.promotion = decide_promotion(
        evaluation.scores_of(config.promotion.primary_metric),
        metric=config.promotion.primary_metric,
        margin=config.promotion.margin,
        production=answers.production,
    )
    return evaluation


def _score_attribution(
    answers: EvaluationAnswers,
    *,
    config: EvaluatingConfig,
    store: VectorStore | None,
    results: dict[str, VersionResult],
    notes: list[str],
    details: dict[str, Any],
) -> None:
    settings = config.attribution
    base = next((v for v in answers.versions if v.stage == "base"), None)
    others: list[str] = []
    if store is not None:
        try:
            others = other_author_passages(
                store,
                author=answers.author,
                max_passages=settings.max_other_passages,
                max_words=settings.max_words,
                seed=settings.seed,
            )
        except LLMTwinError as exc:  # a busy or broken store: contrast with the base answers only
            notes.append(f"attribution_rate: other authors not read from the feature store: {exc}")
    try:
        found = attribution_rates(
            author_texts=answers.author_texts,
            references=[s.reference for s in answers.samples],
            answers={v.name: v.answers for v in answers.versions},
            base_answers=base.answers if base else None,
            other_texts=others,
            folds=settings.folds,
            max_words=settings.max_words,
            seed=settings.seed,
        )
    except LLMTwinError as exc:
        notes.append(f"attribution_rate: not scored: {exc}")
        for result in results.values():
            result.scores["attribution_rate"] = None
        return
    for name, rate in found.rates.items():
        results[name].scores["attribution_rate"] = rate
    details["attribution"] = {
        "classifier_accuracy": round(found.classifier_accuracy, 4),
        "author_recall": round(found.author_recall, 4),
        "folds": found.folds,
        "training_texts": found.training,
    }


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
        documents = list(iter_cleaned_documents(store, author_full_names=[answers.author]))
        targets = source_document_ids([s.reference for s in answers.samples], documents)
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
    return {"retrieval_hit_at_k": found.hit_at_k, "retrieval_mrr": found.mrr}
