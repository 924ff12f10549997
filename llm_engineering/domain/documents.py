"""Raw documents of the warehouse: a user and the writing crawled for them.

Ids are string UUIDs (``uuid.UUID`` values round-trip as bytes through some MongoDB
wire servers). A crawled document's id is derived from its collection and link (UUID5; a
``file://`` link under the working directory counts by its relative path), so the same writing
gets the same id on every install and in every clone: the dataset split, keyed on document ids,
puts the same documents on the held-out side wherever the project runs. A document maps to a
MongoDB record with ``_id`` and its other fields as they are, the same shape as the handbook's
JSON export.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.types import DataCategory


def new_id() -> str:
    """A fresh random document id."""
    return str(uuid.uuid4())


def link_id(collection: str, link: str) -> str:
    """The id of the document crawled from ``link`` into ``collection``: a UUID5, stable across installs.

    A ``file://`` link under the working directory (the project's shipped files) is keyed by its
    path relative to it, so two clones of the project give their demo documents the same ids.
    """
    key = link
    if link.startswith("file://"):
        path = PurePosixPath(unquote(urlsplit(link).path))
        cwd = PurePosixPath(Path.cwd().as_posix())
        if path.is_relative_to(cwd):
            key = f"file:{path.relative_to(cwd)}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{collection}:{key}"))


class Document(BaseModel):
    """Base of every warehouse document.

    Attributes:
        id: string UUID, stored as ``_id``.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    collection: ClassVar[str]

    id: str = Field(default_factory=new_id, alias="_id")

    def to_mongo(self) -> dict[str, Any]:
        """The record as stored: ``_id`` first, then the other fields."""
        data = self.model_dump(by_alias=True, mode="json")
        return {"_id": data.pop("_id"), **data}

    @classmethod
    def from_mongo(cls, record: dict[str, Any]) -> Document:
        """Build a document from a stored record (``_id`` may be any scalar; it becomes a string)."""
        return cls.model_validate({**record, "_id": str(record["_id"])})


class UserDocument(Document):
    """A person whose writing is crawled: the twin's author."""

    collection: ClassVar[str] = "users"

    first_name: str
    last_name: str = ""
    """Empty for a one-word name ("Madonna")."""

    @property
    def full_name(self) -> str:
        """First and last name joined by a space; a one-word name as it is."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @staticmethod
    def split_full_name(full_name: str) -> tuple[str, str]:
        """Split "First [Middle ...] Last" into first and last name; "Madonna" into ("Madonna", "").

        Raises:
            ValueError: if the name is empty.
        """
        parts = full_name.split()
        if not parts:
            raise ValueError("user_full_name is empty")
        if len(parts) == 1:
            return parts[0], ""
        return " ".join(parts[:-1]), parts[-1]


class ContentDocument(Document):
    """Writing crawled from one link.

    Attributes:
        content: the crawled fields (for example ``Title``, ``Subtitle``, ``Content``).
        platform: where it came from (``medium``, ``github``, a site's domain, ...).
        author_id: id of the ``UserDocument`` who wrote it.
        author_full_name: the author's name, kept here so filters need no join.
        link: the address it was crawled from; unique within its collection.
    """

    category: ClassVar[DataCategory]

    content: dict[str, Any]
    platform: str
    author_id: str
    author_full_name: str
    link: str

    @model_validator(mode="before")
    @classmethod
    def _id_from_link(cls, data: Any) -> Any:
        if isinstance(data, dict) and "_id" not in data and "id" not in data and data.get("link"):
            return {**data, "_id": link_id(cls.collection, str(data["link"]))}
        return data

    @property
    def content_hash(self) -> str:
        """SHA-256 of the content, stable across key order: unchanged content, same hash."""
        payload = json.dumps(self.content, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ArticleDocument(ContentDocument):
    """An article or blog post page."""

    collection: ClassVar[str] = "articles"
    category: ClassVar[DataCategory] = DataCategory.ARTICLES


class PostDocument(ContentDocument):
    """A short social post (LinkedIn)."""

    collection: ClassVar[str] = "posts"
    category: ClassVar[DataCategory] = DataCategory.POSTS

    image: str | None = None


class RepositoryDocument(ContentDocument):
    """A code repository: ``content`` maps file paths to file contents."""

    collection: ClassVar[str] = "repositories"
    category: ClassVar[DataCategory] = DataCategory.REPOSITORIES

    name: str


CONTENT_DOCUMENT_TYPES: tuple[type[ContentDocument], ...] = (
    ArticleDocument,
    PostDocument,
    RepositoryDocument,
)
ALL_DOCUMENT_TYPES: tuple[type[Document], ...] = (UserDocument, *CONTENT_DOCUMENT_TYPES)


def document_type_for(category: DataCategory | str) -> type[ContentDocument]:
    """The document class stored in the collection of ``category``."""
    for cls in CONTENT_DOCUMENT_TYPES:
        if cls.category == DataCategory(category):
            return cls
    raise ValueError(f"no document type for category {category!r}")
