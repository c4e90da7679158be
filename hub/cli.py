"""Command-line commands: `flask --app hub <group> <command>`. Each package's commands live with
the package's service; this module only wires them to click."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from hub import backup
from hub.audit.context import cli_origin


def _as_click_error(step, *args) -> None:
    """Run a backup step; its refusal is the command's one-line error, not a traceback."""
    try:
        step(*args)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc


def register(app: Flask) -> None:
    from hub.api import cli as api_cli
    from hub.audit import cli as audit_cli
    from hub.missing import cli as missing_cli
    from hub.notifications import cli as notifications_cli

    api_cli.register(app)
    missing_cli.register(app)
    notifications_cli.register(app)
    from hub.reports import cli as reports_cli
    from hub.retention import cli as retention_cli

    reports_cli.register(app)
    retention_cli.register(app)

    @app.cli.command("demo-data")
    def demo_data():
        """Load the fictional Northbridge locality and print every demo sign-in."""
        if app.config["HUB"].env == "production":
            # Its accounts' passwords and second-factor secrets are published in the README.
            raise click.ClickException("demo-data refuses HUB_ENV=production: the demo accounts' sign-ins are public")
        from hub import demo

        from hub.audit.service import latest_tree_head, sign_tree_head, tree_size

        from hub.people import service as people

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
    def db_upgrade(revision: str):
        """Create or upgrade the schema to the latest migration."""
        from hub.migrate import upgrade

        upgrade(app, revision)
        click.echo(f"Database upgraded to {revision}.")

    @db_group.command("backup")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path))
    def db_backup(out: Path):
        """A consistent copy of the database while the hub runs (SQLite's online backup, pg_dump)."""
        _as_click_error(backup.backup, app.extensions["hub_engine"], out)
        click.echo(f"Backed up the database to {out}. Keep the latest signed tree head "
                   "(`audit tree-head`) apart from it: a restore is checked against it.")

    @db_group.command("restore")
    @click.option("--from", "backup_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
    def db_restore(backup_file: Path):
        """Restore a backup into this hub's database, which must be empty (a fresh database)."""
        _as_click_error(backup.restore, app.extensions["hub_engine"], backup_file)
        click.echo(f"Restored {backup_file}. Now check the log against the latest tree head kept outside "
                   "the database: `flask --app hub audit verify --against HEAD.json`.")

    app.cli.add_command(db_group)

    sso_group = AppGroup("sso", help="Single sign-on settings.")

    @sso_group.command("set")
    @click.argument("org_code")
    @click.option("--issuer", required=True)
    @click.option("--client-id", required=True)
    @click.option("--client-secret", required=True)
    @click.option("--disable", is_flag=True, help="Store the settings but turn sign-in off.")
    def sso_set(org_code, issuer, client_id, client_secret, disable):
        """Set ORG_CODE's OpenID Connect provider."""
        from hub.admin import service as admin
        from hub.errors import Invalid

        cli_origin()
        org = admin.organisation_by_code(org_code)
        if org is None:
            raise click.ClickException(f"No organisation has the code {org_code!r}")
        try:
            admin.set_sso(None, org.id, issuer, client_id, client_secret, enabled=not disable)
        except Invalid as exc:
            raise click.ClickException("; ".join(exc.errors.values())) from exc
        click.echo(f"Single sign-on set for {org.name}. Redirect URI: /auth/sso/{org.code}/callback")

    app.cli.add_command(sso_group)

    keys_group = AppGroup("keys", help="Encryption keys.")

    @keys_group.command("rotate")
    def keys_rotate():
        """Re-encrypt every encrypted field with the first key in HUB_FIELD_KEYS."""
        from hub.people.service import rotate_keys

        cli_origin()
        click.echo(f"Re-encrypted {rotate_keys()} fields with the current key.")

    @keys_group.command("reindex")
    def keys_reindex():
        """Rewrite the children's keyed search indexes (after an upgrade or a new HUB_BLIND_INDEX_KEY)."""
        from hub.people.service import reindex_children

        cli_origin()
        click.echo(f"Reindexed {reindex_children()} children for search.")

    @keys_group.command("generate")
    def keys_generate():
        """Print new keys for a production configuration."""
        import base64
        import secrets

        from cryptography.fernet import Fernet

        from hub.config import _new_signing_key_pem

        click.echo(f"HUB_SECRET_KEY={secrets.token_urlsafe(48)}")
        click.echo(f"HUB_FIELD_KEYS={Fernet.generate_key().decode()}")
        click.echo(f"HUB_BLIND_INDEX_KEY={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}")
        click.echo("HUB_AUDIT_SIGNING_KEY: save this PEM to a file and set the variable to its path:")
        click.echo(_new_signing_key_pem())

    app.cli.add_command(keys_group)
    audit_cli.register(app)
