"""The serving side's names for the decoding schedulers, which live with the runtimes.

Concurrent requests decode together in one worker thread per loaded model: see
:mod:`llm_engineering.model.runtimes.scheduler` (admission between steps, clean shutdown with
rows in flight, callbacks that cannot kill the worker), :mod:`~llm_engineering.model.runtimes.torch_runtime`
(continuous batching with merged KV caches) and :mod:`~llm_engineering.model.runtimes.onnx_runtime`.
"""

from __future__ import annotations

from llm_engineering.model.runtimes.rows import Event, Finished, Ticket
from llm_engineering.model.runtimes.scheduler import Scheduler, SchedulerClosed
from llm_engineering.model.runtimes.torch_runtime import TorchScheduler, supports_batching

BatchScheduler = TorchScheduler
"""The transformers scheduler (its former name)."""

__all__ = [
    "BatchScheduler",
    "Event",
    "Finished",
    "Scheduler",
    "SchedulerClosed",
    "Ticket",
    "supports_batching",
]
