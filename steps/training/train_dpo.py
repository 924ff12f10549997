"""Step: preference tuning (DPO, LoRA) of the SFT twin."""

from pathlib import Path
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.model.training.flow import run_dpo
from llm_engineering.model.training.plan import TrainingPlan
from llm_engineering.model.training.trainer import StageResult

logger = get_logger(__name__)


@step(enable_cache=False)
def train_dpo(
    plan: TrainingPlan, sft: StageResult, preference: str | None = None
) -> Annotated[StageResult, "dpo_result"]:
    """Train the DPO adapter on the merged SFT twin (its own reference with the adapter off) and merge it.

    Args:
        plan: the checked run.
        sft: the SFT stage's result.
        preference: a preference dataset folder replacing the plan's (self-play); None: the plan's.

    Returns:
        Losses, reward margin and accuracy, throughput and the adapter and merged folders.
    """
    result = run_dpo(plan, sft, preference=Path(preference) if preference else None)
    log_metadata(metadata={**result.figures(), "merged": str(result.merged), "summary": result.summary()})
    logger.info(result.summary())
    return result
