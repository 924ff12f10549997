"""Warehouse import/export in the per-class JSON format of the LLM Engineer's Handbook.

A directory holds one file per document class (``UserDocument.json``,
``ArticleDocument.json``, ``PostDocument.json``, ``RepositoryDocument.json``), each a
JSON list of records with ``_id``. Importing is idempotent: a record whose id (or unique
link) is already stored is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from llm_engineering.domain.documents import ALL_DOCUMENT_TYPES, Document
from llm_engineering.infrastructure.warehouse import MongoWarehouse


class WarehouseImportError(ValueError):
    """A JSON file of the import cannot be read as documents; the message names file and record."""


def _file_name(document_type: type[Document]) -> str:
    return f"{document_type.__name__}.json"


def export_warehouse(warehouse: MongoWarehouse, directory: Path) -> dict[str, int]:
    """Write every collection to ``directory`` (created if needed); returns records written per file."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for document_type in ALL_DOCUMENT_TYPES:
        records = [document.to_mongo() for document in warehouse.find(document_type)]
        path = directory / _file_name(document_type)
        path.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written[path.name] = len(records)
    return written


def read_documents(directory: Path) -> dict[type[Document], list[Document]]:
    """Parse the JSON files present in ``directory``; all are checked before anything is stored.

    Raises:
        FileNotFoundError: the directory holds none of the expected files.
        WarehouseImportError: a file is not a JSON list or a record is invalid.
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    parsed: dict[type[Document], list[Document]] = {}
    for document_type in ALL_DOCUMENT_TYPES:
        path = directory / _file_name(document_type)
        if not path.exists():
            continue
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise WarehouseImportError(f"{path}: not valid JSON: {exc}") from exc
        if not isinstance(records, list):
            raise WarehouseImportError(f"{path}: expected a JSON list of documents")
        documents = []
        for position, record in enumerate(records):
            try:
                documents.append(document_type.from_mongo(record))
            except (KeyError, TypeError, ValueError) as exc:
                raise WarehouseImportError(f"{path}: record {position}: {exc}") from exc
        parsed[document_type] = documents
    if not parsed:
        expected = ", ".join(_file_name(t) for t in ALL_DOCUMENT_TYPES)
        raise FileNotFoundError(f"{directory} holds none of {expected}")
    return parsed


def import_warehouse(warehouse: MongoWarehouse, directory: Path) -> dict[str, int]:
    """Load the JSON files of ``directory`` into the warehouse; returns records inserted per file."""
    inserted: dict[str, int] = {}
    for document_type, documents in read_documents(directory).items():
        inserted[_file_name(document_type)] = warehouse.bulk_insert(documents)
    return inserted
