"""CrawlReport: counts, the failure threshold and what the step logs."""

import pytest

from llm_engineering.application.crawlers.base import (
    CrawlFailuresExceeded,
    CrawlReport,
    LinkOutcome,
    LinkStatus,
)


def _report() -> CrawlReport:
    return CrawlReport(
        [
            LinkOutcome("https://a.example/1", LinkStatus.STORED, documents=1),
            LinkOutcome("https://github.com/a/b", LinkStatus.STORED, documents=1),
            LinkOutcome("https://a.example/2", LinkStatus.SKIPPED),
            LinkOutcome("https://a.example/404", LinkStatus.FAILED, reason="CrawlError: HTTP 404"),
        ],
        seconds=1.25,
    )


def test_counts_ratio_and_summary():
    report = _report()
    assert report.counts == {"stored": 2, "skipped": 1, "failed": 1}
    assert report.failure_ratio == 0.25
    assert report.summary() == "crawled 4 links in 1.2s: 2 stored, 1 skipped, 1 failed"
    metadata = report.metadata()
    assert metadata["documents_stored"] == 2
    assert metadata["failures"] == {"https://a.example/404": "CrawlError: HTTP 404"}


@pytest.mark.parametrize(("threshold", "fails"), [(0.0, True), (0.24, True), (0.25, False), (1.0, False)])
def test_the_threshold_is_a_strict_upper_bound_and_the_error_names_each_failure(threshold, fails):
    report = _report()
    if fails:
        with pytest.raises(
            CrawlFailuresExceeded, match=r"1 of 4 links failed[\s\S]*a.example/404: CrawlError: HTTP 404"
        ):
            report.raise_if_failures_exceed(threshold)
    else:
        report.raise_if_failures_exceed(threshold)


def test_an_empty_report_never_fails():
    CrawlReport().raise_if_failures_exceed(0.0)
    assert CrawlReport().failure_ratio == 0.0
