"""Cleaning, chunking and embedding per data category, and the incremental feature flow that chains them.

Modules: ``cleaning`` (rules per category), ``chunking`` (sized in the embedding model's
tokens), ``embedding`` (length-sorted batches), ``ids`` (deterministic point ids) and
``features`` (warehouse -> cleaned documents -> embedded chunks, incrementally).
"""
