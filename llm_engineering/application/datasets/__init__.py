"""Instruction and preference dataset generation from the author's cleaned documents.

Modules: ``extracts`` (feature store -> answer-sized passages), ``offline`` (the offline
instruction and rejected-answer strategies), ``llm_generation`` (the ``llm`` and ``model``
strategies), ``quality`` (lengths, exact and near-duplicates), ``splits`` (leak-free
per-category train/test split), ``storage`` (``DatasetDict``, versioned folders, cards,
the Hub, handbook JSON), ``generation`` (the flow the pipeline's steps call) and ``ports``
(the LLM interface the strategies need).
"""
