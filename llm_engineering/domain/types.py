"""Enumerations shared by every layer."""

from enum import StrEnum


class DataCategory(StrEnum):
    """The kind of writing a document holds; also names its warehouse collection."""

    ARTICLES = "articles"
    POSTS = "posts"
    REPOSITORIES = "repositories"
