"""`flask --app hub keys ...`: the keys that encrypt children's (and every other) personal fields
and index them for search."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from hub import backup, config
from hub.audit.context import cli_origin
from hub.people.service import reindex_children, rotate_keys

group = AppGroup("keys", help="Encryption keys.")


@group.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every child's data key, and re-encrypt every field under the field keys, with the
    first key in HUB_FIELD_KEYS."""
    cli_origin()
    click.echo(f"Re-wrapped or re-encrypted {rotate_keys()} data keys and fields with the current key.")


@group.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path))
def keys_backup(out: Path) -> None:
    """The children's data keys (wrapped by the field keys), apart from `db backup`: keep only the latest."""
    try:
        count = backup.backup_keys(current_app.extensions["hub_engine"], out)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Saved {count} children's data keys to {out}. Keep only this latest copy: a key destroyed "
               "since must survive nowhere.")


@group.command("reindex")
def keys_reindex() -> None:
    """Rewrite the children's keyed search indexes (after an upgrade or a new HUB_BLIND_INDEX_KEY)."""
    cli_origin()
    click.echo(f"Reindexed {reindex_children()} children for search.")


@group.command("generate")
def keys_generate() -> None:
    """Print new keys for a production configuration."""
    keys = config.new_secrets()
    click.echo(f"HUB_SECRET_KEY={keys['secret_key']}")
    click.echo(f"HUB_FIELD_KEYS={keys['field_key']}")
    click.echo(f"HUB_BLIND_INDEX_KEY={keys['blind_index_key']}")
    click.echo("HUB_AUDIT_SIGNING_KEY: save this PEM to a file and set the variable to its path:")
    click.echo(keys["audit_signing_key"])


def register(app: Flask) -> None:
    app.cli.add_command(group)
