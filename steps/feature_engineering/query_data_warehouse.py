"""Step: read the chosen authors' documents from the warehouse."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.preprocessing import features
from llm_engineering.infrastructure.warehouse import open_warehouse

logger = get_logger(__name__)


@step(enable_cache=False)  # reads the warehouse as it is now: a cached answer would be stale
def query_data_warehouse(author_full_names: list[str]) -> Annotated[features.WarehouseDocuments, "documents"]:
    """Read every article, post and repository of the named authors.

    Args:
        author_full_names: the authors, as stored ("First Last").

    Returns:
        Their documents per category; marked empty (and the run a no-op) when the warehouse
        holds nothing at all.

    Raises:
        UnknownAuthorError: an author is unknown; the message lists the known ones.
    """
    with open_warehouse() as warehouse:
        documents = features.query_documents(warehouse, author_full_names=author_full_names)
    summary = documents.summary()
    log_metadata(
        metadata={
            "documents": documents.counts,
            "authors": sorted(documents.authors.values()),
            "warehouse_empty": documents.warehouse_empty,
            "seconds": round(documents.seconds, 3),
            "summary": summary,
        }
    )
    (logger.warning if documents.warehouse_empty else logger.info)(summary)
    return documents
