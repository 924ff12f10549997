"""Step: score the answers with every configured metric; the scores go to each ZenML model version."""

from contextlib import nullcontext
from typing import Annotated

from zenml import Model, log_metadata, step
from zenml.logger import get_logger

from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.infrastructure.embeddings import build_embedder
from llm_engineering.infrastructure.llm import build_endpoint_client
from llm_engineering.infrastructure.vector_stores import build_vector_store
from llm_engineering.model.evaluation.report import summary_line
from llm_engineering.model.evaluation.results import EvaluationAnswers, EvaluationResults
from llm_engineering.model.evaluation.score import score_answers as score
from llm_engineering.settings import get_settings
from steps import ZENML_MODEL

logger = get_logger(__name__)


@step(enable_cache=False)  # reads the live feature store and asks the judge
def score_answers(
    evaluation_answers: EvaluationAnswers, config: EvaluatingConfig
) -> Annotated[EvaluationResults, "evaluation_results"]:
    """Score each version's answers (and the feature store's retrieval), and decide promotion.

    Args:
        evaluation_answers: the answers of every version.
        config: the evaluation config (metrics, judge, promotion rule).

    Returns:
        The scores, notes on metrics that could not be computed, and the promotion decision.
    """
    settings = get_settings()
    judging = config.judge.mode == "on" or (config.judge.mode == "auto" and bool(settings.openai_base_url))
    judge = (
        build_endpoint_client(
            settings,
            timeout_seconds=config.judge.timeout_seconds,
            request_retries=config.judge.request_retries,
            json_retries=config.judge.json_retries,
            max_concurrency=config.judge.max_concurrency,
            temperature=0.0,
        )
        if judging
        else None
    )
    with build_vector_store(settings) as store, judge or nullcontext():
        results = score(
            evaluation_answers,
            config=config,
            embedder=lambda: build_embedder(settings),
            store=store,
            judge=judge,
        )
    for version in results.versions:
        scores = {k: v for k, v in version.scores.items() if v is not None}
        # The primary arm's scores are the version's evaluation; every arm's go under evaluation_<arm>.
        metadata = {f"evaluation_{version.arm}": {**scores, "intervals": version.intervals}}
        if version.arm == results.primary_arm:
            metadata["evaluation"] = {**scores, **results.run_scores}
        Model(name=ZENML_MODEL, version=version.name).log_metadata(metadata)
        log_metadata(
            metadata={f"evaluation_details_{version.arm}": version.details},
            model_name=ZENML_MODEL,
            model_version=version.name,
        )
    log_metadata(
        metadata={
            "scores": {v.key: {k: s for k, s in v.scores.items() if s is not None} for v in results.versions},
            "intervals": {v.key: v.intervals for v in results.versions},
            "failures": {
                "unscored_metrics": sum(s is None for v in results.versions for s in v.scores.values()),
                "notes": len(results.notes),
            },
            "run_scores": results.run_scores,
            "notes": results.notes,
            "judge_missing": sum(v.details.get("judge_missing", 0) for v in results.versions),
            "summary": summary_line(results),
        }
    )
    logger.info(summary_line(results))
    return results
