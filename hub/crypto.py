"""Encryption at rest for personal fields, and keyed hashes (blind indexes) for exact lookup.

Field values are Fernet tokens (AES-128-CBC + HMAC-SHA256) made with the first key of
HUB_FIELD_KEYS; older keys still decrypt, so keys rotate by putting a new key first and running
`flask --app hub keys rotate`, which re-wraps every child's data key with it and re-encrypts every
field still under the field keys.

**Envelope encryption per child** (crypto-shredding): a child's personal fields, and the records
about that one child, are encrypted under a data key of the child's own (a random Fernet key),
stored only wrapped by the field keys (`child_data_key`, hub.models.child_keys). Such a token names
its key: `ck1.<key id>.<Fernet token>`; a token without the prefix is under the field keys. Rotating
the field keys re-wraps the data keys (a few bytes each) instead of re-encrypting every field, and
destroying a child's data key makes every copy of the child's fields (backups, replicas) unreadable.
A value to be written under a child's key is a `Scoped` string (or bytes) that carries the key id;
hub.models.child_keys scopes the values of the child-scoped tables as they are flushed.

A blind index is HMAC-SHA256 of a normalised value under HUB_BLIND_INDEX_KEY: the database can
match an NHS number or a name token exactly without ever holding the value in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask
from sqlalchemy import Text, case, func, select, type_coerce
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.types import TypeDecorator

from hub import db
from hub.extensions import app_state

#: The prefix of a token under a child's data key: `ck1.<key id>.<Fernet token>`.
CHILD_PREFIX = "ck1."
#: A data key's id: 32 hex digits.
KEY_ID_LENGTH = 32


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


class KeyDestroyed(RuntimeError):
    """The token is under a child's data key that was destroyed (or is not in this database)."""


class ScopedStr(str):
    """A value to store under a child's data key: the string, and the key's id."""

    key_id: str

    def __new__(cls, value: str, key_id: str | None = None) -> ScopedStr:
        made = super().__new__(cls, value)
        made.key_id = key_id
        return made

    def __getnewargs__(self):  # copies and pickles keep the key id
        return (str(self), self.key_id)


class ScopedBytes(bytes):
    """Bytes (a profile's photo) to store under a child's data key."""

    key_id: str

    def __new__(cls, value: bytes, key_id: str | None = None) -> ScopedBytes:
        made = super().__new__(cls, value)
        made.key_id = key_id
        return made

    def __getnewargs__(self):  # copies and pickles keep the key id
        return (bytes(self), self.key_id)


def scoped(value, key_id: str):
    """`value` marked to be encrypted under the data key `key_id` (None stays None)."""
    if value is None:
        return None
    return ScopedBytes(value, key_id) if isinstance(value, bytes) else ScopedStr(str(value), key_id)


def new_data_key() -> tuple[bytes, str]:
    """A fresh data key for a child, and the same key wrapped by the field keys (what is stored)."""
    key = Fernet.generate_key()
    return key, wrap(key)


def wrap(key: bytes) -> str:
    return _fernet().encrypt(key).decode("ascii")


def unwrap(wrapped: str) -> bytes:
    try:
        return _fernet().decrypt(wrapped.encode("ascii"))
    except InvalidToken as exc:
        raise RuntimeError("a child's data key could not be unwrapped with the configured keys") from exc


_DESTROYED = "destroyed"  # the row brought no key: never unwrapped, never read again by id
#: The children's keys as a read sees them, beside each child-scoped token (column_expression).
_KEYS = sa_table("child_data_key", sa_column("id"), sa_column("wrapped_key"), sa_column("destroyed_at"))

#: Reads a wrapped data key by its id, in the session's transaction (hub.models.child_keys sets it):
#: None when the key was destroyed.
_wrapped_key_of: Callable[[str], str | None] | None = None


def set_key_reader(reader: Callable[[str], str | None]) -> None:
    global _wrapped_key_of
    _wrapped_key_of = reader


def _key_cache() -> dict[str, Fernet]:
    """Unwrapped data keys, per database session (a request, a command): never logged, never
    stored; a destroyed key is dropped from it by `forget_key`."""
    return db.session().info.setdefault("hub_child_keys", {})


def remember_key(key_id: str, key: bytes) -> None:
    _key_cache()[key_id] = Fernet(key)


def forget_key(key_id: str) -> None:
    _key_cache().pop(key_id, None)


def _child_fernet(key_id: str, wrapped: str | None = None) -> Fernet:
    """The child's data key: cached, or unwrapped from what the row brought (`wrapped`, see
    EncryptedText.column_expression), or read by its id as a last resort (a raw query)."""
    cache = _key_cache()
    found = cache.get(key_id)
    if found is None:
        if wrapped is None and _wrapped_key_of:
            wrapped = _wrapped_key_of(key_id)
        if wrapped is None or wrapped is _DESTROYED:
            raise KeyDestroyed("a field is under a child's data key that no longer exists")
        found = cache[key_id] = Fernet(unwrap(wrapped))
    return found


def encrypt_scoped(value: str, key_id: str | None) -> str:
    """`value` under the data key `key_id`, or under the field keys when None."""
    if key_id is None:
        return encrypt(value)
    token = _child_fernet(key_id).encrypt(value.encode("utf-8")).decode("ascii")
    return f"{CHILD_PREFIX}{key_id}.{token}"


def key_id_of(token: str) -> str | None:
    """The id of the child's data key a token is under, or None for the field keys."""
    return token[len(CHILD_PREFIX):].split(".", 1)[0] if token.startswith(CHILD_PREFIX) else None


def decrypt_any(token: str) -> str:
    """A token under a child's data key or under the field keys; read through EncryptedText, a
    child's token arrives as `<token>|<wrapped key>` (empty when the key was destroyed)."""
    if not token.startswith(CHILD_PREFIX):
        return decrypt(token)
    token, bar, wrapped = token.partition("|")
    key_id, inner = token[len(CHILD_PREFIX):].split(".", 1)
    try:
        return _child_fernet(key_id, (wrapped or _DESTROYED) if bar else None).decrypt(
            inner.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise RuntimeError("an encrypted field could not be decrypted with its child's data key") from exc


class EncryptedText(TypeDecorator):
    """A text column whose value is stored as a Fernet token: under the child's data key when the
    value is `Scoped`, otherwise under the field keys."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt_scoped(str(value), getattr(value, "key_id", None))

    def column_expression(self, column):
        """A child's token is read with its wrapped key beside it (`<token>|<wrapped key>`), from
        a correlated lookup in the same statement: a list of 50 children is one statement, not 51."""
        key_id = func.substr(column, len(CHILD_PREFIX) + 1, KEY_ID_LENGTH)
        wrapped = (select(_KEYS.c.wrapped_key).where(_KEYS.c.id == key_id, _KEYS.c.destroyed_at.is_(None))
                   .scalar_subquery())
        raw = type_coerce(column, Text())
        # Typed as this column, so the value is still decrypted as it is read.
        return type_coerce(case((raw.startswith(CHILD_PREFIX), raw + "|" + func.coalesce(wrapped, "")), else_=raw),
                           self)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        plain = decrypt_any(value)
        key_id = key_id_of(value)
        # Read back still scoped: written again (a copy, an update), it stays under the child's key.
        return ScopedStr(plain, key_id) if key_id else plain


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
