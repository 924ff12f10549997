"""Start, stop and report the embedded local services.

Usage: ``python -m tools.local_infrastructure up|down|status [--no-zenml] [--api]``.
"""

from __future__ import annotations

import sys

import click

from llm_engineering.infrastructure.local_services import (
    ApiServer,
    ServiceError,
    ServiceStatus,
    WarehouseServer,
    ZenMLServer,
)
from llm_engineering.settings import get_settings
from tools.commands import serve_command

Service = WarehouseServer | ZenMLServer | ApiServer


def _services(
    *, with_warehouse: bool = True, with_zenml: bool = True, with_api: bool = False
) -> list[Service]:
    """The embedded warehouse (unless DATABASE_HOST points elsewhere), the ZenML dashboard and the API."""
    settings = get_settings()
    services: list[Service] = []
    if with_warehouse:
        if settings.uses_embedded_warehouse:
            services.append(WarehouseServer(data_dir=settings.warehouse_dir))
        else:
            click.echo(
                f"DATABASE_HOST is {settings.database_host}: the embedded warehouse is not managed here"
            )
    if with_zenml:
        services.append(ZenMLServer(port=settings.zenml_server_port))
    if with_api:
        services.append(
            ApiServer(
                state_dir=settings.state_dir / "serving",
                command=serve_command(),
                host=settings.serving_host,
                port=settings.serving_port,
            )
        )
    return services


def start_services(
    *, with_warehouse: bool = True, with_zenml: bool = True, with_api: bool = False
) -> list[ServiceStatus]:
    """Start the chosen services (each left alone when already running), print and return their status.

    Raises:
        ServiceError: a service could not start; the message says why.
    """
    statuses = []
    for service in _services(with_warehouse=with_warehouse, with_zenml=with_zenml, with_api=with_api):
        statuses.append(service.start())
        click.echo(statuses[-1].line())
    return statuses


@click.group()
def cli() -> None:
    """The embedded document warehouse (nx-27017), the ZenML dashboard and the inference API."""


@cli.command()
@click.option("--zenml/--no-zenml", default=True, help="Also start the ZenML dashboard.")
@click.option("--api/--no-api", default=False, help="Also start the inference API in the background.")
def up(zenml: bool, api: bool) -> None:
    """Start the local services; a service already running is left as it is."""
    try:
        start_services(with_zenml=zenml, with_api=api)
    except ServiceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@cli.command()
@click.option("--zenml/--no-zenml", default=True, help="Also stop the ZenML dashboard.")
def down(zenml: bool) -> None:
    """Stop the local services started by `up` (and the API started by `poe demo`)."""
    for service in _services(with_zenml=zenml, with_api=True):
        stopped = service.stop()
        click.echo(f"{type(service).__name__}: {'stopped' if stopped else 'was not running'}")


@cli.command()
def status() -> None:
    """Report each local service: running or stopped, and where."""
    for service in _services(with_api=True):
        click.echo(service.status().line())


if __name__ == "__main__":
    cli()
