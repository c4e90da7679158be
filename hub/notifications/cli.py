"""`flask --app hub notifications ...` commands."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

group = AppGroup("notifications", help="School notifications: delivery and escalation.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
