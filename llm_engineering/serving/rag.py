"""Retrieval inside the service: the store snapshots, the embedding model, the known authors, one retriever.

Built once per process by the app's start-up; every request calls :meth:`RagService.retrieve`
in a worker thread (it embeds and searches: blocking work). Every new snapshot of the store
re-reads the warehouse's authors and rebuilds the suggested questions
(``STATE_DIR/suggestions/suggestions.json``); :func:`refresh_suggestions` does the same from
the command line or a pipeline, after a feature pipeline run.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

from llm_engineering.application.feature_store import iter_cleaned_documents
from llm_engineering.application.rag.hybrid import ContextRetriever, RetrievalResult
from llm_engineering.application.rag.rerank import CrossEncoderReranker
from llm_engineering.application.rag.suggestions import SUGGESTIONS_FILE, build_suggestions, load_suggestions
from llm_engineering.serving.store import EdgeSnapshots, LiveStore, Snapshot
from llm_engineering.settings import Settings

logger = logging.getLogger(__name__)


def warehouse_authors(settings: Settings, *, timeout_ms: int = 1500) -> list[str]:
    """Full names of the warehouse's users (read only; [] when the warehouse does not answer)."""
    from llm_engineering.domain.documents import UserDocument
    from llm_engineering.infrastructure.warehouse import connect

    try:
        with connect(settings.database_host, settings.database_name, timeout_ms=timeout_ms) as warehouse:
            return sorted({user.full_name for user in warehouse.find(UserDocument)})
    except (ConnectionError, OSError) as exc:
        logger.warning("warehouse not reachable for author names: %s", exc)
        return []


def remove_stale_snapshots(folder: Path) -> None:
    """Delete the snapshot folders of services that are gone (``snapshots-<pid>-*`` of a dead pid)."""
    import os
    import shutil

    for path in folder.glob("snapshots-*-*"):
        pid = path.name.split("-")[1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            continue


class RagService:
    """Snapshots of the store + the retriever + the suggestions file.

    Args:
        settings: where the store, the warehouse and the state folder are.
        workdir: where Edge snapshots go (default: ``STATE_DIR/serving/snapshots-<pid>``).
        check_seconds: how often the store is checked for changes.
    """

    def __init__(
        self, settings: Settings, *, workdir: Path | None = None, check_seconds: float = 1.0
    ) -> None:
        import os

        self.settings = settings
        self.workdir = (
            workdir or settings.state_dir / "serving" / f"snapshots-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        self.check_seconds = check_seconds
        self.retriever: ContextRetriever | None = None
        self.view: EdgeSnapshots | LiveStore | None = None
        self._authors: list[str] = []
        self._suggestions_lock = threading.Lock()
        self.error: str | None = None

    @property
    def suggestions_path(self) -> Path:
        return self.settings.state_dir / "suggestions" / SUGGESTIONS_FILE

    def known_authors(self) -> list[str]:
        snapshot = self.snapshot()
        stored = snapshot.lexical.authors if snapshot is not None else set()
        return sorted(set(self._authors) | stored)

    def _on_swap(self, snapshot: Snapshot) -> None:
        """A new snapshot: re-read the warehouse's authors and rebuild the suggestions from its cleaned documents."""
        self._authors = warehouse_authors(self.settings)
        try:
            with self._suggestions_lock:
                build_suggestions(
                    iter_cleaned_documents(snapshot.store), directory=self.suggestions_path.parent
                )
        except Exception:  # suggestions are a nicety: keep serving with the previous file
            logger.exception("suggestions were not rebuilt")

    def start(self) -> None:
        """Load the embedding model, take the first snapshot, start refreshing (blocking: call in a thread)."""
        from llm_engineering.infrastructure.embeddings import build_embedder

        settings = self.settings
        remove_stale_snapshots(self.workdir.parent)
        llm = None
        if settings.rag_llm:
            from llm_engineering.infrastructure.llm import build_endpoint_client

            llm = build_endpoint_client(settings, default_max_tokens=200, temperature=0.0)
        reranker = CrossEncoderReranker(settings.rerank_model_id) if settings.rerank_model_id else None
        from llm_engineering.serving.backends import MODEL_LOADING

        try:
            with MODEL_LOADING:
                embedder = build_embedder(settings)
        except Exception as exc:
            self.error = f"embedding model failed to load: {exc}"
            raise
        self.retriever = ContextRetriever(
            embedder=embedder, known_authors=self.known_authors, llm=llm, reranker=reranker
        )
        if settings.qdrant_url:
            from llm_engineering.infrastructure.vector_stores import build_vector_store

            self.view = LiveStore(build_vector_store(settings), on_swap=self._on_swap)
        else:
            self.view = EdgeSnapshots(
                settings.vector_store_dir,
                self.workdir,
                check_seconds=self.check_seconds,
                on_swap=self._on_swap,
            )
        self.view.start()  # the first snapshot reads the warehouse's authors (on_swap)
        if self.view.current() is None:
            self._authors = warehouse_authors(settings)

    def stop(self) -> None:
        if self.view is not None:
            self.view.stop()

    def snapshot(self) -> Snapshot | None:
        return self.view.current() if self.view is not None else None

    def status(self) -> tuple[bool, str]:
        """Whether retrieval can answer: the model is loaded and the store has been read."""
        if self.retriever is None:
            return False, self.error or "retrieval is starting"
        snapshot = self.snapshot()
        if snapshot is None:
            problem = self.view.last_error if self.view is not None else None
            return False, problem or "the vector store holds no chunks yet: run the feature pipeline"
        return True, f"{snapshot.chunks} chunks (snapshot {snapshot.version})"

    def retrieve(
        self, question: str, *, k: int = 5, author: str | None = None, default_author: str | None = None
    ) -> RetrievalResult:
        """The context of ``question`` from the current snapshot (empty when there is none yet)."""
        snapshot = self.snapshot()
        if self.retriever is None or snapshot is None:
            return RetrievalResult(question=question, author=author, queries=[question], chunks=[])
        return self.retriever.retrieve(
            question,
            store=snapshot.store,
            lexical=snapshot.lexical,
            k=k,
            author=author,
            default_author=default_author,
        )

    def suggestions(self, *, author: str | None, n: int) -> list[str]:
        """Stored suggested questions; the file is built from the snapshot's cleaned documents if missing."""
        path = self.suggestions_path
        if not path.is_file():
            with self._suggestions_lock:
                snapshot = self.snapshot()
                if not path.is_file() and snapshot is not None:
                    build_suggestions(iter_cleaned_documents(snapshot.store), directory=path.parent)
        if not path.is_file():
            return []
        return load_suggestions(path, author=author, n=n)


def refresh_suggestions(settings: Settings) -> Path:
    """Build the suggestions file from the store of ``settings`` (call after the feature pipeline)."""
    from llm_engineering.infrastructure.vector_stores import build_vector_store

    with build_vector_store(settings) as store:
        return build_suggestions(iter_cleaned_documents(store), directory=settings.state_dir / "suggestions")
