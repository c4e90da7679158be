"""The second factor: TOTP enrolment and codes, and single-use recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from sqlalchemy import delete, select

from hub import crypto, db
from hub.audit import service as audit
from hub.auth.service import RECOVERY_CODES, _hasher, _locked, _note_second_factor_failure, _verify
from hub.db import unit_of_work, utcnow
from hub.models.auth import RecoveryCode, User

# --- second factor ------------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def sealed_secret(secret: str) -> str:
    """A new seed as it waits in the session cookie until a code confirms it: encrypted with the
    field keys, so the cookie (signed, not encrypted) never carries it readable (ASVS V14.3.3)."""
    return crypto.encrypt(secret)


def opened_secret(sealed: str | None) -> str | None:
    """The seed of `sealed_secret`; None when there is none or it cannot be opened (the keys
    changed since, or a cookie from before): enrolment then starts with a new seed."""
    if not sealed:
        return None
    try:
        return crypto.decrypt(sealed)
    except (RuntimeError, ValueError):
        return None


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
