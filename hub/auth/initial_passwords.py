"""Initial passwords (ASVS V6.4.1; docs/security.md, "Password rules"): when an administrator creates
an account or resets a forgotten password, the hub generates the password, from `secrets`; the
administrator is shown it once, to pass on, and never types one. Only its argon2id hash is kept,
with the moment it expires (LIFETIME after it is issued). Until the person has chosen their own
password it signs them in only to do that (the sign-in pages send them to "Change your password"
after their second factor, and nothing else opens); once it has expired it is refused, and they
ask their administrator for a new one.

The operator's passwords (the command line, the demo data) are the person's own, never initial."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from hub.auth import passwords
from hub.db import utcnow
from hub.models.auth import User

#: How long an initial password works: long enough to reach someone over a weekend, no longer.
LIFETIME = timedelta(hours=72)
#: No 0/o, 1/l: the password is read out or copied by hand. 32 symbols, 5 bits each.
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
#: 4 groups of 4 (16 symbols, 80 bits), joined by hyphens so it can be read out: 19 characters.
GROUPS, GROUP_LENGTH = 4, 4


def generate(email: str) -> str:
    """A random password the hub's own rules allow for this person (a draw that happens to hold a
    word of their e-mail address, or the hub's, is drawn again)."""
    context = passwords.context_words(email)
    while True:
        candidate = "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))
        if passwords.problem(candidate, context) is None:
            return candidate


def expiry() -> datetime:
    """When a password issued now stops working."""
    return utcnow() + LIFETIME


def is_initial(user: User) -> bool:
    return user.initial_password_expires_at is not None


def expired(user: User) -> bool:
    """An initial password past its time (a person's own password never expires: V6.2.10)."""
    until = user.initial_password_expires_at
    if until is None:
        return False
    return (until if until.tzinfo else until.replace(tzinfo=UTC)) <= utcnow()


def must_choose(user: User) -> bool:
    """Signed in with an initial password: they choose their own before anything else. A session
    through their organisation's single sign-on did not use it, and is not held up by it."""
    session = user.current_session
    return is_initial(user) and session is not None and session.method.startswith("password")
