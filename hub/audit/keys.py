"""The audit log's signing keys: the current key that signs new tree heads, and the retired ones a
head may still carry (README, "Rotating the audit signing key")."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from hub.audit import checkpoint
from hub.extensions import app_state


@dataclass(frozen=True)
class Signing:
    """The key that signs new tree heads, and every key the hub's heads may carry."""

    key: Ed25519PrivateKey
    trusted: tuple[checkpoint.TrustedKey, ...]


def init_app(app: Flask) -> None:
    """HUB_AUDIT_SIGNING_KEY and HUB_AUDIT_RETIRED_KEYS of app.config["HUB"]; a wrong key stops
    start-up."""
    settings = app.config["HUB"]
    app.extensions["hub_audit_signing"] = signing_keys(settings.audit_signing_key_pem,
                                                       parse_retired_keys(settings.audit_retired_keys))


def signing_keys(private_key_pem: str, retired: list[checkpoint.TrustedKey] | None = None) -> Signing:
    """The current key and the retired ones; a key that is not Ed25519 is refused. The current key
    is trusted from the moment the last retired key stopped being valid."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("HUB_AUDIT_SIGNING_KEY must be an Ed25519 private key")
    retired = list(retired or [])
    fingerprint = checkpoint.key_fingerprint(key.public_key())
    if any(old.fingerprint == fingerprint for old in retired):
        raise ValueError("HUB_AUDIT_SIGNING_KEY is one of the retired keys: a retired key never signs again")
    if any(old.valid_until is None for old in retired):
        raise ValueError("each retired audit signing key needs the time it was retired (valid_until)")
    since = max((old.valid_until for old in retired), key=checkpoint.instant, default=None)
    return Signing(key, (*retired, checkpoint.TrustedKey(key.public_key(), valid_from=since)))


def parse_retired_keys(text: str) -> list[checkpoint.TrustedKey]:
    """HUB_AUDIT_RETIRED_KEYS (JSON); a malformed list stops start-up, naming what is wrong."""
    if not text.strip():
        return []
    try:
        return checkpoint.parse_trusted_keys(json.loads(text))
    except ValueError as exc:
        raise ValueError(f"HUB_AUDIT_RETIRED_KEYS: {exc}") from exc


def signing_key() -> Ed25519PrivateKey:
    return app_state("hub_audit_signing").key


def trusted_keys() -> tuple[checkpoint.TrustedKey, ...]:
    """Every key the hub's tree heads may carry, each with its period: the retired ones and the
    current one (README, "Rotating the audit signing key")."""
    return app_state("hub_audit_signing").trusted


def log_verifier_keys(origin: str) -> list[str]:
    """The signed-note verifier keys of every trusted key: a witness's checkpoint cosigned before
    a rotation carries the old key's signature."""
    return [checkpoint.verifier_key(origin, key.public_key) for key in trusted_keys()]


def log_verifier_key(origin: str) -> str:
    """The hub's signed-note verifier key: what a witness is told to trust for this log."""
    return checkpoint.verifier_key(origin, signing_key().public_key())
