"""Step: crawl the user's links into the warehouse."""

from typing import Annotated

from zenml import log_metadata, step
from zenml.logger import get_logger

from llm_engineering.application.crawlers import flow
from llm_engineering.application.crawlers.base import LinkStatus
from llm_engineering.configs.etl import CrawlConfig
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.crawlers import build_dispatcher
from llm_engineering.infrastructure.warehouse import open_warehouse
from llm_engineering.settings import get_settings

logger = get_logger(__name__)


@step(enable_cache=False)  # reads and writes the live warehouse: a cached answer would be stale
def crawl_links(
    user: UserDocument, links: list[str], crawl: CrawlConfig
) -> Annotated[list[str], "crawled_links"]:
    """Crawl each link with the crawler of its domain and store what it finds.

    Each link ends stored, skipped (already in the warehouse) or failed with a reason;
    the step fails only when the failed share passes ``crawl.failure_threshold``.

    Args:
        user: the author of the writing.
        links: the links to crawl.
        crawl: concurrency (workers, browsers), timeouts, retries, size caps, failure threshold
            and GitHub rules.

    Returns:
        The links that are in the warehouse after the run (stored or skipped).
    """
    settings = get_settings()
    with build_dispatcher(crawl, settings) as dispatcher, open_warehouse(settings) as warehouse:
        report = flow.crawl_links(
            links, user=user, warehouse=warehouse, dispatcher=dispatcher, settings=crawl
        )
    log_metadata(metadata=report.metadata())
    logger.info(report.summary())
    report.raise_if_failures_exceed(crawl.failure_threshold)
    return [o.link for o in report.outcomes if o.status != LinkStatus.FAILED]
