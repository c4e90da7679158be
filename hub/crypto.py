"""Encryption at rest for personal fields, and keyed hashes (blind indexes) for exact lookup.

Field values are Fernet tokens (AES-128-CBC + HMAC-SHA256) made with the first key of
HUB_FIELD_KEYS; older keys still decrypt, so keys rotate by putting a new key first and running
`flask --app hub keys rotate`, which re-encrypts every field with it.

A blind index is HMAC-SHA256 of a normalised value under HUB_BLIND_INDEX_KEY: the database can
match an NHS number or a name token exactly without ever holding the value in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from hub.extensions import app_state


@dataclass(frozen=True)
class Keyring:
    """The app's field keys (the first encrypts, all decrypt) and its blind index key."""

    fernet: MultiFernet
    blind_key: bytes

    @classmethod
    def of(cls, field_keys: list[str], blind_index_key: bytes) -> Keyring:
        return cls(MultiFernet([Fernet(k) for k in field_keys]), blind_index_key)


def init_app(app: Flask) -> None:
    """The keys of app.config["HUB"] (HUB_FIELD_KEYS, HUB_BLIND_INDEX_KEY)."""
    settings = app.config["HUB"]
    app.extensions["hub_crypto"] = Keyring.of(settings.field_keys, settings.blind_index_key)


def _keyring() -> Keyring:
    return app_state("hub_crypto")


def _fernet() -> MultiFernet:
    return _keyring().fernet


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise RuntimeError("an encrypted field could not be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt a token under the current (first) key."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")


class EncryptedText(TypeDecorator):
    """A text column whose value is stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def blind_index(kind: str, value: str) -> str:
    """Keyed hash of a normalised value; `kind` keeps equal values of different kinds apart."""
    message = f"{kind}\x1f{value}".encode()
    return hmac.new(_keyring().blind_key, message, hashlib.sha256).hexdigest()


def normalise_identifier(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def name_tokens(*names: str) -> set[str]:
    """Lower-case, accent-free word tokens: 'Zoë  O'Brien-Smith' -> {zoe, obrien, smith}."""
    tokens: set[str] = set()
    for name in names:
        if not name:
            continue
        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        plain = plain.lower().replace("'", "").replace("\u2019", "")
        tokens.update(t for t in re.split(r"[^a-z0-9]+", plain) if t)
    return tokens


def dob_index(value: date) -> str:
    return blind_index("dob", value.isoformat())
