"""Export or import the warehouse as per-class JSON files.

Usage: ``python -m tools.data_warehouse export|import --dir DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from llm_engineering.infrastructure.warehouse import open_warehouse
from llm_engineering.infrastructure.warehouse_json import (
    WarehouseImportError,
    export_warehouse,
    import_warehouse,
)

_DIR = click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the JSON files.",
)


@click.group()
def cli() -> None:
    """Move the document warehouse to and from JSON (the LLM Engineer's Handbook format)."""


@cli.command("export")
@_DIR
def export_command(directory: Path) -> None:
    """Write every collection to DIR/<Class>Document.json."""
    with open_warehouse() as warehouse:
        written = export_warehouse(warehouse, directory)
    click.echo(f"exported to {directory}: " + ", ".join(f"{name} {count}" for name, count in written.items()))


@cli.command("import")
@_DIR
def import_command(directory: Path) -> None:
    """Insert the documents of DIR's JSON files; documents already stored are skipped."""
    try:
        with open_warehouse() as warehouse:
            inserted = import_warehouse(warehouse, directory)
            totals = warehouse.counts()
    except (FileNotFoundError, WarehouseImportError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(
        f"imported from {directory}: "
        + ", ".join(f"{name} +{count}" for name, count in inserted.items())
        + " | warehouse now: "
        + ", ".join(f"{name} {count}" for name, count in totals.items())
    )


if __name__ == "__main__":
    cli()
