"""Retrieval over the shared handbook corpus, embedded once per test session (about a minute on 2
cores), and over the demo's two authors, crawled and embedded the way the demo does it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from llm_engineering.application.features import flow
from llm_engineering.application.features.reports import FeatureRunReport
from llm_engineering.application.rag.retrieval import NoEmbeddedChunks, search, search_many
from llm_engineering.configs.features import FeatureEngineeringConfig
from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.infrastructure.embeddings import (
    SentenceTransformerEmbedder,
    default_model_path,
    load_embedder,
)
from llm_engineering.infrastructure.local_services import WarehouseServer
from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore
from llm_engineering.infrastructure.warehouse import connect
from llm_engineering.infrastructure.warehouse_json import import_warehouse

pytestmark = pytest.mark.integration

TITLED_LINKS = [
    "2024-07-29_Finetune_Llama31",
    "4-bit-quantization-with-gptq",
    "graph-attention-networks",
    "constraint-programming",
    "q-learning-for-beginners",
    "reduce-your-pytorchs-code-latency",
    "the-new-king-of-infrastructure-as",
    "medium.com/decodingml/sota-python-streaming-pipelines",
]
"""Link fragments of the articles whose titles are searched."""


@dataclass(frozen=True)
class EmbeddedCorpus:
    state_dir: Path
    titles: dict[str, str]  # link -> title
    report: FeatureRunReport

    @property
    def store_dir(self) -> Path:
        return self.state_dir / "qdrant"  # Settings.vector_store_dir of state_dir


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return load_embedder(default_model_path())


@pytest.fixture(scope="session")
def embedded_corpus(
    warehouse_server: WarehouseServer,
    shared_corpus: Path,
    embedder: SentenceTransformerEmbedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EmbeddedCorpus]:
    """The shared corpus imported into its own warehouse database and run through the feature flow."""
    name = f"corpus_{uuid.uuid4().hex[:8]}"
    state_dir = tmp_path_factory.mktemp("corpus-state")
    with connect(warehouse_server.uri, name) as warehouse:
        import_warehouse(warehouse, shared_corpus)
        titles = {d.link: d.content["Title"] for d in warehouse.find(ArticleDocument)}
        config = FeatureEngineeringConfig(author_full_names=["Maxime Labonne", "Paul Iusztin"])
        with QdrantEdgeStore(state_dir / "qdrant") as store:
            report = flow.run_feature_flow(
                warehouse=warehouse,
                store=store,
                embedder=lambda: embedder,
                model_name=embedder.model_id,
                config=config,
                progress=False,
            )
        yield EmbeddedCorpus(state_dir=state_dir, titles=titles, report=report)
        warehouse.database.client.drop_database(name)


@pytest.fixture
def store(embedded_corpus: EmbeddedCorpus) -> Iterator[QdrantEdgeStore]:
    with QdrantEdgeStore(embedded_corpus.store_dir) as opened:
        yield opened


def _link(corpus: EmbeddedCorpus, fragment: str) -> str:
    (link,) = [link for link in corpus.titles if fragment in link]
    return link


def test_the_whole_corpus_is_embedded(embedded_corpus, store):
    report = embedded_corpus.report
    assert report.cleaning.counts["new"] == 76 and report.cleaning.counts["failed"] == 0
    assert report.embedding.max_chunk_tokens <= 256
    assert store.count("embedded_articles") == report.embedding.chunks > 76
    assert store.count("cleaned_articles") == 76


def test_searching_an_article_title_finds_that_article_in_the_top_5(embedded_corpus, store, embedder):
    links = [_link(embedded_corpus, fragment) for fragment in TITLED_LINKS]
    queries = [embedded_corpus.titles[link] for link in links]
    results = search_many(queries, store=store, embedder=embedder, k=5)
    misses = {
        query: [hit.link for hit in hits]
        for query, link, hits in zip(queries, links, results, strict=True)
        if link not in {hit.link for hit in hits}
    }
    assert not misses, misses


def test_an_author_filter_returns_only_that_authors_chunks(store, embedder):
    query = "graph neural networks and message passing"
    unfiltered = search(query, store=store, embedder=embedder, k=5)
    assert {h.author_full_name for h in unfiltered} == {"Maxime Labonne"}
    # Paul wrote nothing on GNNs, yet the filter runs in the store: still 5 hits, all his.
    paul = search(query, store=store, embedder=embedder, k=5, author_full_name="Paul Iusztin")
    assert len(paul) == 5 and {h.author_full_name for h in paul} == {"Paul Iusztin"}
    assert [h.score for h in paul] == sorted((h.score for h in paul), reverse=True)
    assert search(query, store=store, embedder=embedder, k=5, author_full_name="Nobody Here") == []


def test_a_category_filter_searches_only_that_collection(store, embedder):
    hits = search("streaming pipelines", store=store, embedder=embedder, k=3, categories=["articles"])
    assert len(hits) == 3 and {h.category for h in hits} == {"articles"}
    assert search("streaming pipelines", store=store, embedder=embedder, categories=["posts"]) == []


def test_an_empty_store_says_to_run_the_pipeline(tmp_path, embedder):
    with (
        QdrantEdgeStore(tmp_path / "empty") as empty,
        pytest.raises(NoEmbeddedChunks, match="run `poe run-feature"),
    ):
        search("anything", store=empty, embedder=embedder)


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def cli_env(
    embedded_corpus: EmbeddedCorpus, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """Settings pointing at the embedded corpus's state folder (its Edge store)."""
    from llm_engineering.settings import get_settings

    monkeypatch.setenv("STATE_DIR", str(embedded_corpus.state_dir))
    monkeypatch.setenv("LLM_TWIN_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.delenv("QDRANT_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _rag(*args: str):
    from tools.rag import cli

    return CliRunner().invoke(cli, ["search", *args], catch_exceptions=False)


def test_rag_search_prints_scored_hits(cli_env, embedded_corpus):
    result = _rag("4-bit Quantization with GPTQ", "--k", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1. score 0.")
    assert (
        "Maxime Labonne | articles | " + _link(embedded_corpus, "4-bit-quantization-with-gptq")
        in result.stdout
    )
    assert "2. score" in result.stdout and "3. score" not in result.stdout


def test_rag_search_json_has_the_documented_fields(cli_env):
    result = _rag(
        "feature store", "--author", "Paul  Iusztin", "--category", "articles", "--k", "3", "--json"
    )
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    hits = json.loads(line)
    assert len(hits) == 3
    for hit in hits:
        assert {"score", "author_full_name", "category", "link", "content"} <= set(hit)
        assert hit["author_full_name"] == "Paul Iusztin" and hit["category"] == "articles"


def test_rag_search_runs_a_queries_file_one_json_array_per_line(cli_env, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("quantization of weights\n\nreinforcement learning in Minecraft\n", encoding="utf-8")
    result = _rag("--queries-file", str(queries), "--k", "2")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [len(hits) for hits in lines] == [2, 0, 2]
    assert "minecraft" in lines[2][0]["link"].lower()


def test_rag_search_needs_a_query_or_a_file(cli_env):
    result = _rag()
    assert result.exit_code == 2 and "give either QUERY or --queries-file" in result.output


# -- the service's /rag against today's dense search ------------------------------------------


def test_rag_finds_the_source_article_at_least_as_often_as_dense_search(
    embedded_corpus, embedder, shared_corpus, warehouse_server
):
    from llm_engineering.application.rag.benchmark import handbook_pairs, hit_rate, label_questions
    from llm_engineering.serving.app import create_app
    from llm_engineering.serving.store import build_lexical_index
    from llm_engineering.settings import Settings
    from tests.serving_fixtures import API_KEY, LiveServer, auth

    dataset = json.loads((shared_corpus / "instruct_datasets.json").read_text(encoding="utf-8"))
    with QdrantEdgeStore(embedded_corpus.store_dir) as opened:
        lexical = build_lexical_index(opened)
        questions = label_questions(handbook_pairs(dataset), store=opened, lexical=lexical, embedder=embedder)
        dense = hit_rate(
            questions, lambda q: [hit.link for hit in search(q, store=opened, embedder=embedder, k=5)]
        )
    assert len(questions) >= 50  # held-out questions whose source article both signals agree on
    settings = Settings(
        _env_file=None,
        state_dir=embedded_corpus.state_dir,
        twin_backend="echo",
        serving_api_key=API_KEY,
        database_host=warehouse_server.uri,
        database_name="no_users_here",
    )
    with (
        LiveServer(create_app(settings)) as live,
        httpx.Client(base_url=live.url, headers=auth(), timeout=60) as http,
    ):

        def served(question: str) -> list[str]:
            body = http.post("/rag", json={"query": question, "k": 5, "generate": False}).json()
            return [item["link"] for item in body["context"]]

        hybrid = hit_rate(questions, served)
    print(
        f"hit rate at 5 on {len(questions)} held-out questions: /rag {hybrid:.3f}, dense search {dense:.3f}"
    )
    assert hybrid >= dense


# -- the demo's two authors: serving picks the author the question names ------------------

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
MAYA, THEO = "Maya Lindqvist", "Theo Castellanos"


@dataclass(frozen=True)
class DemoPair:
    store_dir: Path
    chunks_by_author: dict[str, int]


@pytest.fixture(scope="module")
def demo_pair(
    warehouse_server: WarehouseServer,
    embedder: SentenceTransformerEmbedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DemoPair]:
    """Both demo authors' files (every format) read by the local-file crawler, then the feature flow."""
    from llm_engineering.domain.documents import UserDocument
    from llm_engineering.infrastructure.crawlers.local_file import LocalFileCrawler

    name = f"demo_pair_{uuid.uuid4().hex[:8]}"
    state_dir = tmp_path_factory.mktemp("demo-pair")
    crawler = LocalFileCrawler()
    with connect(warehouse_server.uri, name) as warehouse:
        for author, folder in ((MAYA, DEMO), (THEO, DEMO / "theo-castellanos")):
            first, last = UserDocument.split_full_name(author)
            user, _ = warehouse.get_or_create(UserDocument, first_name=first, last_name=last)
            files = sorted(p for sub in ("articles", "posts") for p in (folder / sub).iterdir())
            warehouse.bulk_insert([doc for path in files for doc in crawler.crawl(str(path), user=user)])
        with QdrantEdgeStore(state_dir / "qdrant") as store:
            flow.run_feature_flow(
                warehouse=warehouse,
                store=store,
                embedder=lambda: embedder,
                model_name=embedder.model_id,
                config=FeatureEngineeringConfig(author_full_names=[MAYA, THEO]),
                progress=False,
            )
            counts = {
                author: len(search("the", store=store, embedder=embedder, k=10_000, author_full_name=author))
                for author in (MAYA, THEO)
            }
        yield DemoPair(store_dir=state_dir / "qdrant", chunks_by_author=counts)
        warehouse.database.client.drop_database(name)


@pytest.fixture
def served(demo_pair: DemoPair, embedder: SentenceTransformerEmbedder):
    """The retriever as the service builds it (hybrid, BM25 over the store's chunks), both authors known."""
    from llm_engineering.application.rag.hybrid import ContextRetriever
    from llm_engineering.serving.store import build_lexical_index

    with QdrantEdgeStore(demo_pair.store_dir) as store:
        lexical = build_lexical_index(store)
        retriever = ContextRetriever(embedder=embedder, known_authors=lambda: sorted(lexical.authors))

        def retrieve(question: str, *, default_author: str | None = MAYA, k: int = 5):
            return retriever.retrieve(
                question, store=store, lexical=lexical, k=k, default_author=default_author
            )

        yield retrieve


def _files(result) -> list[str]:
    return [Path(chunk.link).name for chunk in result.chunks]


def test_both_demo_authors_are_embedded(demo_pair):
    assert demo_pair.chunks_by_author[MAYA] > 20 and demo_pair.chunks_by_author[THEO] > 15


@pytest.mark.parametrize(
    ("question", "author", "top_file"),
    [
        ("What does Theo Castellanos think about beta in DPO?", THEO, "03-dpo-without-the-mystique.md"),
        (
            "How does Castellanos measure time to first token?",
            THEO,
            "05-streaming-tokens-is-a-ux-feature.html",
        ),
        ("What is Theo's advice on backfills?", THEO, "06-backfills-are-where-pipelines-go-to-die.txt"),
        ("What is Maya's take on LoRA on a laptop?", MAYA, "04-lora-on-a-laptop.md"),
        ("Why were Lindqvist's RAG answers wrong?", MAYA, "03-why-my-rag-answers-were-wrong.md"),
    ],
)
def test_the_named_author_is_the_filter_and_their_own_article_comes_first(served, question, author, top_file):
    result = served(question)
    assert result.author == author
    assert result.chunks and {chunk.author_full_name for chunk in result.chunks} == {author}
    assert _files(result)[0] == top_file, _files(result)


def test_a_question_naming_theo_on_mayas_topic_still_gets_only_theo(served):
    # Maya wrote the article on chunk sizes; unfiltered, it comes first ...
    unfiltered = served("How do you pick chunk sizes for a RAG system?", default_author=None)
    assert unfiltered.author is None and _files(unfiltered)[0] == "02-chunking-is-a-product-decision.md"
    # ... but a question naming Theo is answered from his writing alone.
    named = served("How does Theo Castellanos pick chunk sizes for a RAG system?")
    assert named.author == THEO and {c.author_full_name for c in named.chunks} == {THEO}


def test_a_question_naming_nobody_is_the_twins_author_and_two_names_are_no_filter(served):
    mine = served("How do I make rollback boring when I ship on a Friday?")
    assert mine.author == MAYA and {c.author_full_name for c in mine.chunks} == {MAYA}
    both = served("Compare Lindqvist and Castellanos on evaluating a model", default_author=None, k=10)
    assert both.author is None and {c.author_full_name for c in both.chunks} == {MAYA, THEO}
