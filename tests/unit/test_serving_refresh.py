"""A background refresh that fails keeps the last snapshot, says why in ``last_error`` and logs it."""

from __future__ import annotations

import logging
import time

from llm_engineering.serving.store import LiveStore


class BrokenStore:
    """A vector store whose server went away: every call fails."""

    def collection_exists(self, name: str) -> bool:
        raise ConnectionError(f"qdrant is unreachable (asked for {name})")

    def close(self) -> None:
        pass


def test_a_failed_refresh_is_kept_in_last_error_and_logged(caplog):
    live = LiveStore(BrokenStore(), check_seconds=0.05)
    with caplog.at_level(logging.ERROR, logger="llm_engineering.serving.store"):
        live.start()
        deadline = time.monotonic() + 5
        while len(caplog.records) < 2 and time.monotonic() < deadline:  # the first refresh, then the thread's
            time.sleep(0.02)
        live.stop()
    assert live.current() is None
    assert live.last_error == "ConnectionError: qdrant is unreachable (asked for embedded_articles)"
    assert len(caplog.records) >= 2
    assert all("refresh failed" in r.getMessage() and r.exc_info for r in caplog.records)
