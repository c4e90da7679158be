"""Pages for the police daily download: upload, progress, row errors, the review queue and the
column mapping (a thin blueprint: the rules are in hub/missing/imports.py)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("missing_import", __name__, url_prefix="/missing/import")
