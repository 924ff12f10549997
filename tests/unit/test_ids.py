"""Deterministic point ids."""

from __future__ import annotations

import uuid

from llm_engineering.application.preprocessing.ids import chunk_id, document_point_id, stable_uuid


def test_stable_uuids_depend_on_every_part_and_their_boundaries():
    assert stable_uuid("a", "b") == stable_uuid("a", "b")
    assert stable_uuid("a", "bc") != stable_uuid("ab", "c")
    assert uuid.UUID(stable_uuid("x")).version == 5


def test_chunk_ids_change_with_document_position_and_text():
    base = chunk_id("doc-1", 0, "text")
    assert base == chunk_id("doc-1", 0, "text")
    assert (
        len({base, chunk_id("doc-2", 0, "text"), chunk_id("doc-1", 1, "text"), chunk_id("doc-1", 0, "text!")})
        == 4
    )


def test_document_point_ids_keep_uuid_ids_and_derive_others():
    raw = str(uuid.uuid4())
    assert document_point_id(raw) == raw
    assert document_point_id(raw.upper()) == raw
    derived = document_point_id("64f1c0ffee0123456789abcd")  # a MongoDB ObjectId
    assert uuid.UUID(derived).version == 5 and derived == document_point_id("64f1c0ffee0123456789abcd")
