"""The runtimes that decode the twin: transformers (PyTorch) and ONNX Runtime GenAI.

Both run one :class:`~llm_engineering.model.runtimes.scheduler.Scheduler` (a worker thread that
decodes the requests in flight together, step by step) and pick every token with the same
numpy rules of :mod:`llm_engineering.model.decoding`, through one
:class:`~llm_engineering.model.runtimes.rows.DecodeRow` per request. Callers use
:func:`llm_engineering.model.generation.load_generator`, not these modules.
"""
