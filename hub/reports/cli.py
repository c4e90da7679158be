"""`flask --app hub reports ...`: the annual report from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from hub.audit.context import cli_origin
from hub.errors import Invalid
from hub.reports import annual

group = AppGroup("reports", help="Reports: the annual picture of missing.")


@group.command("annual")
@click.option("--year", required=True, type=int, help="The year ending 31 March: 2026 is April 2025 to March 2026.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The workbook to write (.xlsx).")
def annual_command(year: int, out: Path) -> None:
    """Write the year's annual report for the whole area (small numbers suppressed)."""
    cli_origin()  # audited with the cli channel, as every command is
    try:
        report = annual.build_for_command_line(year, progress=_progress)
    except Invalid as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from exc
    out.write_bytes(report.content)
    click.echo(f"Wrote the {year} annual report ({', '.join(report.sheets)}) to {out}.")


def _progress(done: int, total: int, label: str) -> None:
    click.echo(f"[{done}/{total}] {label}")


def register(app: Flask) -> None:
    app.cli.add_command(group)
