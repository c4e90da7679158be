"""Command-line commands: `flask --app hub <group> <command>`. Each package's commands live with
the package's service; this module only wires them to click."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from hub.audit.context import Origin, new_request_id, set_origin


def _cli_origin() -> None:
    set_origin(Origin(request_id=f"cli-{new_request_id()[:12]}", channel="cli"))


def register(app: Flask) -> None:
    from hub.api import cli as api_cli
    from hub.missing import cli as missing_cli
    from hub.notifications import cli as notifications_cli

    api_cli.register(app)
    missing_cli.register(app)
    notifications_cli.register(app)

    @app.cli.command("demo-data")
    def demo_data():
        """Load the fictional Northbridge locality and print every demo sign-in."""
        from hub import demo

        from hub.audit.service import latest_tree_head, sign_tree_head, tree_size

        from hub.people import service as people

        _cli_origin()
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

        _cli_origin()
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

        _cli_origin()
        click.echo(f"Re-encrypted {rotate_keys()} fields with the current key.")

    @keys_group.command("reindex")
    def keys_reindex():
        """Rewrite the children's keyed search indexes (after an upgrade or a new HUB_BLIND_INDEX_KEY)."""
        from hub.people.service import reindex_children

        _cli_origin()
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
    register_audit(app)


def register_audit(app: Flask) -> None:
    audit_group = AppGroup("audit", help="The audit log: verify, export, sign tree heads.")

    @audit_group.command("verify")
    @click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
                  help="A tree head saved earlier (tree-head JSON or an export file).")
    @click.option("--fast", is_flag=True, help="Check hashes, tree and signatures only, not each event's fields.")
    def audit_verify(against, fast):
        """Recompute the tree from every event and check every signed tree head."""
        from hub.audit.service import signing_key
        from hub.audit.verification import verify_log
        from hub.audit import dpo

        _cli_origin()
        saved = _read_saved_head(against) if against else None
        result = verify_log(signing_key().public_key(), against=saved, fast=fast)
        for problem in result.problems:
            click.echo(f"FAIL: {problem}", err=True)
        if result.ok:
            click.echo(f"OK: {result.tree_size} entries, {result.heads_checked} signed tree heads verified.")
        else:
            first = result.first_bad_entry
            click.echo(f"The audit log does NOT verify: {result.problems[0]}"
                       + (f" (first bad entry {first})" if first is not None else ""), err=True)
        # Only now, with the answer given, does the check record itself (when the log can take it).
        dpo.record_verification(result, by=None)
        if not result.appendable:
            click.echo("This check is not in the audit log: the log cannot be extended until it is restored.",
                       err=True)
        if not result.ok:
            raise SystemExit(1)

    @audit_group.command("export")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
    @click.option("--child", "child_id", type=int)
    @click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]))
    def audit_export(out, child_id, date_from, date_to):
        """Write a signed JSON export that `python -m hub.audit.verify FILE` checks offline."""
        import json

        from hub.audit import dpo

        _cli_origin()
        data = dpo.export_json(None, child_id=child_id, date_from=date_from and date_from.date(),
                               date_to=date_to and date_to.date())
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
        click.echo(f"Wrote {len(data['entries'])} entries, tree size {data['tree_head']['tree_size']}, to {out}")

    @audit_group.command("sign")
    @click.option("--every", type=int, default=0, help="Keep signing every N seconds (a scheduler).")
    def audit_sign(every):
        """Sign a tree head now (and, with --every, on a schedule)."""
        import time

        from hub.audit.service import sign_tree_head
        from hub import db

        while True:
            head = sign_tree_head()
            click.echo(f"Signed tree head: size {head.tree_size} at {head.timestamp}")
            db.session.remove()
            if not every:
                break
            time.sleep(every)

    @audit_group.command("tree-head")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
    def audit_tree_head(out):
        """Save the latest signed tree head, for a later `audit verify --against`."""
        import json

        from hub.audit.export import tree_head_json
        from hub.audit.service import latest_tree_head, sign_tree_head

        head = latest_tree_head() or sign_tree_head()
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(tree_head_json(head), handle, indent=1)
        click.echo(f"Saved tree head of size {head.tree_size} to {out}")

    app.cli.add_command(audit_group)


def _read_saved_head(path: str):
    import base64
    import json

    from hub.audit.verification import SavedHead

    try:
        data = json.loads(open(path, encoding="utf-8").read())
        head = data.get("tree_head", data)
        return SavedHead(tree_size=int(head["tree_size"]), root_hash=base64.b64decode(head["root_hash"]),
                         timestamp=str(head["timestamp"]), signature=base64.b64decode(head["signature"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.ClickException(f"{path} is not a saved tree head: {exc}") from exc
