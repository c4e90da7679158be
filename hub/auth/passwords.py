"""What a new password must not be (ASVS V6.2.4, V6.1.2, V6.2.11; docs/security.md, "Password
rules"): shorter than 12 characters, one of the 3,000 most common passwords (or one with digits
added at the end), or containing a word of this context: the hub's own words and the words of the
person's e-mail address before the @ (not yet their name or their organisation's).
Any characters are allowed, spaces and any script included, and nothing else is asked of the
composition (V6.2.5). The common passwords are zxcvbn's ranked list, read from the installed
package: nothing is sent anywhere.

Standard library and zxcvbn only; the only new passwords are those an administrator sets."""

from __future__ import annotations

import re

from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 200
#: The 3,000 most common passwords, most common first (zxcvbn's list, from leaked password sets).
COMMON = frozenset(FREQUENCY_LISTS["passwords"][:3000])
#: Words of the hub itself that a password may not be built on (with the person's and organisation's).
HUB_WORDS = ("safeguarding", "safeguard", "missing", "mace")
#: A context word shorter than this is not held against a password: "Ann" or "Lee" in a passphrase is chance.
MIN_CONTEXT_WORD = 4


def context_words(email: str | None) -> set[str]:
    """The hub's words and those of the e-mail address before the @ (split at anything not a
    letter or digit)."""
    local = (email or "").split("@", 1)[0].casefold()
    return set(HUB_WORDS) | {w for w in re.split(r"[\W_]+", local) if len(w) >= MIN_CONTEXT_WORD}


def problem(password: str, context: set[str]) -> str | None:
    """Why `password` may not be set, for the person whose context words are given; None when it may."""
    if len(password) < MIN_LENGTH:
        return f"Passwords must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"Passwords must be {MAX_LENGTH} characters or fewer"
    folded = password.casefold()
    if folded in COMMON or re.sub(r"\d+$", "", folded) in COMMON:
        return "This is one of the most common passwords: choose another"
    used = sorted(w for w in context if w in folded)
    if used:
        return f"Passwords must not contain the hub's name or the person's e-mail address ({used[0]})"
    return None
