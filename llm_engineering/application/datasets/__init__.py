"""Instruction and preference dataset generation from the author's cleaned documents.

The flow the pipeline's steps call, stage by stage: ``checks`` (settings that cannot serve the
config, refused before the run), ``feature_source`` (the authors' cleaned documents in the
feature store -> extracts), ``samples`` (instruction and preference samples, or a handbook JSON
dataset's) and ``flow`` (quality filters, split, the saved ``DatasetDict``).

Their parts: ``extracts`` (cutting documents into answer-sized passages), ``offline`` (the
offline instruction and rejected-answer strategies), ``llm_generation`` (the ``llm`` and
``model`` strategies), ``quality`` (lengths, exact and near-duplicates), ``splits`` (leak-free
per-category train/test split), ``storage`` (``DatasetDict``, versioned folders, cards, the Hub,
handbook JSON) and ``work`` (the ``WorkStore`` of the intermediates between steps).
"""
