"""Cleaning, chunking and embedding per data category; ``application.features`` chains them.

Modules: ``cleaning`` (rules per category), ``chunking`` (sized in the embedding model's
tokens), ``embedding`` (length-sorted batches) and ``ids`` (deterministic point ids).
"""
