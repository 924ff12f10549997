"""Step: register the run's twins (local registry and ZenML Model "llm_twin"), draw the loss curves, push."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.client import Client
from zenml.logger import get_logger
from zenml.types import HTMLString

from llm_engineering.model.registry import ModelRegistry, ModelVersion
from llm_engineering.model.training.plan import TrainingPlan
from llm_engineering.model.training.publish import push_to_hub, register_run
from llm_engineering.model.training.report import loss_curve_html
from llm_engineering.model.training.trainer import StageResult
from llm_engineering.settings import get_settings
from steps import ZENML_MODEL

logger = get_logger(__name__)


def mirror_in_zenml(version: ModelVersion) -> None:
    """Create (or find) the ZenML model version of a registry version and attach its record as metadata."""
    client = Client()
    try:
        client.get_model(ZENML_MODEL)
    except KeyError:
        client.create_model(ZENML_MODEL, description="The LLM twin: SFT and DPO versions of the base model")
    try:
        zenml_version = client.get_model_version(ZENML_MODEL, version.name)
    except KeyError:
        zenml_version = client.create_model_version(ZENML_MODEL, name=version.name, tags=[version.stage])
    record = version.model_dump(mode="json")
    log_metadata(
        metadata={k: v for k, v in record.items() if v not in (None, {})}, model_version_id=zenml_version.id
    )


@step(enable_cache=False)
def register_twin(
    plan: TrainingPlan, sft: StageResult, dpo: StageResult | None = None, preference: str | None = None
) -> Annotated[HTMLString, "loss_curve"]:
    """Register base, ``<run>-sft`` and ``<run>-dpo`` in the model registry and as ZenML model versions
    of "llm_twin" (datasets, hyperparameters, losses, tokens/s, folder); push when configured.

    Args:
        plan: the checked run.
        sft: the SFT result.
        dpo: the DPO result (None when DPO is off).
        preference: the self-play preference dataset folder, if DPO used one.

    Returns:
        The loss curves of both stages as HTML (shown in the dashboard).
    """
    from pathlib import Path

    settings = get_settings()
    results = [sft, *([dpo] if dpo else [])]
    versions = register_run(
        plan,
        results,
        registry=ModelRegistry(settings.models_dir),
        preference=Path(preference) if preference else None,
    )
    for version in versions:
        mirror_in_zenml(version)
    html = loss_curve_html(results, title=f"LLM twin run {plan.run}")
    (plan.run_dir / "loss_curve.html").write_text(html, encoding="utf-8")
    hub_url = None
    if plan.config.output.push_to_hub:
        token = settings.huggingface_access_token
        if token is None:
            raise RuntimeError("output.push_to_hub needs HUGGINGFACE_ACCESS_TOKEN in the settings")
        hub_url = push_to_hub(
            results[-1].merged,
            repo_id=str(plan.config.output.hub_model_id),
            token=token.get_secret_value(),
            private=plan.config.output.hub_private,
        )
    summary = f"registered {', '.join(v.name for v in versions)} (folder {results[-1].merged})" + (
        f", pushed to {hub_url}" if hub_url else ""
    )
    log_metadata(
        metadata={"versions": [v.name for v in versions], "hub_url": hub_url or "", "summary": summary}
    )
    logger.info(summary)
    return HTMLString(html)
