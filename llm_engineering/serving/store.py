"""The service's view of the vector store while pipelines write to it.

Qdrant Edge locks a collection's files while a process has it open, so a server that kept
the store open would make every feature pipeline run fail with "busy", and a server that
opened it per request would answer "busy" while the pipeline runs. The service therefore
reads a **snapshot**: a private copy of the Edge collections that it keeps open.

:class:`EdgeSnapshots` checks the source folder's files (names, sizes, modification times)
every ``check_seconds``. When they changed and have then stayed unchanged for
``settle_seconds``, it opens the source (taking its lock for the ~0.1 s a copy takes; when
the lock is held by a pipeline it just tries again later), copies the collections with
``cp --sparse=always`` (the segment files are mostly holes), releases the source, opens the
copy and builds the BM25 index from its payloads, then swaps it in. Requests always use the
last good snapshot, so the service keeps answering during a run and sees the new chunks
within seconds after it. The replaced snapshot is closed and deleted one swap later, once
requests that started on it have long finished.

With a Qdrant server (``QDRANT_URL``) there is no lock: :class:`LiveStore` searches the server
directly and rebuilds the BM25 index when the collections' point counts change.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_engineering.application.feature_store import scroll_all
from llm_engineering.application.rag.lexical import LexicalIndex
from llm_engineering.domain.cleaned_documents import cleaned_collection, embedded_collection
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import VectorStore
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore, VectorStoreBusy

logger = logging.getLogger(__name__)

COLLECTIONS = tuple(
    name
    for category in DataCategory
    for name in (embedded_collection(category), cleaned_collection(category))
)
"""The collections the service reads: embedded chunks (search) and cleaned documents (suggestions)."""


def build_lexical_index(store: VectorStore) -> LexicalIndex:
    """The BM25 index of every embedded chunk in ``store``."""
    return LexicalIndex(
        (point.id, point.payload)
        for category in DataCategory
        for point in scroll_all(store, embedded_collection(category))
    )


@dataclass
class Snapshot:
    """One consistent view: an open store, the BM25 index of its chunks, and when it was taken.

    Attributes:
        store: the vector store to search.
        lexical: the BM25 index of its embedded chunks.
        version: a counter, raised by every swap.
        taken_at: ``time.time()`` of the swap.
        chunks: embedded chunks in the view.
    """

    store: Any
    lexical: LexicalIndex
    version: int
    taken_at: float = field(default_factory=time.time)

    @property
    def chunks(self) -> int:
        return len(self.lexical)


def _fingerprint(root: Path, names: Sequence[str]) -> tuple:
    entries = []
    for name in names:
        folder = root / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while we walked
                continue
            if path.is_file():
                entries.append((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class _BackgroundRefresh:
    """Calls ``refresh`` every ``check_seconds`` in a daemon thread; a failure is logged and kept in ``last_error``.

    A subclass sets ``check_seconds``, ``last_error`` and ``_thread_name``, calls
    ``super().__init__()`` from its constructor, and implements ``refresh``.
    """

    check_seconds: float
    last_error: str | None
    _thread_name = "store-refresh"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, *, force: bool = False) -> bool:
        raise NotImplementedError

    def _refresh_or_keep(self, *, force: bool = False) -> None:
        try:
            self.refresh(force=force)
            self.last_error = None
        except Exception as exc:  # keep serving the last snapshot; say why in the log and in /ready
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception(f"{self._thread_name}: refresh failed, the last snapshot is still served")

    def _loop(self) -> None:
        while not self._stop.wait(self.check_seconds):
            self._refresh_or_keep()

    def _start_refreshing(self) -> None:
        """Refresh once now, then every ``check_seconds`` in the background thread."""
        self._refresh_or_keep(force=True)
        self._thread = threading.Thread(target=self._loop, name=self._thread_name, daemon=True)
        self._thread.start()

    def _stop_refreshing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class EdgeSnapshots(_BackgroundRefresh):
    """Snapshots of a Qdrant Edge folder, refreshed in a background thread (see the module doc).

    Args:
        source: the Edge folder the pipelines write (``settings.vector_store_dir``).
        workdir: where the copies go (emptied first).
        check_seconds: how often the source's files are looked at.
        settle_seconds: how long they must stay unchanged before a copy is taken.
        on_swap: called with each new snapshot (after it is in place).
    """

    _thread_name = "store-snapshots"

    def __init__(
        self,
        source: Path,
        workdir: Path,
        *,
        check_seconds: float = 1.0,
        settle_seconds: float = 1.0,
        on_swap: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.source = Path(source)
        self.workdir = Path(workdir)
        self.check_seconds = check_seconds
        self.settle_seconds = settle_seconds
        self.on_swap = on_swap
        self.busy_retries = 0
        self.last_error: str | None = None
        self._current: Snapshot | None = None
        self._retired: list[tuple[Snapshot, Path]] = []
        self._current_dir: Path | None = None
        self._taken: tuple | None = None
        self._seen: tuple | None = None
        self._seen_at = 0.0
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        super().__init__()

    def current(self) -> Snapshot | None:
        """The last good snapshot (None before the first one, or while the store is empty)."""
        return self._current

    def refresh(self, *, force: bool = False) -> bool:
        """Take a new snapshot if the source changed and settled (or ``force``); True when one was swapped in."""
        with self._lock:
            present = [name for name in COLLECTIONS if (self.source / name / "edge_config.json").exists()]
            fingerprint = _fingerprint(self.source, present)
            if not present or (fingerprint == self._taken and not force):
                return False
            now = time.monotonic()
            if fingerprint != self._seen:
                self._seen, self._seen_at = fingerprint, now
            if not force and self._current is not None and now - self._seen_at < self.settle_seconds:
                return False
            version = next(self._counter)
            target = self.workdir / f"snapshot-{version}"
            try:
                self._copy(present, target)
            except VectorStoreBusy:
                self.busy_retries += 1
                return False
            self._taken = _fingerprint(self.source, present)  # after our own close flushed the source
            store = QdrantEdgeStore(target)
            for name in present:
                store.count(name)  # open every shard now, not in a request thread
            snapshot = Snapshot(store=store, lexical=build_lexical_index(store), version=version)
            previous, previous_dir = self._current, self._current_dir
            self._current, self._current_dir = snapshot, target
            self._close_retired()
            if previous is not None and previous_dir is not None:
                self._retired.append((previous, previous_dir))
        logger.info("vector store snapshot %d: %d chunks", version, snapshot.chunks)
        if self.on_swap is not None:
            self.on_swap(snapshot)
        return True

    def _copy(self, names: Sequence[str], target: Path) -> None:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        source = QdrantEdgeStore(self.source)
        try:
            for name in names:
                source.count(name)  # takes the collection's lock: no writer while we copy
            for name in names:
                subprocess.run(
                    ["cp", "-a", "--sparse=always", str(self.source / name), str(target / name)], check=True
                )
        except VectorStoreBusy:
            shutil.rmtree(target, ignore_errors=True)
            raise
        finally:
            source.close()

    def _close_retired(self) -> None:
        for snapshot, folder in self._retired:
            snapshot.store.close()
            shutil.rmtree(folder, ignore_errors=True)
        self._retired = []

    def start(self) -> None:
        """Take the first snapshot now (if the store has data), then refresh in a background thread."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._start_refreshing()

    def stop(self) -> None:
        """Stop refreshing and close every snapshot."""
        self._stop_refreshing()
        with self._lock:
            if self._current is not None:
                self._retired.append((self._current, self._current_dir or self.workdir))
                self._current = None
            self._close_retired()
        shutil.rmtree(self.workdir, ignore_errors=True)


class LiveStore(_BackgroundRefresh):
    """A store that needs no snapshot (a Qdrant server): searched live, BM25 rebuilt when counts change.

    Args:
        store: the open store.
        check_seconds: how often the point counts are compared.
        on_swap: called with each rebuilt snapshot.
    """

    def __init__(
        self, store: Any, *, check_seconds: float = 5.0, on_swap: Callable[[Snapshot], None] | None = None
    ) -> None:
        self.store = store
        self.check_seconds = check_seconds
        self.on_swap = on_swap
        self.last_error: str | None = None
        self.busy_retries = 0
        self._counts: tuple | None = None
        self._current: Snapshot | None = None
        self._counter = itertools.count(1)
        super().__init__()

    def current(self) -> Snapshot | None:
        return self._current

    def refresh(self, *, force: bool = False) -> bool:
        names = [embedded_collection(c) for c in DataCategory]
        counts = tuple(self.store.count(n) if self.store.collection_exists(n) else -1 for n in names)
        if counts == self._counts and not force:
            return False
        self._counts = counts
        self._current = Snapshot(
            store=self.store, lexical=build_lexical_index(self.store), version=next(self._counter)
        )
        if self.on_swap is not None:
            self.on_swap(self._current)
        return True

    def start(self) -> None:
        self._start_refreshing()

    def stop(self) -> None:
        self._stop_refreshing()
        self.store.close()
