"""`flask --app hub keys ...`: the keys that encrypt children's (and every other) personal fields
and index them for search."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from hub import config
from hub.audit.context import cli_origin
from hub.people.service import reindex_children, rotate_keys

group = AppGroup("keys", help="Encryption keys.")


@group.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every encrypted field with the first key in HUB_FIELD_KEYS."""
    cli_origin()
    click.echo(f"Re-encrypted {rotate_keys()} fields with the current key.")


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
