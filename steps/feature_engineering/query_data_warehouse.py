"""Step: find the chosen authors' documents in the warehouse (ids and content hashes)."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.features.query import WarehouseIndex, query_documents
from llm_engineering.infrastructure.warehouse import open_warehouse

logger = get_logger(__name__)


@step(enable_cache=False)  # reads the warehouse as it is now: a cached answer would be stale
def query_data_warehouse(author_full_names: list[str]) -> Annotated[WarehouseIndex, "documents"]:
    """List every article, post and repository of the named authors, by id and content hash.

    Args:
        author_full_names: the authors, as stored ("First Last"; case and spacing are ignored).

    Returns:
        The authors and references to their documents (never the content); marked empty (and
        the run a no-op) when the warehouse holds nothing at all.

    Raises:
        UnknownAuthorError: an author is unknown; the message lists the known ones.
    """
    with open_warehouse() as warehouse:
        index = query_documents(warehouse, author_full_names=author_full_names)
    summary = index.summary()
    log_metadata(
        metadata={
            "documents": index.counts,
            "authors": sorted(index.authors.values()),
            "warehouse_empty": index.warehouse_empty,
            "seconds": round(index.seconds, 3),
            "summary": summary,
        }
    )
    (logger.warning if index.warehouse_empty else logger.info)(summary)
    return index
