"""`flask --app hub sso ...`: an organisation's single sign-on provider."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from hub.admin import service as admin
from hub.audit.context import cli_origin
from hub.auth import organisations as auth_organisations
from hub.errors import Invalid

group = AppGroup("sso", help="Single sign-on settings.")


@group.command("set")
@click.argument("org_code")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--disable", is_flag=True, help="Store the settings but turn sign-in off.")
def sso_set(org_code: str, issuer: str, client_id: str, client_secret: str, disable: bool) -> None:
    """Set ORG_CODE's OpenID Connect provider."""
    cli_origin()
    org = auth_organisations.organisation_by_code(org_code)
    if org is None:
        raise click.ClickException(f"No organisation has the code {org_code!r}")
    try:
        admin.set_sso(None, org.id, issuer, client_id, client_secret, enabled=not disable)
    except Invalid as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from exc
    click.echo(f"Single sign-on set for {org.name}. Redirect URI: /auth/sso/{org.code}/callback")


def register(app: Flask) -> None:
    app.cli.add_command(group)
