"""Step: the evaluation table in the log, the HTML report as an artifact, the JSON under the state folder."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger
from zenml.types import HTMLString

from llm_engineering.model.evaluation.promotion import PromotionDecision
from llm_engineering.model.evaluation.report import format_table, render_html, save_results
from llm_engineering.model.evaluation.results import EvaluationResults
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)
def write_report(
    evaluation_results: EvaluationResults, promotion_decision: PromotionDecision
) -> Annotated[HTMLString, "evaluation_report"]:
    """Print the versions x metrics table, save ``results.json`` and ``report.html``, return the report.

    Args:
        evaluation_results: the scores.
        promotion_decision: the decision as applied (shown in the table and the report).

    Returns:
        The HTML report (shown in the dashboard).
    """
    results = evaluation_results.model_copy(update={"promotion": promotion_decision})
    folder = save_results(results, root=get_settings().state_dir / "evaluation")
    table = format_table(results)
    logger.info("evaluation of %s's twin:\n%s", results.author, table)
    log_metadata(
        metadata={
            "folder": str(folder),
            "table": table,
            "rows": len(results.versions),
            "notes": len(results.notes),
            "summary": f"report and results.json of {len(results.versions)} version x arm rows in {folder}",
        }
    )
    return HTMLString(render_html(results))
