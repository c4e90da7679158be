"""Sessions live in the database: the cookie only carries a random token, so sign-out, sign-out
everywhere, deactivation and a change of roles end a session for good, even for someone holding a
copy of the cookie."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update

from hub import db
from hub.audit import service as audit
from hub.auth.service import LAST_SEEN_GRANULARITY, _aware, _token_hash, session_policy
from hub.db import unit_of_work, utcnow
from hub.models.auth import User, UserSession

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
    """End the session this request came in on: every signed-in user has one, set by `load_session`
    or `start_session`."""
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
