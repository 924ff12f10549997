"""Step: give each sample the retrieved passages of its prompt, as serving builds them (RAFT)."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.datasets.context import add_context, store_retriever
from llm_engineering.application.datasets.extracts import ExtractReport
from llm_engineering.application.datasets.flow import FilteredSamples
from llm_engineering.application.datasets.work import WorkRef, work_store
from llm_engineering.configs.datasets import DatasetContextConfig, SplitConfig
from llm_engineering.infrastructure.embeddings import build_embedder
from llm_engineering.infrastructure.vector_stores import build_vector_store
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)  # reads the vector store and the work store, outside ZenML
def attach_context(
    filtered_samples: WorkRef, extracts: WorkRef, split: SplitConfig, context: DatasetContextConfig
) -> Annotated[WorkRef, "samples_with_context"]:
    """Search each instruction among its author's embedded chunks; store the chosen passages.

    Args:
        filtered_samples: the samples that passed the quality filters, in the work store.
        extracts: the run's extracts (each document's author).
        split: the dataset's split (a prompt never shows held-out text in training).
        context: the shares of oracle, distractor and passage-free prompts.

    Returns:
        A reference to the samples with their ``context``.
    """
    work = work_store(get_settings().state_dir)
    filtered = work.get(filtered_samples, FilteredSamples)
    report = work.get(extracts, ExtractReport)
    with build_vector_store() as store:
        retrieve = store_retriever(store, build_embedder(), candidates=context.candidates)
        result, modes = add_context(
            filtered, extracts=report.extracts, retrieve=retrieve, split=split, settings=context
        )
    summary = modes.summary()
    log_metadata(
        metadata={"context_modes": modes.modes, "oracle_missing": modes.oracle_missing, "summary": summary}
    )
    logger.info(summary)
    return work.put(result, kind="context", items=len(result.samples), summary=summary)
