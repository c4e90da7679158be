"""The audit log's public face: its public key (and, with the audit issue, the DPO's pages)."""

from __future__ import annotations

from flask import Blueprint, Response

from hub.audit import export

from hub.web import public

bp = Blueprint("audit", __name__, url_prefix="/audit")




@bp.route("/public-key")
@public
def public_key():
    """The Ed25519 key that signs tree heads: anyone may fetch it to check an export."""
    return Response(export.public_key_pem(), mimetype="application/x-pem-file")
