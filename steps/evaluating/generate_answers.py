"""Step: every model version answers the test split in each arm (and its author perplexity is measured meanwhile)."""

import time
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.model.evaluation.answer import ServedContexts, answer_samples, retrieve_served_contexts
from llm_engineering.model.evaluation.plan import EvaluationPlan, plan_evaluation_from_settings
from llm_engineering.model.evaluation.results import EvaluationAnswers
from llm_engineering.settings import Settings, get_settings

logger = get_logger(__name__)


def _served_contexts(plan: EvaluationPlan, *, k: int, settings: Settings) -> ServedContexts:
    """The API's retrieval, built as serving builds it (its self-query endpoint and reranker when it has them)."""
    from llm_engineering.application.rag.rerank import CrossEncoderReranker
    from llm_engineering.infrastructure.embeddings import build_embedder
    from llm_engineering.infrastructure.llm import build_endpoint_client
    from llm_engineering.infrastructure.vector_stores import build_vector_store

    llm = (
        build_endpoint_client(settings, default_max_tokens=200, temperature=0.0) if settings.rag_llm else None
    )
    reranker = CrossEncoderReranker(settings.rerank_model_id) if settings.rerank_model_id else None
    with build_vector_store(settings) as store:
        return retrieve_served_contexts(
            plan, store=store, embedder=build_embedder(settings), k=k, llm=llm, reranker=reranker
        )


@step(enable_cache=False)  # reads the live registry: "the newest SFT version" changes between runs
def generate_answers(config: EvaluatingConfig) -> Annotated[EvaluationAnswers, "evaluation_answers"]:
    """Answer the test instructions with each version, served (retrieved passages) and bare, decoded as served.

    Args:
        config: the evaluation config (versions, samples, arms, decoding, metrics).

    Returns:
        Each version's answers per arm (kept for reading side by side) and author perplexity.
    """
    settings = get_settings()
    plan = plan_evaluation_from_settings(config, settings=settings)
    started = time.perf_counter()
    contexts = (
        _served_contexts(plan, k=config.context.k, settings=settings) if "served" in config.arms else None
    )
    retrieval_seconds = time.perf_counter() - started
    answers = answer_samples(
        plan,
        generation=config.generation,
        arms=config.arms,
        perplexity=config.perplexity if "author_perplexity" in config.metrics else None,
        metrics=config.metrics,
        contexts=contexts,
    )
    speeds = {v.key: round(v.answers_per_second, 3) for v in answers.versions}
    at_limit = {v.key: v.finish_reasons.count("length") for v in answers.versions}
    summary = (
        f"{len({v.name for v in answers.versions})} versions answered {len(answers.samples)} test instructions "
        f"in {len(config.arms)} arm(s) ({', '.join(f'{n} {s} answers/s' for n, s in speeds.items())}); "
        f"{sum(at_limit.values())} answers stopped at the token limit"
    )
    log_metadata(
        metadata={
            "versions": [v.name for v in answers.versions],
            "arms": list(config.arms),
            "samples": len(answers.samples),
            "dataset": answers.dataset,
            "answers_per_second": speeds,
            "stopped_at_limit": at_limit,
            "retrieval_seconds": round(retrieval_seconds, 3),
            "own_document_chunks_left_out": answers.left_out,
            "failures": {"empty_answers": sum(not a.strip() for v in answers.versions for a in v.answers)},
            "held_out_checks": answers.checks,
            "decoding": answers.decoding,
            "summary": summary,
        }
    )
    logger.info(summary)
    return answers
