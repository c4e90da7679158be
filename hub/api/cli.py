"""`flask --app hub api ...` commands: API clients for agency systems."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from hub.api import service
from hub.audit.context import cli_origin
from hub.errors import HubError, Invalid

group = AppGroup("api", help="API clients for agency systems (OAuth2 client credentials).")


@group.command("create-client")
@click.option("--org", "org_code", required=True, help="The organisation's code (a police force)")
@click.option("--name", required=True, help="What the client is, e.g. 'Force case system'")
@click.option("--scopes", default="episodes:read episodes:write", show_default=True,
              help="Space-separated scopes")
def create_client(org_code: str, name: str, scopes: str) -> None:
    """Create a client and print its id and secret (the secret is shown this once only)."""
    cli_origin()
    try:
        new = service.create_client(org_code, name, scopes)
    except Invalid as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from None
    click.echo(f"client_id: {new.client.client_id}")
    click.echo(f"client_secret: {new.secret}")
    click.echo(f"scopes: {new.client.scopes}")
    click.echo("Keep the secret in the agency system's secret store: the hub keeps only its hash.")


@group.command("list-clients")
def list_clients() -> None:
    """Every client: id, organisation, scopes, active or revoked."""
    for client in service.list_clients():
        state = "active" if client.active else "revoked"
        click.echo(f"{client.client_id}\t{client.organisation.code}\t{client.scopes}\t{state}\t{client.name}")


@group.command("revoke-client")
@click.argument("client_id")
def revoke_client(client_id: str) -> None:
    """Deactivate a client and revoke all its tokens at once."""
    cli_origin()
    try:
        service.revoke_client(client_id)
    except HubError:
        raise click.ClickException(f"No client {client_id}") from None
    click.echo(f"Revoked {client_id} and its tokens.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
