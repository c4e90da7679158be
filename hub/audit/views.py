"""The audit log's public face: its public key (and, with the audit issue, the DPO's pages)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, current_app

from hub.web import public

bp = Blueprint("audit", __name__, url_prefix="/audit")


def public_key_pem() -> str:
    key = serialization.load_pem_private_key(current_app.config["HUB"].audit_signing_key_pem.encode(), None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@bp.route("/public-key")
@public
def public_key():
    """The Ed25519 key that signs tree heads: anyone may fetch it to check an export."""
    return Response(public_key_pem(), mimetype="application/x-pem-file")
