"""MACE pages: Actions and disruption activity, each agency's outcomes, the member's own lists, and the per-agency export."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("mace_actions", __name__, url_prefix="/mace")
