"""Command-line commands: `flask --app hub <group> <command>`. Each package registers its own
(`hub/<package>/cli.py`); this module wires them to the app and holds the hub's own: the database
(`db`) and the demo data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from hub import backup, demo
from hub import worker as notifications_cli
from hub.admin import cli as admin_cli
from hub.api import cli as api_cli
from hub.audit.context import cli_origin
from hub.audit.tree_heads import latest_tree_head, sign_tree_head, tree_size
from hub.dpo import cli as audit_cli
from hub.migrate import upgrade
from hub.missing import cli as missing_cli
from hub.people import cli as people_cli
from hub.people import service as people
from hub.reports import cli as reports_cli
from hub.retention import cli as retention_cli

PACKAGES = (api_cli, missing_cli, notifications_cli, reports_cli, retention_cli, admin_cli, people_cli, audit_cli)


def register(app: Flask) -> None:
    for package in PACKAGES:
        package.register(app)
    app.cli.add_command(demo_data)
    app.cli.add_command(db_group)


@click.command("demo-data")
@with_appcontext
def demo_data() -> None:
    """Load the fictional Northbridge locality and print every demo sign-in."""
    if current_app.config["HUB"].env == "production":
        # Its accounts' passwords and second-factor secrets are published in the README.
        raise click.ClickException("demo-data refuses HUB_ENV=production: the demo accounts' sign-ins are public")
    cli_origin()
    if people.search_index_stale():  # a demo database made before search by prefix and sound
        people.reindex_children()
    logins = demo.run()
    latest = latest_tree_head()
    if latest is None or latest.tree_size < tree_size():
        # A fresh hub is never without a signed head: removing its last entries would show.
        latest = sign_tree_head()
    click.echo("Demo data loaded: the Northbridge locality is FICTIONAL; no real person is in it.\n")
    click.echo("Sign in at /auth/sign-in with an e-mail and the password below, then a TOTP code from the")
    click.echo("secret (add the otpauth URI to an authenticator app, or compute it with pyotp).\n")
    for login in logins:
        click.echo(f"{login.email}\n    role: {login.roles}\n    organisation: {login.organisation}\n"
                   f"    password: {login.password}\n    totp secret: {login.totp_secret}\n"
                   f"    otpauth: {login.otpauth_uri}")
    client_id, secret = demo.DEMO_API_CLIENT
    click.echo(f"\nAPI client of Northbridge Police (see README, API for agency systems):\n"
               f"    client id: {client_id}\n    client secret: {secret}\n"
               f"    scopes: episodes:read episodes:write")
    click.echo(f"\nAudit log: signed tree head of size {latest.tree_size}.")


db_group = AppGroup("db", help="Database schema (Alembic migrations).")


@db_group.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema to the latest migration."""
    upgrade(current_app, revision)
    click.echo(f"Database upgraded to {revision}.")


@db_group.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path))
def db_backup(out: Path) -> None:
    """A consistent copy of the database while the hub runs (SQLite's online backup, pg_dump)."""
    _as_click_error(backup.backup, current_app.extensions["hub_engine"], out)
    click.echo(f"Backed up the database to {out}, without the children's data keys: back them up with "
               "`keys backup` (keep only the latest). Keep the latest signed tree head "
               "(`audit tree-head`) apart from it: a restore is checked against it.")


@db_group.command("restore")
@click.option("--from", "backup_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--keys", "keys_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The latest `keys backup`: the children's data keys (without it no child's field reads).")
def db_restore(backup_file: Path, keys_file: Path | None) -> None:
    """Restore a backup into this hub's database, which must be empty (a fresh database)."""
    _as_click_error(backup.restore, current_app.extensions["hub_engine"], backup_file, keys_file)
    click.echo(f"Restored {backup_file}. Now check the log against the latest tree head kept outside "
               "the database: `flask --app hub audit verify --against HEAD.json`.")


def _as_click_error(step: Callable[..., object], *args: object) -> None:
    """Run a backup step; its refusal is the command's one-line error, not a traceback."""
    try:
        step(*args)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
