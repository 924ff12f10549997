"""Search the embedded chunks: ``python -m tools.rag search "QUERY" [--author NAME] [--category C] [--k 5] [--json]``.

``--queries-file PATH`` runs one query per line in one process (the model loads once) and
prints one JSON array per query, one per line, in the file's order (a blank line gives ``[]``).
The store is the one the settings name: Qdrant Edge under the state folder, or the Qdrant
server at ``QDRANT_URL``.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click

from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.types import DataCategory


def _print_hits(query: str, hits: list, *, author: str | None) -> None:
    if not hits:
        scope = f" by {author}" if author else ""
        click.echo(f"no chunks found{scope} for {query!r}")
        return
    for rank, hit in enumerate(hits, start=1):
        click.echo(f"{rank}. score {hit.score:.3f} | {hit.author_full_name} | {hit.category} | {hit.link}")
        if hit.title:
            click.echo(f"   {hit.title} (chunk {hit.index})")
        click.echo(textwrap.indent(hit.content.strip(), "   "))
        click.echo()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Retrieval over the feature store."""


@cli.command()
@click.argument("query", required=False)
@click.option("--author", help='Only chunks of this author ("First Last", as stored).')
@click.option(
    "--category",
    type=click.Choice([c.value for c in DataCategory]),
    help="Only chunks of this category (default: all).",
)
@click.option("--k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="Chunks to return.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of hits.")
@click.option(
    "--queries-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One query per line; prints one JSON array per query, one per line.",
)
def search(
    query: str | None,
    author: str | None,
    category: str | None,
    k: int,
    as_json: bool,
    queries_file: Path | None,
) -> None:
    """Print the K chunks closest to QUERY with score, author, category, link and text."""
    if (query is None) == (queries_file is None):
        raise click.UsageError("give either QUERY or --queries-file")
    queries = (
        queries_file.read_text(encoding="utf-8").splitlines() if queries_file is not None else [query or ""]
    )
    # Imported here so `--help` and usage errors answer at once, without torch.
    from llm_engineering.application.rag.retrieval import embedded_collections, search_many
    from llm_engineering.infrastructure.embeddings import build_embedder
    from llm_engineering.infrastructure.vector_stores import build_vector_store

    try:
        with build_vector_store() as store:
            embedded_collections(store, [category] if category else None)  # fail before loading the model
            results = search_many(
                queries,
                store=store,
                embedder=build_embedder(),
                k=k,
                author_full_name=" ".join(author.split()) if author else None,
                categories=[category] if category else None,
            )
    except LLMTwinError as exc:
        click.echo(f"search failed: {exc}", err=True)
        sys.exit(1)
    if queries_file is not None or as_json:
        for hits in results:
            click.echo(json.dumps([hit.to_json() for hit in hits], ensure_ascii=False))
        return
    _print_hits(queries[0], results[0], author=author)


if __name__ == "__main__":
    cli()
