"""`flask --app hub missing ...` commands: import the police daily download, write the template,
recompute the stored deadlines."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from hub import db
from hub.audit.context import cli_origin
from hub.auth import organisations as auth_organisations
from hub.config import lower_priority_of_background_work
from hub.errors import HubError
from hub.missing import deadlines
from hub.missing.imports import batches as import_batches
from hub.missing.imports import mapping as import_mapping
from hub.missing.imports import rows as import_rows
from hub.missing.imports.download import Limits
from hub.models.auth import User
from hub.models.roles import OrgKind
from hub.permissions import is_officer_of

group = AppGroup("missing", help="Missing episodes and the police daily download.")


@group.command("import")
@click.argument("path", metavar="FILE.xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", "force_code", required=True, metavar="CODE", help="The police force's organisation code.")
@click.option("--as", "email", required=True, metavar="EMAIL",
              help="A police officer of that force: the audit log names them as the importer.")
def import_command(path: Path, force_code: str, email: str) -> None:
    """Import a police daily download (xlsx) for a force, showing progress."""
    cli_origin()
    lower_priority_of_background_work(current_app.config["HUB"])
    actor = _officer(force_code, email)
    limits = Limits.from_env()
    # Refuse an oversized file before reading it into memory (the import checks again).
    if os.path.getsize(path) > limits.max_bytes:
        raise click.ClickException(f"The file is larger than {limits.max_bytes // (1024 * 1024)} MB: split it")
    bar = _Progress()
    try:
        batch = import_batches.import_file(actor, path.read_bytes(), path.name, limits, progress=bar.update)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        bar.close()
    summary = import_batches.summary_of(batch)
    if batch.status.value == "failed":
        raise click.ClickException(f"Import {batch.id} failed: {summary.get('failure', 'unknown reason')}")
    counts = ", ".join(f"{key} {summary.get(key, 0)}" for key in import_rows.COUNT_KEYS)
    click.echo(f"Import {batch.id} done: {batch.rows_total} rows: {counts}.")
    errors = import_batches.errors_of(batch)
    for error in errors:
        click.echo(f"  row {error['row']}: {error['reason']}", err=True)
    if summary.get("review"):
        click.echo(f"{summary['review']} rows wait for review at /missing/import/review.")


@group.command("deadlines")
def deadlines_command() -> None:
    """Recompute every episode's stored deadlines from hub.missing.rules (after a change to the
    rules; the write paths keep them up to date otherwise). Changes nothing that is right."""
    with db.unit_of_work() as session:
        changed = deadlines.refresh_all(session.connection())
    click.echo(f"Stored deadlines recomputed: {changed} episodes changed.")


class _Progress:
    """click's progress bar, started once the number of rows is known."""

    def __init__(self) -> None:
        self._bar = None
        self._done = 0

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=max(total, 1), label="Importing rows", show_pos=True)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _officer(force_code: str, email: str) -> User:
    force = auth_organisations.organisation_by_code(force_code)
    if force is None or force.kind != OrgKind.police:
        raise click.ClickException(f"No police force has the code {force_code!r}")
    user = db.session().scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if not is_officer_of(user, force.id):
        raise click.ClickException(f"{email} is not an active police officer of {force.name}")
    return user


@group.command("template")
@click.argument("out", metavar="OUT.xlsx", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--force", "force_code", default=None, metavar="CODE",
              help="Use this force's own column headings instead of the hub's.")
def template_command(out: Path, force_code: str | None) -> None:
    """Write the blank download template, with a Guidance sheet describing each column."""
    force_id = None
    if force_code:
        force = auth_organisations.organisation_by_code(force_code)
        if force is None or force.kind != OrgKind.police:
            raise click.ClickException(f"No police force has the code {force_code!r}")
        force_id = force.id
    out.write_bytes(import_mapping.template(force_id))
    click.echo(f"Template written to {out}.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
