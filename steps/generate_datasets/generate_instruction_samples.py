"""Step: write instruction samples for every extract with the configured strategy."""

from contextlib import nullcontext
from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.application.datasets.extracts import ExtractReport
from llm_engineering.application.datasets.work import WorkRef, work_store
from llm_engineering.configs.datasets import InstructionConfig, LLMCallConfig
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.infrastructure.llm import build_endpoint_client
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)  # reads and writes the work store, outside ZenML
def generate_instruction_samples(
    extracts: WorkRef, instruction: InstructionConfig, llm: LLMCallConfig, dataset_type: DatasetType
) -> Annotated[WorkRef, "instruction_samples"]:
    """Derive (``offline``) or ask the LLM endpoint for (``llm``) instruction-answer pairs per extract.

    Args:
        extracts: the extracts, in the work store.
        instruction: the strategy and how many instructions or pairs per extract.
        llm: endpoint call options (``llm`` strategy).
        dataset_type: for a preference dataset, ``llm`` answers must be copied from the extract.

    Returns:
        A reference to the samples with failure counts; the step fails past ``llm.failure_threshold``.
    """
    work = work_store(get_settings().state_dir)
    extract_report = work.get(extracts, ExtractReport)
    client = build_endpoint_client(**llm.client_options()) if instruction.strategy == "llm" else None
    with client or nullcontext():
        report = sample_generation.generate_instruction_samples(
            extract_report, instruction=instruction, llm=llm, dataset_type=dataset_type, client=client
        )
    log_metadata(metadata=report.metadata())
    logger.info(report.summary())
    report.raise_if_failures_exceed(llm.failure_threshold)
    return work.put(report, kind="samples", items=len(report.samples), summary=report.summary())
