"""`flask --app hub retention ...`: the destruction worker's step, and dating records written
before retention existed.

    flask --app hub retention destroy            # destroy what DPOs approved (never what is held),
                                                 # purge operational data by age; certificates to the
                                                 # log (the delivery worker does this too)
    flask --app hub retention schedule-existing  # give every record without one its review date
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from hub.audit import integrator as audit_integrator
from hub.audit.context import cli_origin
from hub.db import unit_of_work
from hub.retention import purge, scheduling

group = AppGroup("retention", help="Retention: destruction of approved records, review dates.")


@group.command("destroy")
def destroy() -> None:
    """Destroy the records approved for destruction (not those under a legal hold) and operational data
    past its days (e-mails, sign-in attempts, sessions, download files)."""
    cli_origin()
    certificates = purge.destroy_and_purge()
    for c in certificates:
        click.echo(f"Destroyed {c.count} {c.record_class.value} record(s) under {c.rule!r} "
                   f"(organisation {c.organisation_id}, approved by {c.approved_by_user_id or 'the schedule'}).")
    if not certificates:
        click.echo("Nothing approved for destruction.")
    audit_integrator.integrate_all()


@group.command("schedule-existing")
def schedule_existing() -> None:
    """Give each share and episode written before retention existed its review date."""
    cli_origin()
    with unit_of_work():
        count = scheduling.schedule_existing()
    click.echo(f"Scheduled {count} record(s).")


def register(app: Flask) -> None:
    app.cli.add_command(group)
