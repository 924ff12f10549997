"""Step: the SFT twin writes the preference dataset's rejected answers (self-play)."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.model.training.flow import run_self_play
from llm_engineering.model.training.plan import TrainingPlan
from llm_engineering.model.training.trainer import StageResult

logger = get_logger(__name__)


@step(enable_cache=False)
def generate_self_play_preferences(
    plan: TrainingPlan, sft: StageResult
) -> Annotated[str, "self_play_dataset"]:
    """Answer each preference prompt with the SFT twin and save the rows as a new version in the run folder.

    Args:
        plan: the checked run.
        sft: the SFT stage's result (its merged twin answers).

    Returns:
        The folder of the regenerated preference dataset.
    """
    import json

    folder = run_self_play(plan, sft)
    manifest = json.loads((folder / "generation.json").read_text(encoding="utf-8"))
    summary = (
        f"self-play: {manifest['samples']['train']} rejected answers by {sft.merged.parent.name} twin "
        f"in {manifest['seconds']:.0f}s, {sum(manifest['failures'].values())} failed -> {folder}"
    )
    log_metadata(metadata={**manifest, "path": str(folder), "summary": summary})
    logger.info(summary)
    return str(folder)
