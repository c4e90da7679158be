"""A person changing their own password (ASVS V6.2.2, V6.2.3, V7.5.1): only signed in, only with
their current password (a wrong one counts towards the account's lock, as a wrong code does, so a
borrowed session cannot guess it), and only to a password the rules allow (hub/auth/passwords.py).
Their other sessions end at once; the one they are using goes on. The audit event says that the
password changed, never the password. Choosing their own in place of an initial password the hub
issued (hub/auth/initial_passwords.py) is the same change, and ends its time limit; an initial
password already past its time cannot be used for it."""

from __future__ import annotations

from sqlalchemy import update

from hub import db
from hub.audit import service as audit
from hub.auth import initial_passwords, passwords
from hub.auth import service as auth_service
from hub.db import unit_of_work, utcnow
from hub.models.auth import User, UserSession


def change_password(user: User, current: str, new: str, client_address: str | None) -> dict[str, str]:
    """The errors by field (empty: the password changed)."""
    with unit_of_work() as s:
        row = s.get(User, user.id, with_for_update={"of": User})
        if row is None or not row.password_hash:
            return {"current": "Your organisation's sign-in provider looks after your password: change it there"}
        if auth_service._locked(row):
            return {"current": "Too many wrong attempts: this account is locked for 15 minutes"}
        if initial_passwords.expired(row):
            return {"current": "Your initial password has expired: ask your administrator for a new one"}
        if not auth_service._verify(row.password_hash, current):
            locked = auth_service._note_second_factor_failure(row, client_address)
            audit.record("update", outcome=audit.REFUSED, actor=row, object_type="user", object_id=row.id,
                         detail={"change": "password", "reason": "wrong-current-password", "locked": locked})
            return {"current": "Your current password is not right"}
        if new == current:
            return {"new": "Choose a password different from your current one"}
        if problem := passwords.problem(new, passwords.context_words(row.email)):
            return {"new": problem}
        was_initial = initial_passwords.is_initial(row)
        row.password_hash = auth_service.hash_password(new)
        row.initial_password_expires_at = None
        row.failed_sign_ins = 0
        current_id = user.current_session.id if user.current_session is not None else None
        ended = s.execute(update(UserSession).where(UserSession.user_id == row.id, UserSession.ended_at.is_(None),
                                                    UserSession.id != (current_id or 0))
                          .values(ended_at=utcnow(), end_reason="password-changed")).rowcount
        audit.record("update", actor=row, object_type="user", object_id=row.id,
                     detail={"change": "password-changed", "other_sessions_ended": ended,
                             **({"replaced": "initial-password"} if was_initial else {})})
    return {}


def has_password(user: User) -> bool:
    return bool(db.session().get(User, user.id).password_hash)
