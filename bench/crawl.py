"""Benchmark: article pages crawled per second with one worker and with eight.

Serves generated article pages from a loopback fixture server that adds a fixed latency
to every request (a stand-in for the network), crawls them into a fresh nx-27017
warehouse database per run, and prints pages/s and the speed-up.

Run: ``python -m bench.crawl [--pages 100] [--latency-ms 20] [--workers 8]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from llm_engineering.application.crawlers.base import CrawlReport, LinkStatus
from llm_engineering.application.crawlers.flow import crawl_links
from llm_engineering.configs.etl import CrawlConfig
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.crawlers import build_dispatcher
from llm_engineering.infrastructure.local_services import WarehouseServer, free_port
from llm_engineering.infrastructure.warehouse import connect
from llm_engineering.settings import Settings
from tools.fixture_server import FixtureServer

_TOPICS = ["caching", "retries", "indexes", "queues", "backups", "schemas", "logging", "timeouts"]


def write_pages(folder: Path, count: int) -> list[str]:
    """Write ``count`` distinct article pages with boilerplate around them; their file names."""
    names = []
    for number in range(count):
        topic = _TOPICS[number % len(_TOPICS)]
        paragraphs = "\n".join(
            f"<p>Note {number}.{part} on {topic}: every change to {topic} is made in small steps, "
            f"measured before and after, and written down so that the next person can see why it was "
            f"made and undo it if the numbers say so. Step {part} of article {number}.</p>"
            for part in range(6)
        )
        html = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Lessons on {topic}, part {number}</title>"
            f'<meta name="description" content="Part {number} of a series on {topic}"></head><body>'
            f'<nav><a href="/">Home</a> <a href="/archive">Archive</a></nav>'
            f"<article><h1>Lessons on {topic}, part {number}</h1>{paragraphs}</article>"
            f"<footer>Subscribe for more. Privacy policy.</footer></body></html>"
        )
        name = f"article-{number:03d}.html"
        (folder / name).write_text(html, encoding="utf-8")
        names.append(name)
    return names


def run(*, links: list[str], uri: str, database: str, workers: int) -> CrawlReport:
    """Crawl ``links`` with ``workers`` threads into a fresh database ``database``."""
    settings = CrawlConfig(max_workers=workers, timeout_seconds=10, retries=0)
    with (
        connect(uri, database) as warehouse,
        build_dispatcher(settings, Settings(_env_file=None)) as dispatcher,
    ):
        user, _ = warehouse.get_or_create(UserDocument, first_name="Bench", last_name="Mark")
        report = crawl_links(
            links, user=user, warehouse=warehouse, dispatcher=dispatcher, settings=settings, progress=False
        )
        warehouse.database.client.drop_database(database)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="article pages to crawl (default 100)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to each request (default 20)")
    parser.add_argument("--workers", type=int, default=8, help="workers of the concurrent run (default 8)")
    args = parser.parse_args()
    os.environ.setdefault("SE_OFFLINE", "true")

    with tempfile.TemporaryDirectory(prefix="llm-twin-bench-") as tmp:
        site, data = Path(tmp) / "site", Path(tmp) / "warehouse"
        site.mkdir()
        names = write_pages(site, args.pages)
        server = WarehouseServer(data_dir=data, port=free_port())
        server.start()
        try:
            with FixtureServer(site, latency_seconds=args.latency_ms / 1000) as http:
                links = [http.url(name) for name in names]
                print(
                    f"{args.pages} generated article pages on {http.base_url} (threaded loopback server, "
                    f"{args.latency_ms:g} ms artificial latency per request to mimic a network); "
                    f"warehouse: nx-27017 at {server.uri}, one fresh database per run"
                )
                run(links=links[:2], uri=server.uri, database="bench_warmup", workers=1)  # imports, first use
                rates = {}
                for workers in (1, args.workers):
                    report = run(
                        links=links, uri=server.uri, database=f"bench_crawl_w{workers}", workers=workers
                    )
                    stored = report.count(LinkStatus.STORED)
                    rates[workers] = stored / report.seconds
                    print(
                        f"max_workers={workers:<2} {stored}/{len(links)} stored in {report.seconds:6.2f}s "
                        f"-> {rates[workers]:6.1f} pages/s"
                    )
                print(
                    f"speed-up with {args.workers} workers: x{rates[args.workers] / rates[1]:.2f} (cpu cores: {os.cpu_count()})"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
