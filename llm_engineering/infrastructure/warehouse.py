"""The document warehouse: a small ODM over pymongo.

Works the same against MongoDB and the embedded nx-27017 server. Each document class
names its collection; content collections carry a unique index on ``link`` so a link
is stored once however many runs or threads crawl it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from pymongo import ASCENDING, MongoClient
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from llm_engineering.domain.documents import (
    ALL_DOCUMENT_TYPES,
    CONTENT_DOCUMENT_TYPES,
    Document,
    UserDocument,
)
from llm_engineering.settings import Settings, get_settings

D = TypeVar("D", bound=Document)

_DUPLICATE_KEY = 11000


def connect(uri: str, database: str, *, timeout_ms: int = 5000) -> MongoWarehouse:
    """Open a warehouse on ``uri``; fails fast with a clear message when nothing answers.

    Raises:
        ConnectionError: if no MongoDB server answers at ``uri``.
    """
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, uuidRepresentation="standard")
    try:
        client.admin.command("ping")
    except Exception as exc:  # pymongo raises several types; all mean "not reachable".
        client.close()
        raise ConnectionError(
            f"no MongoDB server answers at {uri} ({type(exc).__name__}); "
            "start the embedded one with `poe local-infrastructure-up` or set DATABASE_HOST"
        ) from exc
    return MongoWarehouse(client[database], client=client)


class MongoWarehouse:
    """Typed access to the warehouse collections of one database (the
    :class:`~llm_engineering.domain.warehouse.Warehouse` port, and the admin operations besides)."""

    def __init__(self, database: Database, *, client: MongoClient | None = None) -> None:
        self.database = database
        self._client = client
        self._indexed = False

    def close(self) -> None:
        """Close the client this warehouse opened (idempotent)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> MongoWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_indexes(self) -> None:
        """Create the unique indexes (idempotent): ``link`` per content collection, name per user."""
        if self._indexed:
            return
        for cls in CONTENT_DOCUMENT_TYPES:
            self.database[cls.collection].create_index([("link", ASCENDING)], unique=True)
            self.database[cls.collection].create_index([("author_id", ASCENDING)])
        self.database[UserDocument.collection].create_index(
            [("first_name", ASCENDING), ("last_name", ASCENDING)], unique=True
        )
        self._indexed = True

    # -- writes --------------------------------------------------------------------------

    def save(self, document: Document) -> bool:
        """Insert one document; returns False when its unique key is already stored."""
        self.ensure_indexes()
        try:
            self.database[document.collection].insert_one(document.to_mongo())
        except DuplicateKeyError:
            return False
        return True

    def upsert(self, document: Document) -> None:
        """Insert or replace one document by id."""
        self.database[document.collection].replace_one({"_id": document.id}, document.to_mongo(), upsert=True)

    def bulk_insert(self, documents: Iterable[Document]) -> int:
        """Insert documents, skipping those whose id or unique key is already stored.

        Returns:
            How many were inserted.
        """
        self.ensure_indexes()
        by_collection: dict[str, list[dict[str, Any]]] = {}
        for document in documents:
            by_collection.setdefault(document.collection, []).append(document.to_mongo())
        inserted = 0
        for collection, records in by_collection.items():
            try:
                inserted += len(self.database[collection].insert_many(records, ordered=False).inserted_ids)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(error.get("code") != _DUPLICATE_KEY for error in errors):
                    raise
                inserted += exc.details.get("nInserted", 0)
        return inserted

    def delete(self, document_type: type[Document], **filters: Any) -> int:
        """Delete the documents of a type that match ``filters``; returns how many."""
        return self.database[document_type.collection].delete_many(filters).deleted_count

    # -- reads ---------------------------------------------------------------------------

    def find(self, document_type: type[D], **filters: Any) -> Iterator[D]:
        """Documents of a type that match ``filters`` (MongoDB query syntax), in id order."""
        for record in self.database[document_type.collection].find(filters).sort("_id", ASCENDING):
            yield document_type.from_mongo(record)  # type: ignore[misc]

    def find_one(self, document_type: type[D], **filters: Any) -> D | None:
        record = self.database[document_type.collection].find_one(filters)
        return None if record is None else document_type.from_mongo(record)  # type: ignore[return-value]

    def count(self, document_type: type[Document], **filters: Any) -> int:
        return self.database[document_type.collection].count_documents(filters)

    def get_or_create(self, document_type: type[D], **fields: Any) -> tuple[D, bool]:
        """The document matching ``fields``, created from them when absent.

        Returns:
            The document and whether it was created now. Safe under concurrent callers:
            the unique index makes one insert win and the others read it back.
        """
        self.ensure_indexes()
        found = self.find_one(document_type, **fields)
        if found is not None:
            return found, False
        document = document_type(**fields)
        if self.save(document):
            return document, True
        found = self.find_one(document_type, **fields)
        if found is None:  # the unique key matched on other fields than the ones we read by
            raise LookupError(f"{document_type.__name__} {fields} collides with a stored document")
        return found, False

    def stored_links(self, links: Iterable[str]) -> set[str]:
        """Those of ``links`` already stored in any content collection."""
        wanted = list(dict.fromkeys(links))
        found: set[str] = set()
        if not wanted:
            return found
        for cls in CONTENT_DOCUMENT_TYPES:
            cursor = self.database[cls.collection].find({"link": {"$in": wanted}}, {"link": 1, "_id": 0})
            found.update(record["link"] for record in cursor)
        return found

    def user_by_full_name(self, full_name: str) -> UserDocument | None:
        first_name, last_name = UserDocument.split_full_name(full_name)
        return self.find_one(UserDocument, first_name=first_name, last_name=last_name)

    def counts(self) -> dict[str, int]:
        """Documents per collection."""
        return {cls.collection: self.count(cls) for cls in ALL_DOCUMENT_TYPES}


def open_warehouse(settings: Settings | None = None) -> MongoWarehouse:
    """The warehouse named by ``settings`` (DATABASE_HOST, DATABASE_NAME); the process's settings by default."""
    settings = settings or get_settings()
    return connect(settings.database_host, settings.database_name)
