"""Pages of hub.missing (a thin blueprint: every rule is in service.py)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("missing", __name__, url_prefix="/missing")
