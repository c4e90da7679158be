"""Pages of hub.notifications (a thin blueprint: every rule is in service.py)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
