"""Start, stop and report the embedded local services.

Usage: ``python -m tools.local_infrastructure up|down|status [--no-zenml]``.
"""

from __future__ import annotations

import sys

import click

from llm_engineering.infrastructure.local_services import ServiceError, WarehouseServer, ZenMLServer
from llm_engineering.settings import get_settings


def _services(with_zenml: bool) -> list[WarehouseServer | ZenMLServer]:
    """The embedded warehouse (unless DATABASE_HOST points elsewhere) and the ZenML dashboard."""
    settings = get_settings()
    services: list[WarehouseServer | ZenMLServer] = []
    if settings.uses_embedded_warehouse:
        services.append(WarehouseServer(data_dir=settings.warehouse_dir))
    else:
        click.echo(f"DATABASE_HOST is {settings.database_host}: the embedded warehouse is not managed here")
    if with_zenml:
        services.append(ZenMLServer(port=settings.zenml_server_port))
    return services


@click.group()
def cli() -> None:
    """The embedded document warehouse (nx-27017) and the ZenML dashboard."""


@cli.command()
@click.option("--zenml/--no-zenml", default=True, help="Also start the ZenML dashboard.")
def up(zenml: bool) -> None:
    """Start the local services; a service already running is left as it is."""
    for service in _services(zenml):
        try:
            click.echo(service.start().line())
        except ServiceError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@cli.command()
@click.option("--zenml/--no-zenml", default=True, help="Also stop the ZenML dashboard.")
def down(zenml: bool) -> None:
    """Stop the local services started by `up`."""
    for service in _services(zenml):
        stopped = service.stop()
        click.echo(f"{type(service).__name__}: {'stopped' if stopped else 'was not running'}")


@cli.command()
def status() -> None:
    """Report each local service: running or stopped, and where."""
    for service in _services(True):
        click.echo(service.status().line())


if __name__ == "__main__":
    cli()
