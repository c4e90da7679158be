"""Pages of hub.api (a thin blueprint: every rule is in service.py)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
