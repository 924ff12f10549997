"""The crawler port, its errors, and the outcome of crawling each link.

The concrete crawlers (HTTP, browsers, git, local files) are adapters in
``llm_engineering.infrastructure.crawlers``; this layer only knows them by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from llm_engineering.domain.documents import ContentDocument, UserDocument


class CrawlError(Exception):
    """A link cannot be crawled; the message is the reason recorded for it."""


class TransientCrawlError(CrawlError):
    """A failure worth retrying: timeout, dropped connection, HTTP 429 or 5xx."""


class CrawlFailuresExceeded(RuntimeError):
    """More links failed than the configured failure threshold allows."""


class CrawlerName(StrEnum):
    """The crawlers the dispatcher routes links to."""

    ARTICLE = "article"
    MEDIUM = "medium"
    LINKEDIN = "linkedin"
    GITHUB = "github"
    LOCAL_FILE = "local_file"


class Crawler(ABC):
    """Turns one link into the documents it holds (one article, one repository, posts...)."""

    name: ClassVar[str]
    document_type: ClassVar[type[ContentDocument]]

    @abstractmethod
    def crawl(self, link: str, *, user: UserDocument) -> list[ContentDocument]:
        """Fetch ``link`` and return its documents, authored by ``user``. Stores nothing.

        Raises:
            TransientCrawlError: on a failure worth retrying.
            CrawlError: on any other failure, with the reason.
        """

    def close(self) -> None:  # noqa: B027 - most crawlers hold nothing open
        """Release what the crawler holds open (connection pools, browser sessions)."""


class LinkStatus(StrEnum):
    STORED = "stored"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class LinkOutcome:
    """What happened to one link."""

    link: str
    status: LinkStatus
    crawler: str | None = None
    reason: str | None = None
    documents: int = 0
    attempts: int = 0
    seconds: float = 0.0


@dataclass
class CrawlReport:
    """Outcomes of one crawl, in the order of the input links."""

    outcomes: list[LinkOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: LinkStatus) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def counts(self) -> dict[str, int]:
        return {status.value: self.count(status) for status in LinkStatus}

    @property
    def failure_ratio(self) -> float:
        return self.count(LinkStatus.FAILED) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def failures(self) -> dict[str, str]:
        """Failed link -> reason."""
        return {o.link: o.reason or "unknown" for o in self.outcomes if o.status == LinkStatus.FAILED}

    def metadata(self) -> dict[str, object]:
        """What the crawl step logs to ZenML: counts, failures with reasons, time and the summary."""
        return {
            "links": self.counts,
            "documents_stored": sum(o.documents for o in self.outcomes if o.status == LinkStatus.STORED),
            "failure_ratio": round(self.failure_ratio, 4),
            "failures": self.failures,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
        }

    def raise_if_failures_exceed(self, threshold: float) -> None:
        """Fail the crawl when more than ``threshold`` of its links failed.

        Raises:
            CrawlFailuresExceeded: naming each failed link and its reason.
        """
        if self.failure_ratio > threshold:
            reasons = "\n".join(f"  {link}: {reason}" for link, reason in self.failures.items())
            raise CrawlFailuresExceeded(
                f"{self.count(LinkStatus.FAILED)} of {len(self.outcomes)} links failed "
                f"({self.failure_ratio:.0%} > failure_threshold {threshold:.0%}):\n{reasons}"
            )

    def summary(self) -> str:
        """One line: ``crawled 12 links in 3.1s: 9 stored, 2 skipped, 1 failed``."""
        counts = self.counts
        return (
            f"crawled {len(self.outcomes)} links in {self.seconds:.1f}s: "
            f"{counts['stored']} stored, {counts['skipped']} skipped, {counts['failed']} failed"
        )
