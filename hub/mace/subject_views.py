"""MACE pages: A group's subjects (locations, persons or peer groups of concern, links), its intelligence, and the network."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("mace_subjects", __name__, url_prefix="/mace")
