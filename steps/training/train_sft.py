"""Step: supervised fine-tuning (LoRA) of the base model on the instruction dataset."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.model.training.flow import run_sft
from llm_engineering.model.training.plan import TrainingPlan
from llm_engineering.model.training.trainer import StageResult

logger = get_logger(__name__)


@step(enable_cache=False)
def train_sft(plan: TrainingPlan, voice: StageResult | None = None) -> Annotated[StageResult, "sft_result"]:
    """Train the SFT adapter, save it and the merged twin; resume from the run's last checkpoint.

    Not cached by ZenML: the run folder is the cache (a finished stage is reused, a killed one resumes).

    Args:
        plan: the checked run.
        voice: the voice stage's result (SFT starts from its model), or None: from the base.

    Returns:
        Losses, throughput, the share of rows cut to max_length, and the adapter and merged folders.
    """
    result = run_sft(plan, voice=voice)
    log_metadata(metadata={**result.figures(), "merged": str(result.merged), "summary": result.summary()})
    logger.info(result.summary())
    return result
