"""Crawls many links concurrently into the warehouse, recording what happened to each."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

from tqdm import tqdm

from llm_engineering.application.crawlers.base import (
    CrawlError,
    CrawlReport,
    LinkOutcome,
    LinkStatus,
    TransientCrawlError,
)
from llm_engineering.application.crawlers.dispatcher import CrawlerDispatcher
from llm_engineering.configs.etl import CrawlConfig
from llm_engineering.domain.documents import ContentDocument, UserDocument
from llm_engineering.domain.warehouse import Warehouse

logger = logging.getLogger(__name__)


def crawl_links(
    links: Iterable[str],
    *,
    user: UserDocument,
    warehouse: Warehouse,
    dispatcher: CrawlerDispatcher,
    settings: CrawlConfig,
    progress: bool = True,
) -> CrawlReport:
    """Crawl each link with the crawler of its source and store its documents.

    Links already in the warehouse are skipped unless ``settings.force``, in which case
    their documents are replaced in place (same ids). One bad link never stops the others:
    a :class:`CrawlError`, an ``OSError`` or one of ``dispatcher.link_errors`` is recorded
    on its link with a reason. Any other exception is a bug, not a bad link: the links not
    started yet are cancelled and the exception is raised, naming the link.

    Args:
        links: the links; duplicates are crawled once, in order of first appearance.
        user: the author of the documents.
        warehouse: where the documents are stored.
        dispatcher: chooses the crawler of each link.
        settings: concurrency, retries, backoff and ``force``.
        progress: show a progress bar.

    Returns:
        One outcome per distinct link, in input order.

    Raises:
        Exception: an unexpected error of a crawler or the warehouse (a programming error).
    """
    started = time.perf_counter()
    unique = list(dict.fromkeys(link.strip() for link in links))
    stored = warehouse.stored_links(unique)
    outcomes: dict[str, LinkOutcome] = {}
    pending = []
    for link in unique:
        if link in stored and not settings.force:
            outcomes[link] = LinkOutcome(link, LinkStatus.SKIPPED, reason="already in the warehouse")
        else:
            pending.append(link)
    with (
        ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="crawl") as pool,
        tqdm(total=len(pending), desc="crawling", unit="link", disable=not progress) as bar,
    ):
        futures = [
            pool.submit(
                _crawl_one, link, user=user, warehouse=warehouse, dispatcher=dispatcher, settings=settings
            )
            for link in pending
        ]
        for future in as_completed(futures):
            try:
                outcome = future.result()  # _crawl_one records every expected error on its outcome
            except BaseException:
                for other in futures:
                    other.cancel()
                raise
            outcomes[outcome.link] = outcome
            if outcome.status == LinkStatus.FAILED:
                logger.warning("failed %s: %s", outcome.link, outcome.reason)
            bar.update()
    return CrawlReport([outcomes[link] for link in unique], seconds=time.perf_counter() - started)


def _crawl_one(
    link: str,
    *,
    user: UserDocument,
    warehouse: Warehouse,
    dispatcher: CrawlerDispatcher,
    settings: CrawlConfig,
) -> LinkOutcome:
    """Crawl and store one link, retrying transient errors with exponential backoff."""
    started = time.perf_counter()
    crawler_name: str | None = None
    attempts = 0

    def outcome(status: LinkStatus, *, reason: str | None = None, documents: int = 0) -> LinkOutcome:
        return LinkOutcome(
            link,
            status,
            crawler=crawler_name,
            reason=reason,
            documents=documents,
            attempts=attempts,
            seconds=time.perf_counter() - started,
        )

    link_errors = (CrawlError, OSError, *dispatcher.link_errors)
    try:
        crawler = dispatcher.get_crawler(link)
        crawler_name = crawler.name
        while True:
            attempts += 1
            try:
                documents = crawler.crawl(link, user=user)
                break
            except TransientCrawlError as exc:
                if attempts > settings.retries:
                    return outcome(LinkStatus.FAILED, reason=f"{_describe(exc)} (after {attempts} attempts)")
                time.sleep(settings.backoff_seconds * 2 ** (attempts - 1))
        if not documents:
            return outcome(LinkStatus.FAILED, reason="the crawler found no documents")
        saved = sum(_store(document, warehouse=warehouse, force=settings.force) for document in documents)
    except link_errors as exc:  # this link failed; the others go on
        return outcome(LinkStatus.FAILED, reason=_describe(exc))
    except Exception as exc:
        exc.add_note(f"while crawling {link} (a bug, not a bad link: the run stops)")
        raise
    if saved == 0:
        # Another run or thread stored them between our check and our insert, or (LinkedIn)
        # the page's posts are stored under their own links from an earlier run.
        return outcome(LinkStatus.SKIPPED, reason="already in the warehouse (every document found is stored)")
    return outcome(LinkStatus.STORED, documents=saved)


def _store(document: ContentDocument, *, warehouse: Warehouse, force: bool) -> bool:
    """Insert ``document``; with ``force``, replace the stored document of its link, keeping its id."""
    if force:
        existing = warehouse.find_one(type(document), link=document.link)
        if existing is not None:
            warehouse.upsert(document.model_copy(update={"id": existing.id}))
            return True
    return warehouse.save(document)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
