"""Step: turn instruction samples into preference samples with a rejected answer."""

from contextlib import nullcontext
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.configs.datasets import LLMSettings, PreferenceSettings
from llm_engineering.infrastructure.llm import build_endpoint_client, build_model_client

logger = get_logger(__name__)


@step
def generate_preference_samples(
    instruction_samples: sample_generation.GenerationReport, preference: PreferenceSettings, llm: LLMSettings
) -> Annotated[sample_generation.GenerationReport, "preference_samples"]:
    """Pair each instruction's author answer (chosen) with a rejected answer from the configured strategy.

    Args:
        instruction_samples: samples whose answers are the author's own text.
        preference: ``offline`` (generic template), ``llm`` (the endpoint as a generic assistant) or
            ``model`` (a given model's own answer, e.g. the SFT twin's).
        llm: call options of the ``llm`` and ``model`` strategies.

    Returns:
        The preference samples with failure counts; the step fails past ``llm.failure_threshold``.
    """
    client = None
    if preference.rejected_strategy == "llm":
        client = build_endpoint_client(**llm.client_options())
    elif preference.rejected_strategy == "model":
        client = build_model_client(
            str(preference.model),
            base_url=preference.model_base_url,
            device=preference.device,
            **llm.client_options(),
        )
    with client or nullcontext():
        report = sample_generation.generate_preference_samples(
            instruction_samples, preference=preference, llm=llm, client=client
        )
    log_metadata(metadata=report.metadata())
    logger.info(report.summary())
    report.raise_if_failures_exceed(llm.failure_threshold)
    return report
