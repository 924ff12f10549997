"""Step: the voice stage, continued pretraining on the author's own text before SFT."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.model.training.flow import run_voice
from llm_engineering.model.training.plan import TrainingPlan
from llm_engineering.model.training.trainer import StageResult

logger = get_logger(__name__)


@step(enable_cache=False)
def train_voice(plan: TrainingPlan) -> Annotated[StageResult, "voice_result"]:
    """Train the base model as a language model on the training split's author text (LoRA or all
    weights); SFT starts from the result. Resumes or reuses what the run folder holds.

    Args:
        plan: the checked run.

    Returns:
        Losses, throughput and the merged folder.
    """
    result = run_voice(plan)
    log_metadata(metadata={**result.figures(), "merged": str(result.merged), "summary": result.summary()})
    logger.info(result.summary())
    return result
