"""The feature flow: warehouse documents -> cleaned documents -> chunks -> embedded chunks, incrementally.

Modules:

- ``query``: reading the warehouse: the chosen authors and their documents' ids and hashes.
- ``bookkeeping``: cleaning and embedding versions; new, changed, unchanged, removed and
  pending documents; the guard against removing most of an author's features by mistake.
- ``writer``: writing the feature store in the crash-safe order (new chunks -> delete stale
  chunks -> mark done; chunks before cleaned records on removal).
- ``flow``: the stages the pipeline's steps call (clean, chunk and embed) and the whole flow
  in one process.

Cleaning, chunking and embedding themselves live in ``application.preprocessing``; reading the
feature store page by page in ``application.feature_store``.
"""
