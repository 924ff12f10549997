"""Pipeline: each model version answers the test split -> scores -> promotion -> report."""

from zenml import pipeline

from llm_engineering.configs.evaluating import EvaluatingConfig
from steps.evaluating.generate_answers import generate_answers
from steps.evaluating.promote_model import promote_model
from steps.evaluating.score_answers import score_answers
from steps.evaluating.write_report import write_report


@pipeline
def evaluating(config: EvaluatingConfig, after: list[str] | None = None) -> str:
    """Score every model version (base, SFT, DPO) on the test split, served and bare, and promote the best one.

    ``tools/run.py`` refuses, before any step runs, a run that cannot succeed
    (:func:`~llm_engineering.model.evaluation.plan.plan_evaluation_from_settings`): no model
    version yet, an unknown version, no dataset or an empty test split, no author, a required
    judge without an endpoint, test documents that an evaluated version trained on (unknown
    metric names are refused earlier, by the config).

    When chained after training (``after``), the model versions do not exist yet when the run
    is compiled: the same checks then run in the first step.

    Args:
        config: the validated evaluation config.
        after: invocation ids of steps that must finish first (when chained by end_to_end).

    Returns:
        The invocation id of the last step, so a chaining pipeline can run ``after`` it.
    """
    answers = generate_answers(config=config, after=after)
    results = score_answers(evaluation_answers=answers, config=config)
    decision = promote_model(evaluation_results=results, promotion=config.promotion)
    report = write_report(evaluation_results=results, promotion_decision=decision)
    return report.invocation_id
