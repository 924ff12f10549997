"""Import/export of the warehouse in the handbook's per-class JSON format."""

import json

import pytest

from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.infrastructure.warehouse_json import (
    WarehouseImportError,
    export_warehouse,
    import_warehouse,
)


def test_importing_the_shared_corpus_twice_adds_nothing_the_second_time(warehouse, shared_corpus):
    first = import_warehouse(warehouse, shared_corpus)
    assert first == {"UserDocument.json": 2, "ArticleDocument.json": 76}
    assert warehouse.count(UserDocument) == 2
    assert warehouse.count(ArticleDocument) == 76

    second = import_warehouse(warehouse, shared_corpus)
    assert second == {"UserDocument.json": 0, "ArticleDocument.json": 0}
    assert warehouse.count(ArticleDocument) == 76


def test_export_then_import_round_trips_every_record(warehouse, shared_corpus, tmp_path):
    import_warehouse(warehouse, shared_corpus)
    written = export_warehouse(warehouse, tmp_path)
    assert written["ArticleDocument.json"] == 76
    assert written["PostDocument.json"] == 0

    exported = {r["_id"]: r for r in json.loads((tmp_path / "ArticleDocument.json").read_text())}
    original = {r["_id"]: r for r in json.loads((shared_corpus / "ArticleDocument.json").read_text())}
    assert exported.keys() == original.keys()
    some_id = next(iter(original))
    assert exported[some_id]["content"] == original[some_id]["content"]
    assert exported[some_id]["link"] == original[some_id]["link"]


def test_a_malformed_record_stops_the_import_before_anything_is_stored(warehouse, tmp_path):
    (tmp_path / "UserDocument.json").write_text(
        json.dumps([{"_id": "u1", "first_name": "A", "last_name": "B"}])
    )
    (tmp_path / "ArticleDocument.json").write_text(json.dumps([{"_id": "a1", "content": {}}]))
    with pytest.raises(WarehouseImportError, match=r"ArticleDocument.json: record 0"):
        import_warehouse(warehouse, tmp_path)
    assert warehouse.count(UserDocument) == 0


def test_a_directory_without_export_files_is_refused(warehouse, tmp_path):
    with pytest.raises(FileNotFoundError, match="holds none of"):
        import_warehouse(warehouse, tmp_path)
