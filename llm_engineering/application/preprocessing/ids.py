"""Deterministic point ids: the same input always gives the same UUID, different inputs never collide.

Qdrant accepts only UUIDs and unsigned integers as point ids, so every id stored in the
vector store is a string UUID: version 5 (SHA-1 of a namespace and a name) where it is derived.
"""

from __future__ import annotations

import hashlib
import uuid

NAMESPACE = uuid.UUID("5f0b6c1e-4a0e-5b7d-9c3e-2d1f8a6b4c21")
"""Namespace of every id LLM Twin derives; fixed forever, or every stored id would change."""

_SEPARATOR = "\x1f"  # unit separator: cannot occur in ids, so ("a", "bc") and ("ab", "c") differ


def stable_uuid(*parts: str) -> str:
    """A UUID5 string derived from ``parts``.

    Args:
        parts: the pieces that identify the thing; their order matters.
    """
    return str(uuid.uuid5(NAMESPACE, _SEPARATOR.join(parts)))


def content_digest(text: str) -> str:
    """SHA-256 hex digest of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(document_id: str, index: int, content: str) -> str:
    """Id of a chunk, from its document, its position in it and its text.

    The same chunk of an unchanged document keeps its id across runs (upserts overwrite
    it); a chunk whose text or position changed gets a new id, and chunks of different
    documents never share one.
    """
    return stable_uuid("chunk", document_id, str(index), content_digest(content))


def document_point_id(document_id: str) -> str:
    """Point id of a cleaned document: its warehouse id when that is a UUID, else a UUID5 of it."""
    try:
        return str(uuid.UUID(document_id))
    except ValueError:
        return stable_uuid("document", document_id)
