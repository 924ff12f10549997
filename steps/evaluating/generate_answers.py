"""Step: every model version answers the test split (and its author perplexity is measured meanwhile)."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.model.evaluation.results import EvaluationAnswers
from llm_engineering.model.evaluation.runner import answer_test_split, plan_evaluation
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)  # reads the live registry: "the newest SFT version" changes between runs
def generate_answers(config: EvaluatingConfig) -> Annotated[EvaluationAnswers, "evaluation_answers"]:
    """Answer the test instructions with each version to compare, in batches, with the shared chat template.

    Args:
        config: the evaluation config (versions, samples, generation limits, metrics).

    Returns:
        Each version's answers (kept for reading side by side) and author perplexity.
    """
    settings = get_settings()
    plan = plan_evaluation(
        config,
        registry=ModelRegistry(settings.models_dir),
        datasets_root=settings.state_dir / "datasets",
        judge_configured=bool(settings.openai_base_url),
    )
    answers = answer_test_split(
        plan,
        generation=config.generation,
        perplexity=config.perplexity if "author_perplexity" in config.metrics else None,
        metrics=config.metrics,
    )
    speeds = {v.name: round(v.answers_per_second, 3) for v in answers.versions}
    summary = (
        f"{len(answers.versions)} versions answered {len(answers.samples)} test instructions "
        f"({', '.join(f'{n} {s} answers/s' for n, s in speeds.items())})"
    )
    log_metadata(
        metadata={
            "versions": [v.name for v in answers.versions],
            "samples": len(answers.samples),
            "dataset": answers.dataset,
            "answers_per_second": speeds,
            "stopped_at_limit": {v.name: v.finish_reasons.count("length") for v in answers.versions},
            "summary": summary,
        }
    )
    logger.info(summary)
    return answers
