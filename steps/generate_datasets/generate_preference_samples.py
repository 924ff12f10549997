"""Step: turn instruction samples into preference samples with a rejected answer."""

from contextlib import nullcontext
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.application.datasets.work import WorkRef, work_store
from llm_engineering.configs.datasets import LLMCallConfig, PreferenceConfig
from llm_engineering.infrastructure.llm import build_endpoint_client, build_model_client
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)  # reads and writes the work store, outside ZenML
def generate_preference_samples(
    instruction_samples: WorkRef, preference: PreferenceConfig, llm: LLMCallConfig
) -> Annotated[WorkRef, "preference_samples"]:
    """Pair each instruction's author answer (chosen) with a rejected answer from the configured strategy.

    Args:
        instruction_samples: samples whose answers are the author's own text, in the work store.
        preference: ``offline`` (generic template), ``llm`` (the endpoint as a generic assistant) or
            ``model`` (a given model's own answer, e.g. the SFT twin's).
        llm: call options of the ``llm`` and ``model`` strategies.

    Returns:
        A reference to the preference samples with failure counts; the step fails past
        ``llm.failure_threshold``.
    """
    work = work_store(get_settings().state_dir)
    instruction_report = work.get(instruction_samples, sample_generation.GenerationReport)
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
            instruction_report, preference=preference, llm=llm, client=client
        )
    log_metadata(metadata=report.metadata())
    logger.info(report.summary())
    report.raise_if_failures_exceed(llm.failure_threshold)
    return work.put(report, kind="samples", items=len(report.samples), summary=report.summary())
