"""Signing in: the password hasher and session settings, and the first factor (a password, with
its lockout and throttling).

Every change goes through a unit of work with its audit event. Second factors are
hub/auth/second_factor.py, sessions hub/auth/sessions.py, single sign-on's accounts
hub/auth/sso_accounts.py, the organisations sign-in reads hub/auth/organisations.py.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask
from sqlalchemy import delete, func, select

from hub import db
from hub.audit import service as audit
from hub.auth import initial_passwords
from hub.auth.sso_accounts import email_key
from hub.db import unit_of_work, utcnow
from hub.extensions import app_state, hub_settings
from hub.models.auth import SignInAttempt, User

MAX_ACCOUNT_FAILURES = 5


LOCKOUT = timedelta(minutes=15)


MAX_ADDRESS_FAILURES = 20


ADDRESS_WINDOW = timedelta(minutes=15)


# last_seen_at is written at most this often, so a busy page is not a write per request.
LAST_SEEN_GRANULARITY = timedelta(seconds=30)


RECOVERY_CODES = 10


@dataclass(frozen=True)
class Passwords:
    """The app's argon2id hasher, and a hash of nothing to check a password against when the
    e-mail has no usable account (the same work either way)."""

    hasher: PasswordHasher
    dummy_hash: str

    @classmethod
    def of(cls, hasher: PasswordHasher) -> Passwords:
        return cls(hasher, hasher.hash(secrets.token_hex(16)))


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def init_app(app: Flask) -> None:
    """The library's recommended argon2id parameters; in tests (HUB_ENV=testing) cheap ones, so a
    suite of sign-ins runs quickly."""
    fast = app.config["HUB"].env == "testing"
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if fast else PasswordHasher()
    app.extensions["hub_passwords"] = Passwords.of(hasher)


def passwords() -> Passwords:
    """The app's hasher, for user passwords and recovery codes and API clients' secrets alike."""
    return app_state("hub_passwords")


def _hasher() -> PasswordHasher:
    return passwords().hasher


def session_policy() -> SessionPolicy:
    """How long a session lives unused (HUB_IDLE_TIMEOUT_MINUTES) and at most
    (HUB_ABSOLUTE_TIMEOUT_HOURS)."""
    settings = hub_settings()
    return SessionPolicy(idle=timedelta(minutes=settings.idle_timeout_minutes),
                         absolute=timedelta(hours=settings.absolute_timeout_hours))


def _aware(ts: datetime | None) -> datetime | None:
    if ts is not None and ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- first factor -------------------------------------------------------------------------------

@dataclass
class PasswordResult:
    status: str  # ok, wrong, locked, throttled, expired (an initial password past its time)
    user: User | None = None


def check_password(email: str, password: str, client_address: str | None) -> PasswordResult:
    """First factor. Every attempt costs one password hash (the account's, or a dummy for an
    unknown or inactive e-mail), whatever the answer, and an unknown e-mail is counted and locked
    exactly as a known one: neither the answer nor its timing tells which addresses have accounts.

    Failures are counted per client address (MAX_ADDRESS_FAILURES in ADDRESS_WINDOW throttle the
    address, whatever accounts it tries) and per (e-mail, client address): MAX_ACCOUNT_FAILURES
    lock that e-mail from that address only, so a stranger guessing from elsewhere cannot lock a
    practitioner out. While locked, even the right password gets the same answer (no oracle).
    A lock from wrong second-factor codes (`User.locked_until`) needs the password to trip, so
    it holds for every address, and is told only to someone who gives the right password; so is
    an initial password past its time (hub/auth/initial_passwords.py), which is refused."""
    email = (email or "").strip().lower()
    address = client_address or "unknown"
    account = email_key(email)
    s = db.session()
    with unit_of_work():
        user = s.scalar(select(User).where(User.email == email))
        usable = user is not None and user.active and bool(user.password_hash)
        right = _verify(user.password_hash, password) if usable else _verify_dummy(password)
        if _address_throttled(address):
            audit.record("sign-in", outcome=audit.REFUSED, detail={"reason": "throttled"})
            return PasswordResult("throttled")
        if _account_failures(account, address) >= MAX_ACCOUNT_FAILURES:
            _note_address_failure(address)
            _refused(user if usable else None, "locked-from-address")
            return PasswordResult("locked")
        if not right:
            locked = _note_password_failure(account, address)
            _refused(user if usable else None, "wrong-password" if usable else "unknown-or-inactive", locked=locked)
            return PasswordResult("locked" if locked else "wrong")
        if _locked(user):
            _refused(user, "locked")
            return PasswordResult("locked", user)
        if initial_passwords.expired(user):
            _refused(user, "initial-password-expired")
            return PasswordResult("expired", user)
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = _hasher().hash(password)
        s.execute(delete(SignInAttempt).where(SignInAttempt.account_key == account,
                                              SignInAttempt.client_address == address))
        return PasswordResult("ok", user)


def _refused(user: User | None, reason: str, **detail) -> None:
    if user is None:
        audit.record("sign-in", outcome=audit.REFUSED, detail={"reason": reason, **detail})
    else:
        audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                     detail={"reason": reason, **detail})


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_dummy(password: str) -> bool:
    """The same work as checking a real password, for an e-mail with no usable account."""
    with suppress(VerificationError):
        _hasher().verify(passwords().dummy_hash, password or "x")
    return False


def _locked(user: User) -> bool:
    until = _aware(user.locked_until)
    return until is not None and until > utcnow()


def _note_second_factor_failure(user: User, client_address: str | None) -> bool:
    """Count a wrong second factor (the password was right); lock the account for a while after
    too many. Returns True if now locked."""
    user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
    _note_address_failure(client_address)
    if user.failed_sign_ins >= MAX_ACCOUNT_FAILURES:
        user.locked_until = utcnow() + LOCKOUT
        user.failed_sign_ins = 0
        return True
    return False


def _note_password_failure(account: str, address: str) -> bool:
    """Count a wrong password for (e-mail, address). Returns True if that pair is now locked:
    this was the MAX_ACCOUNT_FAILURES-th failure in the window. The new row is flushed and
    counted with the others (never counted and then added to again)."""
    s = db.session()
    s.add(SignInAttempt(client_address=address, account_key=account))
    s.flush()
    return _account_failures(account, address) >= MAX_ACCOUNT_FAILURES


def _account_failures(account: str, address: str) -> int:
    return db.session().scalar(
        select(func.count()).select_from(SignInAttempt).where(
            SignInAttempt.account_key == account, SignInAttempt.client_address == address,
            SignInAttempt.at >= utcnow() - ADDRESS_WINDOW)
    )


def _note_address_failure(client_address: str | None) -> None:
    db.session().add(SignInAttempt(client_address=client_address or "unknown"))


def _address_throttled(client_address: str | None) -> bool:
    since = utcnow() - ADDRESS_WINDOW
    s = db.session()
    s.execute(delete(SignInAttempt).where(SignInAttempt.at < since))
    count = s.scalar(
        select(func.count()).select_from(SignInAttempt)
        .where(SignInAttempt.client_address == (client_address or "unknown"), SignInAttempt.at >= since)
    )
    return count >= MAX_ADDRESS_FAILURES
