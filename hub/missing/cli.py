"""`flask --app hub missing ...` commands."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

group = AppGroup("missing", help="Missing episodes and the police daily download.")


def register(app: Flask) -> None:
    app.cli.add_command(group)
