"""`flask --app hub api ...` commands: API clients for agency systems."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

group = AppGroup("api", help="API clients for agency systems (OAuth2 client credentials).")


def register(app: Flask) -> None:
    app.cli.add_command(group)
