"""The feature flow on a real warehouse (nx-27017), real vector stores and the packaged MiniLM.

Small inline documents keep these fast; the shared corpus is embedded once, in test_retrieval.
The last tests run the real ZenML pipeline through ``tools.run`` on an isolated ZenML store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from qdrant_client import QdrantClient

from llm_engineering.application.feature_store import iter_cleaned_documents, scroll_all
from llm_engineering.application.features import bookkeeping, flow
from llm_engineering.application.features.query import UnknownAuthorError
from llm_engineering.application.features.reports import FeatureRunReport
from llm_engineering.application.preprocessing import chunking, cleaning
from llm_engineering.application.preprocessing.embedding import TextEmbedder
from llm_engineering.application.rag.retrieval import search
from llm_engineering.configs.features import FeatureEngineeringConfig
from llm_engineering.domain.cleaned_documents import cleaned_collection, embedded_collection
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.types import DataCategory
from llm_engineering.domain.vector_store import Point
from llm_engineering.infrastructure.embeddings import (
    DEFAULT_MODEL_NAME,
    SentenceTransformerEmbedder,
    default_model_path,
    load_embedder,
)
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
from llm_engineering.infrastructure.vector_stores.qdrant_server import QdrantServerStore
from llm_engineering.infrastructure.warehouse import MongoWarehouse
from tests.zenml_helpers import artifact_files, run_cli

pytestmark = pytest.mark.integration

ARTICLES, POSTS, REPOS = (embedded_collection(c) for c in DataCategory)


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The packaged MiniLM, loaded once for the session."""
    return load_embedder(default_model_path())


class CountingEmbedder:
    """The real embedder, counting what it is asked to encode."""

    def __init__(self, inner: TextEmbedder) -> None:
        self.inner = inner
        self.texts = 0
        self.calls = 0

    model_id = property(lambda self: self.inner.model_id)
    dimension = property(lambda self: self.inner.dimension)
    tokenizer = property(lambda self: self.inner.tokenizer)

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size=batch_size)


class Factory:
    """An embedder factory that records whether the flow asked for the model at all."""

    def __init__(self, embedder: TextEmbedder) -> None:
        self.embedder = CountingEmbedder(embedder)
        self.loads = 0

    def __call__(self) -> CountingEmbedder:
        self.loads += 1
        return self.embedder


class FailingStore:
    """A store that fails on the ``nth`` call of ``method`` on ``collection``: a crash in the middle of a run."""

    def __init__(self, inner: Any, *, method: str, collection: str, nth: int = 1) -> None:
        self.inner = inner
        self.method, self.collection, self.nth = method, collection, nth
        self.calls = 0

    def _guard(self, method: str, name: str) -> None:
        if (method, name) == (self.method, self.collection):
            self.calls += 1
            if self.calls == self.nth:
                raise ConnectionError(f"lost the store during {method} on {name}")

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        self._guard("upsert", name)
        self.inner.upsert(name, points)

    def delete(self, name: str, **kwargs: Any) -> None:
        self._guard("delete", name)
        self.inner.delete(name, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(params=["edge", "qdrant-client"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    adapter = (
        QdrantEdgeStore(tmp_path / "qdrant")
        if request.param == "edge"
        else QdrantServerStore(QdrantClient(location=":memory:"))
    )
    with adapter:
        yield adapter


@pytest.fixture
def edge_store(tmp_path: Path) -> Iterator[QdrantEdgeStore]:
    with QdrantEdgeStore(tmp_path / "qdrant") as adapter:
        yield adapter


def _paragraphs(topic: str, n: int = 4) -> str:
    return "\n\n".join(
        f"Part {i} about {topic}. Feature pipelines clean, chunk and embed documents so that retrieval "
        f"finds the right passage about {topic} when a question comes in. Section {i} adds detail."
        for i in range(n)
    )


def _seed(warehouse: MongoWarehouse) -> dict[str, Any]:
    """Two authors; Ada has four articles (one empty), a post and a repository; Grace one article."""
    ada, _ = warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")
    grace, _ = warehouse.get_or_create(UserDocument, first_name="Grace", last_name="Hopper")

    def article(user: UserDocument, slug: str, content: str) -> ArticleDocument:
        return ArticleDocument(
            content={"Title": slug.replace("-", " ").title(), "Subtitle": "", "Content": content},
            platform="blog.example",
            author_id=user.id,
            author_full_name=user.full_name,
            link=f"https://blog.example/{slug}",
        )

    articles = [
        article(ada, "analytical-engines", _paragraphs("analytical engines")),
        article(ada, "bernoulli-numbers", _paragraphs("Bernoulli numbers")),
        article(ada, "punched-cards", _paragraphs("punched cards", 2)),
        article(ada, "nothing-here", "Share this post\n\nCopy link\n\n13"),  # cleans to nothing
        article(grace, "compilers", _paragraphs("compilers")),
    ]
    post = PostDocument(
        content={"Content": "Shipped a new notebook on looms.\nhashtag#history"},
        platform="linkedin",
        author_id=ada.id,
        author_full_name=ada.full_name,
        link="https://linkedin.example/posts/1",
    )
    repo = RepositoryDocument(
        name="engine",
        content={"engine.py": "def add(a, b):\n    return a + b\n", "README.md": "# Engine\n\nA toy.\n"},
        platform="github",
        author_id=ada.id,
        author_full_name=ada.full_name,
        link="https://github.example/ada/engine",
    )
    warehouse.bulk_insert([*articles, post, repo])
    return {"ada": ada, "grace": grace, "articles": articles, "post": post, "repo": repo}


def _config(*names: str) -> FeatureEngineeringConfig:
    # Small articles chunks so that each article has several, and a change touches only some.
    return FeatureEngineeringConfig.model_validate(
        {
            "author_full_names": list(names),
            "chunking": {"articles": {"chunk_size": 64, "chunk_overlap": 8}},
            "embedding": {"batch_size": 8},
        }
    )


def _pending(store: Any, author_id: str, config: FeatureEngineeringConfig | None = None) -> list:
    return bookkeeping.pending_documents(
        store,
        author_ids=[author_id],
        model_name=DEFAULT_MODEL_NAME,
        chunking=(config or _config("Ada Lovelace")).chunking,
    )


def _chunks_of(store: Any, collection: str, document_id: str) -> set[str]:
    return {p.id for p in scroll_all(store, collection, filters={"document_id": document_id})}


def _run(
    warehouse: MongoWarehouse,
    store: Any,
    factory: Factory,
    *names: str,
    config: FeatureEngineeringConfig | None = None,
) -> FeatureRunReport:
    return flow.run_feature_flow(
        warehouse=warehouse,
        store=store,
        embedder=factory,
        model_name=factory.embedder.model_id,
        config=config or _config(*names),
        progress=False,
    )


def test_a_first_run_stores_everything_and_an_unchanged_rerun_embeds_nothing(warehouse, store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    first = _run(warehouse, store, factory, "Ada Lovelace")
    assert first.cleaning.counts == {
        "new": 5,
        "changed": 0,
        "unchanged": 0,
        "removed": 0,
        "skipped_empty": 1,
        "failed": 0,
    }
    assert first.cleaning.skipped_empty == ["https://blog.example/nothing-here"]
    assert (store.count(cleaned_collection("articles")), store.count(ARTICLES)) == (
        3,
        first.embedding.chunks - 2,
    )
    assert (store.count(POSTS), store.count(REPOS)) == (1, 1)
    assert first.embedding.max_chunk_tokens <= 64 and first.embedding.dimension == 384
    assert factory.embedder.texts == first.embedding.chunks
    cleaned = list(iter_cleaned_documents(store))
    assert len(cleaned) == 5 and all(d.embedding_version and d.cleaning_version for d in cleaned)
    assert {d.author_full_name for d in cleaned} == {"Ada Lovelace"}
    ids_before = {p.id for p in scroll_all(store, ARTICLES)}

    factory.embedder.texts = 0
    second = _run(warehouse, store, factory, "Ada Lovelace")
    assert (second.cleaning.new, second.cleaning.changed, second.cleaning.unchanged) == (0, 0, 5)
    assert second.embedding.document_ids == [] and second.embedding.chunks == 0
    assert factory.loads == 1 and factory.embedder.texts == 0  # the model was not even asked for
    assert {p.id for p in scroll_all(store, ARTICLES)} == ids_before
    (hit,) = search("Bernoulli numbers", store=store, embedder=embedder, k=1)
    assert hit.link == seeded["articles"][1].link


def test_a_changed_document_has_its_old_chunks_replaced(warehouse, store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    _run(warehouse, store, factory, "Ada Lovelace")
    changed = seeded["articles"][0]
    other = seeded["articles"][1]
    old_chunks = _chunks_of(store, ARTICLES, changed.id)
    other_chunks = _chunks_of(store, ARTICLES, other.id)
    new_text = (
        _paragraphs("analytical engines", 2) + "\n\nA new closing section about difference engines and gears."
    )
    warehouse.upsert(changed.model_copy(update={"content": {**changed.content, "Content": new_text}}))

    factory.embedder.texts = 0
    report = _run(warehouse, store, factory, "Ada Lovelace")
    assert (report.cleaning.new, report.cleaning.changed, report.cleaning.unchanged) == (0, 1, 4)
    assert report.embedding.document_ids == [changed.id]
    new_chunks = _chunks_of(store, ARTICLES, changed.id)
    assert len(new_chunks) == report.embedding.chunks
    assert old_chunks - new_chunks and not (old_chunks - new_chunks) & _chunks_of(store, ARTICLES, changed.id)
    assert report.embedding.chunks_deleted == len(old_chunks - new_chunks)
    assert _chunks_of(store, ARTICLES, other.id) == other_chunks  # untouched
    assert factory.embedder.texts == len(new_chunks)
    (hit,) = search("difference engines and gears", store=store, embedder=embedder, k=1)
    assert hit.document_id == changed.id and "difference engines" in hit.content


def test_new_chunk_rules_re_embed_every_document_of_that_category_once(warehouse, edge_store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    first = _run(warehouse, edge_store, factory, "Ada Lovelace")
    bigger = _config("Ada Lovelace").model_copy(deep=True)
    bigger.chunking.articles.chunk_size = 128
    report = _run(warehouse, edge_store, factory, config=bigger)
    assert report.cleaning.unchanged == 5  # nothing cleaned again
    assert set(report.embedding.document_ids) == {a.id for a in seeded["articles"][:3]}
    assert report.embedding.max_chunk_tokens > 64
    assert edge_store.count(ARTICLES) < first.embedding.chunks - 2  # fewer, bigger chunks replaced the old
    assert _run(warehouse, edge_store, factory, config=bigger).embedding.chunks == 0


def test_documents_gone_or_emptied_are_removed_with_their_chunks(warehouse, store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    _run(warehouse, store, factory, "Ada Lovelace")
    gone, emptied = seeded["articles"][1], seeded["articles"][2]
    warehouse.delete(ArticleDocument, _id=gone.id)
    warehouse.upsert(emptied.model_copy(update={"content": {**emptied.content, "Content": ""}}))

    report = _run(warehouse, store, factory, "Ada Lovelace")
    assert {k: set(v) for k, v in report.cleaning.removed.items()} == {
        DataCategory.ARTICLES: {emptied.id, gone.id}
    }
    assert report.cleaning.counts["removed"] == 2 and report.cleaning.counts["skipped_empty"] == 2
    for document in (gone, emptied):
        assert _chunks_of(store, ARTICLES, document.id) == set()
        assert store.count(cleaned_collection("articles"), filters={"document_id": document.id}) == 0
    assert store.count(cleaned_collection("articles")) == 1


def test_only_the_chosen_authors_features_are_touched(warehouse, edge_store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    _run(warehouse, edge_store, factory, "Ada Lovelace", "Grace Hopper")
    grace_chunks = edge_store.count(ARTICLES, filters={"author_full_name": "Grace Hopper"})
    assert grace_chunks > 0
    warehouse.delete(ArticleDocument, _id=seeded["articles"][0].id)
    report = _run(warehouse, edge_store, factory, "ada  lovelace")  # names match case- and space-blind
    assert report.cleaning.counts["removed"] == 1 and report.cleaning.unchanged == 4
    assert edge_store.count(ARTICLES, filters={"author_full_name": "Grace Hopper"}) == grace_chunks


def test_an_unknown_author_stops_before_anything_is_written(warehouse, edge_store, embedder):
    _seed(warehouse)
    with pytest.raises(UnknownAuthorError) as error:
        _run(warehouse, edge_store, Factory(embedder), "Ada Lovelace", "Nobody Here")
    assert str(error.value) == (
        "unknown author 'Nobody Here' in author_full_names; the warehouse knows: Ada Lovelace, Grace Hopper"
    )
    assert edge_store.collections() == []


def test_an_empty_warehouse_is_a_clear_no_op(warehouse, edge_store, embedder):
    factory = Factory(embedder)
    report = _run(warehouse, edge_store, factory, "Maya Lindqvist")
    assert report.query.warehouse_empty and report.cleaning.warehouse_empty
    assert "the warehouse is empty" in report.query.summary()
    assert report.cleaning.summary() == "the warehouse is empty: nothing cleaned, nothing removed"
    assert factory.loads == 0 and edge_store.collections() == []


def test_a_run_that_stops_before_marking_documents_is_finished_by_the_next(warehouse, edge_store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    # The second upsert to cleaned_posts marks the post embedded: its chunk is stored by then.
    crashing = FailingStore(edge_store, method="upsert", collection=cleaned_collection("posts"), nth=2)
    with pytest.raises(ConnectionError):
        _run(warehouse, crashing, factory, "Ada Lovelace")
    pending = _pending(edge_store, seeded["ada"].id)
    assert seeded["post"].id in {d.id for d in pending}
    assert edge_store.count(POSTS) == 1

    report = _run(warehouse, edge_store, factory, "Ada Lovelace")
    assert report.cleaning.unchanged == 5  # cleaned before the crash: not cleaned again
    assert set(report.embedding.document_ids) == {d.id for d in pending}
    assert _pending(edge_store, seeded["ada"].id) == []
    assert len(_chunks_of(edge_store, POSTS, seeded["post"].id)) == 1  # upserted again, not duplicated
    total = sum(len(_chunks_of(edge_store, ARTICLES, a.id)) for a in seeded["articles"])
    assert edge_store.count(ARTICLES) == total


def test_a_change_interrupted_before_stale_chunks_go_is_cleaned_up_next_run(warehouse, edge_store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    _run(warehouse, edge_store, factory, "Ada Lovelace")
    changed = seeded["articles"][0]
    old_chunks = _chunks_of(edge_store, ARTICLES, changed.id)
    warehouse.upsert(
        changed.model_copy(update={"content": {**changed.content, "Content": "Rewritten entirely."}})
    )
    crashing = FailingStore(edge_store, method="delete", collection=ARTICLES)
    with pytest.raises(ConnectionError):  # new chunk stored, stale ones not yet deleted
        _run(warehouse, crashing, factory, "Ada Lovelace")
    assert old_chunks < _chunks_of(edge_store, ARTICLES, changed.id)

    report = _run(warehouse, edge_store, factory, "Ada Lovelace")
    assert report.cleaning.unchanged == 5 and report.embedding.document_ids == [changed.id]
    (chunk_id,) = _chunks_of(edge_store, ARTICLES, changed.id)
    (hit,) = search("Rewritten entirely.", store=edge_store, embedder=embedder, k=1)
    assert hit.id == chunk_id and hit.content.endswith("Rewritten entirely.")


def _malformed_post(warehouse: MongoWarehouse, author: UserDocument) -> str:
    """A post whose content is not text, written straight to the collection as a foreign tool might."""
    link = "https://linkedin.example/posts/broken"
    warehouse.database[PostDocument.collection].insert_one(
        {
            "_id": "0e5f9c1a-2b7d-4c3e-9f10-aa0000000001",
            "content": {"Content": 42},
            "platform": "linkedin",
            "author_id": author.id,
            "author_full_name": author.full_name,
            "link": link,
        }
    )
    return link


def test_a_malformed_document_is_counted_and_past_the_threshold_stops_the_run_before_writing(
    warehouse, edge_store, embedder
):
    seeded = _seed(warehouse)
    link = _malformed_post(warehouse, seeded["ada"])
    with pytest.raises(
        flow.CleaningFailuresExceeded, match=r"1 of 7 documents failed .* nothing was written"
    ):
        _run(warehouse, edge_store, Factory(embedder), "Ada Lovelace")  # 14% > failure_threshold 10%
    assert edge_store.collections() == []

    lenient = _config("Ada Lovelace").model_copy(deep=True)
    lenient.cleaning.failure_threshold = 0.2
    report = _run(warehouse, edge_store, Factory(embedder), config=lenient)
    assert report.cleaning.failed == {link: "MalformedDocument: content field 'Content' holds int, not text"}
    assert report.cleaning.new == 5 and store_count(edge_store) == 5


def store_count(store: Any) -> int:
    return sum(
        store.count(cleaned_collection(c))
        for c in DataCategory
        if store.collection_exists(cleaned_collection(c))
    )


def test_a_programming_error_fails_the_run_instead_of_counting_as_a_bad_document(
    warehouse, edge_store, embedder, monkeypatch
):
    _seed(warehouse)

    def broken(document, **_):
        raise TypeError("a bug in the cleaning code")

    monkeypatch.setattr(flow, "clean_document", broken)
    with pytest.raises(TypeError, match="a bug in the cleaning code"):
        _run(warehouse, edge_store, Factory(embedder), "Ada Lovelace")
    assert edge_store.collections() == []


def test_new_cleaning_or_chunking_rules_re_clean_or_re_embed_every_document_once(
    warehouse, edge_store, embedder, monkeypatch
):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    _run(warehouse, edge_store, factory, "Ada Lovelace")
    ada = {seeded["post"].id, seeded["repo"].id, *(a.id for a in seeded["articles"][:3])}

    monkeypatch.setattr(cleaning, "RULES_VERSION", cleaning.RULES_VERSION + "-next")
    recleaned = _run(warehouse, edge_store, factory, "Ada Lovelace")
    assert (recleaned.cleaning.changed, recleaned.cleaning.unchanged) == (5, 0)
    assert set(recleaned.embedding.document_ids) == ada
    again = _run(warehouse, edge_store, factory, "Ada Lovelace")
    assert (again.cleaning.unchanged, again.embedding.document_ids) == (5, [])

    monkeypatch.setattr(chunking, "RULES_VERSION", chunking.RULES_VERSION + "-next")
    factory.embedder.texts = 0
    rechunked = _run(warehouse, edge_store, factory, "Ada Lovelace")
    assert rechunked.cleaning.unchanged == 5  # not cleaned again
    assert (
        set(rechunked.embedding.document_ids) == ada and factory.embedder.texts == rechunked.embedding.chunks
    )
    assert _run(warehouse, edge_store, factory, "Ada Lovelace").embedding.document_ids == []


def test_most_of_an_authors_documents_missing_is_refused_unless_allowed(warehouse, edge_store, embedder):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    _run(warehouse, edge_store, factory, "Ada Lovelace", "Grace Hopper")
    chunks_before = edge_store.count(ARTICLES)
    for article in seeded["articles"][:2]:  # 2 articles and the post of Ada's 5 stored documents
        warehouse.delete(ArticleDocument, _id=article.id)
    warehouse.delete(PostDocument, _id=seeded["post"].id)

    with pytest.raises(bookkeeping.MassRemovalRefused) as error:
        _run(warehouse, edge_store, factory, "Ada Lovelace", "Grace Hopper")
    message = str(error.value)
    assert "Ada Lovelace: 3 of 5 stored documents" in message and "Grace Hopper" not in message
    assert "mass_removal_threshold 50%" in message and "--set allow_mass_removal=true" in message
    assert store_count(edge_store) == 6 and edge_store.count(ARTICLES) == chunks_before  # nothing written

    lenient = _config("Ada Lovelace").model_copy(update={"mass_removal_threshold": 0.7})
    assert _run(warehouse, edge_store, factory, config=lenient).cleaning.counts["removed"] == 3
    assert store_count(edge_store) == 3  # Ada's article and repository, Grace's article


def test_an_author_with_no_documents_left_keeps_features_unless_removal_is_allowed(
    warehouse, edge_store, embedder
):
    seeded = _seed(warehouse)
    factory = Factory(embedder)
    _run(warehouse, edge_store, factory, "Grace Hopper")
    warehouse.delete(ArticleDocument, author_id=seeded["grace"].id)  # the user is known, her writing is not
    with pytest.raises(bookkeeping.MassRemovalRefused, match="Grace Hopper: 1 of 1 stored documents"):
        _run(warehouse, edge_store, factory, "Grace Hopper")
    assert store_count(edge_store) == 1
    allowed = _config("Grace Hopper").model_copy(update={"allow_mass_removal": True})
    assert _run(warehouse, edge_store, factory, config=allowed).cleaning.counts["removed"] == 1
    assert store_count(edge_store) == 0 and edge_store.count(ARTICLES) == 0


# -- the ZenML pipeline ------------------------------------------------------------------


def _run_pipeline(*args: str):
    return run_cli("feature-engineering", *args)


@pytest.mark.e2e
def test_the_zenml_pipeline_runs_incrementally_and_refuses_unknown_authors(project_env, tmp_path, embedder):
    from llm_engineering.settings import get_settings

    seeded = _seed(project_env)
    config = tmp_path / "features.yaml"
    config.write_text(yaml.safe_dump({"author_full_names": ["Ada Lovelace"]}), encoding="utf-8")

    first = _run_pipeline("--config", str(config))
    assert first.exit_code == 0, first.output
    assert "clean_documents: 6 documents" in first.output and "5 new, 0 changed, 0 unchanged" in first.output
    assert "chunk_and_embed: embedded 5 documents as" in first.output
    with QdrantEdgeStore(get_settings().vector_store_dir) as store:
        assert store.count(ARTICLES) >= 3 and store.count(POSTS) == 1 and store.count(REPOS) == 1
        assert _pending(store, seeded["ada"].id, FeatureEngineeringConfig()) == []

    from zenml.client import Client

    run = Client().get_pipeline(name_id_or_prefix="feature_engineering").last_run
    steps = Client().get_pipeline_run(run.id).steps
    assert steps["clean_documents"].run_metadata["documents"]["new"] == 5
    assert steps["chunk_and_embed"].run_metadata["encode_seconds"] > 0
    # The steps hand on ids, hashes and counts: neither the text nor the vectors reach the artifact store.
    stored = artifact_files(steps)
    assert set(stored) == {"documents", "cleaning_report", "embedding_report"}
    text = "Feature pipelines clean, chunk and embed documents"
    assert not any(text.encode() in data for files in stored.values() for data in files)
    assert sum(len(data) for files in stored.values() for data in files) < 8 * 1024

    second = _run_pipeline("--config", str(config))
    assert second.exit_code == 0, second.output
    assert "0 new, 0 changed, 5 unchanged, 0 removed" in second.output
    assert "chunk_and_embed: nothing to embed" in second.output

    unknown = _run_pipeline("--config", str(config), "--set", "author_full_names=[Nobody Here]")
    assert unknown.exit_code == 1 and "run failed" in unknown.output


PROMO = "Check out the full-fledged version of the article on our Medium publication. It's FREE"


def test_a_promotional_line_repeated_across_an_authors_documents_is_dropped(warehouse, edge_store, embedder):
    ada, _ = warehouse.get_or_create(UserDocument, first_name="Ada", last_name="Lovelace")

    def article(slug: str, promo: bool) -> ArticleDocument:
        body = _paragraphs(slug) + (f"\n\n{PROMO}" if promo else "")
        return ArticleDocument(
            content={
                "Title": slug.title(),
                "Subtitle": "",
                "Content": f"{PROMO}\n\n{body}" if promo else body,
            },
            platform="blog.example",
            author_id=ada.id,
            author_full_name=ada.full_name,
            link=f"https://blog.example/{slug}",
        )

    warehouse.bulk_insert([article(slug, promo=True) for slug in ("looms", "engines", "numbers")])
    factory = Factory(embedder)
    first = _run(warehouse, edge_store, factory, "Ada Lovelace")
    assert first.cleaning.new == 3
    texts = [d.content for d in iter_cleaned_documents(edge_store)]
    assert all("Medium publication" not in text and "Feature pipelines clean" in text for text in texts)

    # The line was boilerplate only because it repeats: with one fewer promo it is still repeated in
    # three of four documents; a new article without it leaves the others' versions unchanged.
    warehouse.bulk_insert([article("cards", promo=False)])
    second = _run(warehouse, edge_store, factory, "Ada Lovelace")
    assert (second.cleaning.new, second.cleaning.unchanged) == (1, 3)
    assert _run(warehouse, edge_store, factory, "Ada Lovelace").cleaning.unchanged == 4
