"""Shared by the vector-store adapters: errors, filter normalisation and point-id checks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.vector_store import Filters


class VectorStoreError(LLMTwinError):
    """The vector store cannot do what was asked; the message says why and what to do."""


class VectorStoreBusy(VectorStoreError):
    """The store's files are locked by another process."""


class CollectionNotFound(VectorStoreError, KeyError):
    """A collection that was read from or written to does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def normalise_filters(filters: Filters | None) -> tuple[list[tuple[str, Any]], bool]:
    """Split exact-match filters into ``(key, value)`` conditions.

    ``None`` values are dropped (no condition on that key), so callers can pass optional
    filters straight through. A list (or tuple, set) value matches any of its items.

    Returns:
        The conditions, and whether the filters can match anything at all (an empty list
        value matches no point, and the adapters answer without asking the store).
    """
    conditions: list[tuple[str, Any]] = []
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            values = list(dict.fromkeys(_scalar(v) for v in value))
            if not values:
                return [], False
            conditions.append((key, values))
        else:
            conditions.append((key, _scalar(value)))
    return conditions, True


def _scalar(value: Any) -> Any:
    # StrEnum members (DataCategory) match on their string value.
    if isinstance(value, str):
        return str(value)
    return value


def check_point_id(point_id: str) -> str:
    """The canonical string form of a UUID point id.

    Raises:
        ValueError: if ``point_id`` is not a UUID (Qdrant accepts only UUIDs and unsigned ints).
    """
    try:
        return str(uuid.UUID(str(point_id)))
    except ValueError:
        raise ValueError(
            f"point id {point_id!r} is not a UUID; derive one with "
            "llm_engineering.application.preprocessing.ids.stable_uuid"
        ) from None


def check_point_ids(point_ids: Sequence[str]) -> list[str]:
    """:func:`check_point_id` over a sequence."""
    return [check_point_id(point_id) for point_id in point_ids]


def delete_is_noop(ids: Sequence[str] | None, filters: Filters | None) -> bool:
    """Check a delete request; True when it selects nothing (an empty id list).

    Raises:
        ValueError: if neither ids nor filters are given (deleting a whole collection is not
            done by accident).
    """
    if ids is None and not filters:
        raise ValueError("delete needs ids or filters")
    return ids is not None and not ids
