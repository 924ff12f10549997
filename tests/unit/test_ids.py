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


def test_a_crawled_document_id_follows_its_link_and_not_the_clone_it_was_crawled_in(tmp_path, monkeypatch):
    from llm_engineering.domain.documents import ArticleDocument, PostDocument

    def crawled(cls, link: str):
        return cls(
            content={"Content": "x"}, platform="local", author_id="a", author_full_name="A B", link=link
        )

    first, second = tmp_path / "clone-1", tmp_path / "clone-2"
    ids = []
    for clone in (first, second):
        clone.mkdir()
        monkeypatch.chdir(clone)
        ids.append(crawled(ArticleDocument, (clone / "data" / "my post.md").as_uri()).id)
    assert ids[0] == ids[1]  # the same shipped file, two clones: one id, one split
    assert uuid.UUID(ids[0]).version == 5
    assert (
        crawled(ArticleDocument, "https://example.com/a").id
        == crawled(ArticleDocument, "https://example.com/a").id
    )
    assert (
        len(
            {
                ids[0],
                crawled(PostDocument, (second / "data" / "my post.md").as_uri()).id,  # another collection
                crawled(ArticleDocument, (tmp_path / "elsewhere.md").as_uri()).id,  # outside the working dir
                crawled(ArticleDocument, "https://example.com/a").id,
            }
        )
        == 4
    )
    stored = crawled(ArticleDocument, "https://example.com/b")
    assert ArticleDocument.from_mongo(stored.to_mongo()).id == stored.id  # a stored id is kept as it is
