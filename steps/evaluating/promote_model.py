"""Step: make the winner on the primary metric production, in the registry and in ZenML, or log why not."""

from typing import Annotated

from zenml import Model, log_metadata, step
from zenml.logger import get_logger

from llm_engineering.configs.evaluating import PromotionConfig
from llm_engineering.model.evaluation.promotion import PromotionDecision, apply_promotion
from llm_engineering.model.evaluation.results import EvaluationResults
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.settings import get_settings
from steps import ZENML_MODEL

logger = get_logger(__name__)


@step(enable_cache=False)
def promote_model(
    evaluation_results: EvaluationResults, promotion: PromotionConfig
) -> Annotated[PromotionDecision, "promotion_decision"]:
    """Apply the promotion decision: registry production pointer and ZenML stage ``production``.

    Args:
        evaluation_results: the scores and the decision taken on them.
        promotion: ``enabled: false`` logs the decision and changes nothing.

    Returns:
        The decision, with its reason.
    """
    decision = evaluation_results.promotion
    assert decision is not None  # score_answers always decides
    applied = promotion.enabled and apply_promotion(
        decision, registry=ModelRegistry(get_settings().models_dir)
    )
    if applied and decision.winner:
        Model(name=ZENML_MODEL, version=decision.winner).set_stage("production", force=True)
    verb = "promoted" if applied else "would promote (promotion disabled)" if decision.promote else "kept"
    summary = f"{verb} {decision.winner if decision.promote else decision.production}: {decision.reason}"
    log_metadata(
        metadata={
            "decision": decision.model_dump(mode="json"),
            "applied": applied,
            "stopped_by_guards": len(decision.stopped),
            "summary": summary,
        }
    )
    logger.info(summary)
    return decision
