"""The worker thread that decodes the requests in flight together, shared by both runtimes.

One thread owns the model. Requests wait in a queue; at every step the worker admits the
waiting ones (up to ``max_batch`` in flight), so a request that arrives mid-answer joins at
the next step instead of waiting for the others to finish; then it decodes one token for
every row. A runtime subclass says how rows are admitted (:meth:`Scheduler._admit`), how one
step runs (:meth:`Scheduler._step`) and how the batch shrinks when rows finish (:meth:`Scheduler._keep`).

Shutting down is safe with rows in flight: :meth:`Scheduler.close` refuses new requests, the
worker finishes (or, with ``cancel=True``, drops) what it holds, exits, and releases the model,
so a promotion swap leaks neither the thread nor the old weights. A callback that raises only
drops its own request; an error in a step fails the rows of that step and the worker goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.runtimes.rows import DecodeRow, Event, Ticket, make_row

logger = logging.getLogger(__name__)


class SchedulerClosed(RuntimeError):
    """A request was submitted to a scheduler that is shutting down."""


class Scheduler:
    """The worker thread and its queue (see the module doc).

    Args:
        tokenizer: the model's Hugging Face tokenizer (decodes the rows' text).
        eos_ids: token ids that end a turn.
        max_batch: most requests decoded together.
        name: the worker thread's name.
    """

    def __init__(self, tokenizer: Any, *, eos_ids: Sequence[int], max_batch: int = 16, name: str = "decoder"):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.tokenizer = tokenizer
        self.eos_ids = list(eos_ids)
        self.max_batch = max_batch
        self.steps = 0
        self.batch_sizes: list[int] = []
        self._pending: queue.Queue[DecodeRow | None] = queue.Queue()
        self._rows: list[DecodeRow] = []
        self._stopping = threading.Event()
        self._cancel_all = threading.Event()
        self._gate = threading.Lock()  # submit and the worker's decision to exit never interleave
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the worker (subclasses call this once their model is ready)."""
        self._thread.start()

    # -- public --------------------------------------------------------------------------

    def submit(
        self, prompt_ids: Sequence[int], *, decoding: Decoding, emit: Callable[[Event], None]
    ) -> Ticket:
        """Queue a request; ``emit`` is called from the worker thread with each event.

        Raises:
            SchedulerClosed: the scheduler is shutting down.
            ValueError: the prompt is empty.
        """
        if not prompt_ids:
            raise ValueError("the prompt has no tokens")
        row = make_row(prompt_ids, decoding, emit, tokenizer=self.tokenizer, eos_ids=self.eos_ids)
        with self._gate:
            if self._stopping.is_set():
                raise SchedulerClosed("the scheduler is shut down")
            self._pending.put(row)
        return Ticket(row)

    def close(self, *, wait: bool = True, cancel: bool = False, timeout: float = 600) -> None:
        """Refuse new requests; finish the ones in flight (``cancel``: drop them), then stop and free the model.

        Args:
            wait: join the worker before returning.
            cancel: end the rows in flight and waiting now instead of finishing them.
            timeout: most seconds to wait for the worker.
        """
        if cancel:
            self._cancel_all.set()
        self._stopping.set()
        self._pending.put(None)  # wakes a worker blocked on an empty queue
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def in_flight(self) -> int:
        return len(self._rows) + self._pending.qsize()

    # -- runtime hooks -------------------------------------------------------------------

    def _admit(self, rows: list[DecodeRow]) -> None:
        """Prefill ``rows``, choose and advance their first token, and add the unfinished ones to the batch."""
        raise NotImplementedError

    def _step(self) -> None:
        """Decode one token for every row in the batch (and drop the finished ones)."""
        raise NotImplementedError

    def _keep(self, keep: list[int]) -> None:
        """Shrink the batch and its state to the rows at the indexes ``keep`` (in order, never empty)."""
        raise NotImplementedError

    def _reset(self) -> None:
        """Forget the batch's state (after an error)."""
        self._rows = []

    def _drop(self, finished: list[int]) -> None:
        """Remove the ``finished`` rows (and done or cancelled ones) from the batch and its state."""
        gone = set(finished) | {i for i, row in enumerate(self._rows) if row.done or row.cancelled.is_set()}
        if not gone:
            return
        keep = [i for i in range(len(self._rows)) if i not in gone]
        if keep:
            self._keep(keep)
        else:
            self._reset()

    def _release(self) -> None:
        """Free the model (the worker has stopped)."""

    # -- worker --------------------------------------------------------------------------

    def _take(self, block: bool) -> DecodeRow | None:
        try:
            row = self._pending.get(block=block)
        except queue.Empty:
            return None
        return row  # None: the shutdown sentinel (the stopping flag is what counts)

    def _run(self) -> None:
        try:
            while True:
                if self._cancel_all.is_set() and (self._rows or not self._pending.empty()):
                    self._cancel_pending()
                    self._reset()
                if not self._rows:
                    with self._gate:
                        if self._stopping.is_set() and self._pending.empty():
                            return
                    row = self._take(block=True)
                    admitted = [row] if row is not None else []
                else:
                    admitted = []
                while len(self._rows) + len(admitted) < self.max_batch:
                    if self._pending.empty():
                        break
                    row = self._take(block=False)
                    if row is not None:
                        admitted.append(row)
                admitted = [r for r in admitted if not r.cancelled.is_set()]
                if not admitted and not self._rows:
                    continue
                self._work(admitted)
        finally:
            self._cancel_pending()
            self._rows = []
            try:
                self._release()
            except Exception:  # noqa: BLE001 - the thread is ending either way
                logger.exception("releasing the model failed")

    def _work(self, admitted: list[DecodeRow]) -> None:
        try:
            if admitted:
                self._admit(admitted)
            else:
                self._step()
            self.steps += 1
            self.batch_sizes.append(len(self._rows) + len(admitted))
        except Exception as error:  # noqa: BLE001 - every request of this step gets the error
            logger.exception("generation failed")
            for row in {id(r): r for r in [*self._rows, *admitted]}.values():
                row.fail(error)
            try:
                self._reset()
            except Exception:  # noqa: BLE001
                logger.exception("resetting the batch failed")
                self._rows = []

    def _cancel_pending(self) -> None:
        for row in self._rows:
            row.fail(SchedulerClosed("the model was unloaded before this answer ended"))
        while True:
            try:
                row = self._pending.get_nowait()
            except queue.Empty:
                return
            if row is not None:
                row.fail(SchedulerClosed("the model was unloaded before this request started"))
