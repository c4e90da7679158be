"""What a new password must not be (ASVS V6.2.4, V6.2.12, V6.1.2, V6.2.11; docs/security.md,
"Password rules"): shorter than 12 characters, one of the 3,000 most common passwords (or one with
digits added at the end), any other password of the breached list (as it is, in any case, with
digits added, or with the usual l33t substitutions such as 4 or @ for a), or containing a word of
this context: the hub's own words and the words of the person's e-mail address before the @ (not
yet their name or their organisation's).
Any characters are allowed, spaces and any script included, and nothing else is asked of the
composition (V6.2.5). Both lists are zxcvbn's ranked list "passwords" (30,000 passwords from
public breaches, most common first), read from the installed package: no password, hash or prefix
of one is sent anywhere. zxcvbn's strength score is not used: these are checks of their own.

Standard library and zxcvbn only; new passwords are the operator's, the hub's generated initial
ones (hub/auth/initial_passwords.py) and those people choose themselves."""

from __future__ import annotations

import re

from zxcvbn.frequency_lists import FREQUENCY_LISTS
from zxcvbn.matching import L33T_TABLE, enumerate_l33t_subs, relevant_l33t_subtable, translate

MIN_LENGTH = 12
MAX_LENGTH = 200
#: The 3,000 most common passwords, most common first (zxcvbn's list, from leaked password sets).
COMMON = frozenset(FREQUENCY_LISTS["passwords"][:3000])
#: Every password of zxcvbn's list of passwords from public breaches (30,000, lower case).
BREACHED = frozenset(FREQUENCY_LISTS["passwords"])
#: A substitution keeps the length, so nothing longer than the list's longest (20) is looked up.
LONGEST_BREACHED = max(map(len, BREACHED))
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
    if breached(password):
        return "This password has appeared in a data breach: choose another"
    used = sorted(w for w in context if w in folded)
    if used:
        return f"Passwords must not contain the hub's name or the person's e-mail address ({used[0]})"
    return None


def breached(password: str) -> bool:
    """Whether the whole password is one of the breached list: as it is, in any case, with digits
    added at the end, or with l33t substitutions undone by zxcvbn's own table ("p@ssw0rd" is
    "password"; each ambiguous reading is tried, a handful at most). Only whole-password matches
    count: a long passphrase holding a breached word is not refused for it."""
    folded = password.casefold()
    bare = re.sub(r"\d+$", "", folded)
    return any(candidate in BREACHED or _unl33ted_in_breached(candidate) for candidate in (folded, bare))


def _unl33ted_in_breached(candidate: str) -> bool:
    if len(candidate) > LONGEST_BREACHED:
        return False
    subs = enumerate_l33t_subs(relevant_l33t_subtable(candidate, L33T_TABLE))
    return any(sub and translate(candidate, sub) in BREACHED for sub in subs)
