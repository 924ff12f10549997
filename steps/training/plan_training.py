"""Step: resolve and check the run (base model, dataset versions, author, run folder) before training."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.configs.training import TrainingConfig
from llm_engineering.model.training import plan
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)
def plan_training(config: TrainingConfig) -> Annotated[plan.TrainingPlan, "training_plan"]:
    """Find the base model and the newest (or chosen) datasets, check them, find or name the run folder.

    Bad input stops here, before any training: no dataset yet, wrong columns, a base model folder
    that does not exist, ``max_length`` shorter than the system prompt.

    Args:
        config: the validated training config.

    Returns:
        The plan every later step reads (run name and folder, base folder, datasets, author).
    """
    settings = get_settings()
    planned = plan.plan_training(
        config,
        models_dir=settings.models_dir,
        datasets_root=settings.state_dir / "datasets",
        default_base_model=settings.base_model,
    )
    summary = (
        f"run {planned.run}: {planned.base_model} on {', '.join(planned.dataset_versions().values())} "
        f"for {planned.author or 'no named author'} ({planned.device})"
    )
    log_metadata(
        metadata={
            "run": planned.run,
            "run_dir": str(planned.run_dir),
            "base_model": planned.base_model,
            "datasets": planned.dataset_versions(),
            "author": planned.author or "",
            "device": planned.device,
            "summary": summary,
        }
    )
    logger.info(summary)
    return planned
