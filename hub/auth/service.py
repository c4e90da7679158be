"""Signing in and out, second factors, sessions and user administration.

Every change goes through a unit of work with its audit event. Sessions live in the database:
the cookie only carries a random token, so sign-out, sign-out everywhere, deactivation and a
change of roles end a session for good, even for someone holding a copy of the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask
from sqlalchemy import delete, func, select, update

from hub import crypto, db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.extensions import app_state, hub_settings
from hub.models.auth import Organisation, RecoveryCode, SignInAttempt, SsoIdentity, SsoProvider, User, UserSession
from hub.models.roles import OrgKind

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
    status: str  # ok, wrong, locked, throttled
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
    it holds for every address, and is told only to someone who gives the right password."""
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


# --- second factor ------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Safeguarding hub")


def _matching_step(secret: str, code: str, at: datetime | None = None) -> int | None:
    """The time step (of now-1, now, now+1) whose code matches, allowing for clock drift."""
    code = (code or "").replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = (at or utcnow()).timestamp()
    step = int(now // totp.interval)
    for candidate in (step - 1, step, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def check_second_factor(user_id: int, code: str, client_address: str | None) -> str:
    """Returns ok, wrong, replayed or locked. A TOTP code is accepted once only: its time step
    must be newer than the last accepted one. A recovery code is accepted once only."""
    s = db.session()
    with unit_of_work():
        user = s.get(User, user_id, with_for_update={"of": User})
        if user is None or not user.active:
            return "wrong"
        if _locked(user):
            audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                         detail={"reason": "locked", "factor": "second"})
            return "locked"
        step = _matching_step(user.totp_secret, code) if user.totp_secret else None
        if step is not None and step <= (user.totp_last_step or 0):
            audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                         detail={"reason": "totp-replayed"})
            return "replayed"
        if step is not None:
            user.totp_last_step = step
            user.failed_sign_ins = 0
            return "ok"
        if _use_recovery_code(user, code):
            user.failed_sign_ins = 0
            return "ok-recovery"
        locked = _note_second_factor_failure(user, client_address)
        audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                     detail={"reason": "wrong-second-factor", "locked": locked})
        return "locked" if locked else "wrong"


def _normal_recovery_code(code: str) -> str:
    return (code or "").replace("-", "").replace(" ", "").lower()


def _recovery_hash(code: str) -> str:
    """Salted argon2id, as for passwords (ASVS 5.0 V6.5.2): a code is 48 random bits, which a
    fast unsalted hash in a copied database would give up to a brute force."""
    return _hasher().hash(_normal_recovery_code(code))


def _recovery_code_matches(code_hash: str, code: str) -> bool:
    if code_hash.startswith("$argon2"):
        return _verify(code_hash, _normal_recovery_code(code))
    # Codes issued before argon2 (unsalted SHA-256) keep working until used or replaced.
    legacy = hashlib.sha256(_normal_recovery_code(code).encode()).hexdigest()
    return hmac.compare_digest(code_hash, legacy)


def _use_recovery_code(user: User, code: str) -> bool:
    """Each unused code is checked (salted hashes cannot be looked up): at most RECOVERY_CODES."""
    unused = db.session().scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                             RecoveryCode.used_at.is_(None)))
    row = next((r for r in unused if _recovery_code_matches(r.code_hash, code)), None)
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def enrol_totp(user_id: int, secret: str, code: str) -> list[str] | None:
    """Confirm a new authenticator with a code from it; returns fresh recovery codes to show once."""
    s = db.session()
    with unit_of_work():
        user = s.get(User, user_id, with_for_update={"of": User})
        step = _matching_step(secret, code)
        if user is None or step is None:
            return None
        user.totp_secret = secret
        user.totp_confirmed_at = utcnow()
        user.totp_last_step = step
        codes = _replace_recovery_codes(user)
        audit.record("update", actor=user, object_type="user", object_id=user.id, detail={"change": "totp-enrolled"})
        return codes


def _replace_recovery_codes(user: User) -> list[str]:
    s = db.session()
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    s.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(c)) for c in codes)
    return codes


def signing_in_user(user_id: int) -> User | None:
    """The user between a correct password and their second factor (the sign-in pages keep the id
    in the session for a few minutes; the checks that follow take the id, not this object)."""
    return db.session().get(User, user_id)


# --- sessions -----------------------------------------------------------------------------------

def start_session(user_id: int, method: str) -> tuple[User, UserSession]:
    """A completed sign-in: a new server-side session with a fresh random token."""
    s = db.session()
    with unit_of_work():
        user = s.get(User, user_id)
        token = secrets.token_urlsafe(32)
        row = UserSession(token_hash=_token_hash(token), user_id=user.id, method=method)
        s.add(row)
        s.flush()
        row.token = token
        user.current_session = row
        audit.record("sign-in", actor=user, object_type="session", object_id=row.id, detail={"method": method})
    return user, row


def load_session(token: str) -> User | None:
    """The user for a session token, if that session is alive; ends it if it has timed out."""
    s = db.session()
    row = s.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    policy = session_policy()
    reason = None
    if not row.user.active:
        reason = "deactivated"
    elif _aware(row.created_at) + policy.absolute < now:
        reason = "expired"
    elif _aware(row.last_seen_at) + policy.idle < now:
        reason = "idle"
    if reason:
        with unit_of_work():
            _end(row, reason)
        return None
    if now - _aware(row.last_seen_at) > LAST_SEEN_GRANULARITY:
        with unit_of_work():
            row.last_seen_at = now
    row.token = token
    row.user.current_session = row
    return row.user


def _end(row: UserSession, reason: str) -> None:
    row.ended_at = utcnow()
    row.end_reason = reason
    audit.record("sign-out", actor=row.user, object_type="session", object_id=row.id, detail={"reason": reason})


def sign_out(user: User) -> None:
    if user.current_session is None:
        return
    with unit_of_work():
        row = db.session().get(UserSession, user.current_session.id)
        if row.ended_at is None:
            _end(row, "sign-out")


def end_all_sessions(user: User, reason: str, actor: User | None = None) -> int:
    """Sign a user out everywhere. Joins the caller's unit of work when there is one."""
    with unit_of_work():
        result = db.session().execute(
            update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason)
        )
        audit.record("sign-out", actor=actor or user, object_type="user", object_id=user.id,
                     detail={"reason": reason, "sessions": result.rowcount})
        return result.rowcount


# --- single sign-on -----------------------------------------------------------------------------

SSO_NOT_SET_UP = "not-set-up"
SSO_DEACTIVATED = "deactivated"


@dataclass
class SsoOutcome:
    """A validated ID token's answer: the user to sign in, or why not. `refusal` is
    SSO_DEACTIVATED only when the provider has vouched for the person as the holder of a hub
    account of its own organisation (a linked subject, or a verified e-mail): only they learn it."""

    user: User | None
    refusal: str | None = None


def email_key(email: str) -> str:
    """Keyed hash of an e-mail address as offered (trimmed, lower-cased): the same for a password
    sign-in's attempt counter and a single sign-on refusal, so a reviewer holding the hub's key
    can match either to an account without the log ever holding the address."""
    return crypto.blind_index("sign-in", (email or "").strip().lower())


def enabled_sso_providers() -> list[SsoProvider]:
    """The organisations' single sign-on providers that are switched on (the sign-in page offers each)."""
    return list(db.session().scalars(select(SsoProvider).where(SsoProvider.enabled.is_(True))))


def sso_user(provider: SsoProvider, claims: dict) -> SsoOutcome:
    """The provisioned user for a validated ID token, or why not (refused, and audited with the
    issuer, the subject offered and the true reason).

    Once a user is linked, only (issuer, subject) finds them. The first sign-in links by e-mail,
    and only when the provider says the address is verified and the account is in the
    provider's own organisation: one organisation's provider cannot sign in another's staff."""
    s = db.session()
    issuer, subject = provider.issuer, str(claims["sub"])
    offered = {"issuer": issuer, "subject": subject, "organisation": provider.organisation_id}
    with unit_of_work():
        identity = s.scalar(select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject))
        if identity is not None:
            user = s.get(User, identity.user_id)
            if user.active and user.organisation_id == provider.organisation_id:
                return SsoOutcome(user)
            # A shared issuer can serve several organisations: say which refusal this was.
            own = user.organisation_id == provider.organisation_id
            audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                         detail={"reason": "sso-user-inactive" if own else "sso-identity-of-another-organisation",
                                 **offered})
            return SsoOutcome(None, SSO_DEACTIVATED if own else SSO_NOT_SET_UP)
        email = str(claims.get("email") or "").strip().lower()
        verified = bool(email) and claims.get("email_verified") is True
        user = s.scalar(select(User).where(User.email == email)) if verified else None
        if user is not None and user.organisation_id == provider.organisation_id:
            if not user.active:
                audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                             detail={"reason": "sso-user-inactive", **offered})
                return SsoOutcome(None, SSO_DEACTIVATED)
            if s.scalar(select(SsoIdentity.id).where(SsoIdentity.user_id == user.id, SsoIdentity.issuer == issuer)):
                audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                             detail={"reason": "sso-another-subject-linked", **offered})
                return SsoOutcome(None, SSO_NOT_SET_UP)
            s.add(SsoIdentity(user_id=user.id, issuer=issuer, subject=subject))
            audit.record("update", actor=user, object_type="user", object_id=user.id,
                         detail={"change": "sso-linked", **offered})
            return SsoOutcome(user)
        audit.record("sign-in", outcome=audit.REFUSED, detail={
            "reason": "sso-not-provisioned", **offered, "email_standing": _email_standing(email, verified, user),
            **({"email_key": email_key(email)} if email else {})})
        return SsoOutcome(None, SSO_NOT_SET_UP)


def _email_standing(email: str, verified: bool, user: User | None) -> str:
    """What the offered e-mail is to the hub, as a category for the log (never the address)."""
    if not email:
        return "none"
    if not verified:
        return "unverified"
    return "account-in-another-organisation" if user is not None else "no-account"


def record_sso_refusal(org_code: str, reason: str, issuer: str | None = None, subject: str | None = None,
                       **detail: str) -> None:
    """A single sign-on refused before any account was found: what was offered, and why."""
    offered = {"issuer": issuer, "subject": subject, **detail}
    with unit_of_work():
        audit.record("sign-in", outcome=audit.REFUSED, detail={
            "reason": reason, "organisation_code": org_code[:40],
            **{k: v for k, v in offered.items() if v is not None}})


# --- organisations and their single sign-on, as read by sign-in, administration and every page
# that lists organisations (administration changes them: hub.admin.service) ----------------------

def organisations(kind: OrgKind | None = None) -> list[Organisation]:
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return list(db.session().scalars(query))


def get_organisation(org_id: int) -> Organisation:
    org = db.session().get(Organisation, org_id)
    if org is None:
        raise NotFound("organisation not found")
    return org


def recipients_for(actor: User) -> list[Organisation]:
    """The organisations an actor may share with, or name in a consent: every active one but their own."""
    return list(db.session().scalars(select(Organisation).where(
        Organisation.active.is_(True), Organisation.id != actor.organisation_id).order_by(Organisation.name)))


def organisation_by_code(code: str) -> Organisation | None:
    return db.session().scalar(select(Organisation).where(Organisation.code == code.strip().upper()))


def sso_provider_for(org_id: int) -> SsoProvider | None:
    return db.session().scalar(select(SsoProvider).where(SsoProvider.organisation_id == org_id))
