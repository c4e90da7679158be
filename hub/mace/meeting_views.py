"""MACE pages: Meetings, agendas (with proposals), attendance, minutes, agency updates and risk levels."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("mace_meetings", __name__, url_prefix="/mace")
