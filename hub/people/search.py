"""Finding a child by part of a name or a sound-alike, without a name in clear in the database.

Each child has rows in `child_name_token`, each a keyed hash (hub.crypto.blind_index) of one of:

- a whole name word ("name": exact matches, used by imports and the DPO's flags);
- a prefix of a name word, 2 to PREFIX_MAX letters ("name-prefix": "Vio" finds Violet);
- the word's Metaphone code from jellyfish ("name-sound": "Vilet" and "Fiolet" find Violet).

The kind is inside the hashed message, so the rows of one child cannot be told apart, and each
child's rows are padded with random hashes to a multiple of ROW_BLOCK, so their number does not
give away how long the names are. A search word matches a child when any of its hashes is among
the child's rows; every word of the search must match.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date

import jellyfish
from sqlalchemy import delete, insert, select

from hub.crypto import blind_index, name_tokens
from hub.models.people import ChildNameToken

PREFIX_MIN = 2
PREFIX_MAX = 20
#: A Metaphone code of one letter ("Zoe" -> "S") matches too many names to be useful.
SOUND_MIN = 2
ROW_BLOCK = 16
_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})|(\d{4})-(\d{2})-(\d{2})")


def _sound(token: str) -> str:
    code = jellyfish.metaphone(token) if token.isalpha() else ""
    return code if len(code) >= SOUND_MIN else ""


def index_hashes(given: str, family: str) -> list[str]:
    """Every row to store for a child's name, padded with random hashes (shuffled by the set)."""
    hashes: set[str] = set()
    for token in name_tokens(given, family):
        hashes.add(blind_index("name", token))
        hashes.update(blind_index("name-prefix", token[:n])
                      for n in range(PREFIX_MIN, min(len(token), PREFIX_MAX) + 1))
        if sound := _sound(token):
            hashes.add(blind_index("name-sound", sound))
    while len(hashes) % ROW_BLOCK:
        hashes.add(secrets.token_hex(32))  # as long as an HMAC-SHA256, and matching nothing
    return list(hashes)


def word_hashes(token: str) -> list[str]:
    """What one search word may match: a name starting with it, or one that sounds like it."""
    hashes = [blind_index("name-prefix", token[:PREFIX_MAX])]
    if sound := _sound(token):
        hashes.append(blind_index("name-sound", sound))
    return hashes


def matching_child_ids(words: list[str]):
    """One subquery per word (a child must match every word), ANDed by the caller."""
    return [select(ChildNameToken.child_id).where(ChildNameToken.token_hash.in_(word_hashes(w))) for w in words]


def write_index(session, child_id: int, given: str, family: str) -> None:
    """(Re)write a child's name rows: the same rows whether the child is new or reindexed."""
    session.execute(delete(ChildNameToken).where(ChildNameToken.child_id == child_id))
    session.execute(insert(ChildNameToken), [{"child_id": child_id, "token_hash": h}
                                             for h in index_hashes(given, family)])


@dataclass
class Query:
    """What a person typed into the one search box, sorted into name words, dates and identifiers."""

    words: list[str] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    too_short: bool = False


def parse(text: str) -> Query:
    """'Vio 27/3/2012' -> words ['vio'], dates [2012-03-27]; 'NBP-00004' -> an identifier.
    A word with a digit is an identifier (NHS number, pupil number, LA id, police id)."""
    query = Query()
    for match in _DATE.finditer(text or ""):
        d, m, y, iy, im, iday = match.groups()
        try:
            query.dates.append(date(int(y), int(m), int(d)) if y else date(int(iy), int(im), int(iday)))
        except ValueError:
            query.identifiers.append(match.group(0))
    rest = _DATE.sub(" ", text or "")
    names, numeric_run = [], False
    for part in rest.split():
        numeric = part.replace("-", "").isdigit()
        if numeric and numeric_run:  # "943 476 5919": one NHS number written in groups
            query.identifiers[-1] += part
        elif any(c.isdigit() for c in part):
            query.identifiers.append(part)
        else:
            names.append(part)
        numeric_run = numeric
    words = sorted(name_tokens(*names))
    query.words = [w for w in words if len(w) >= PREFIX_MIN]
    query.too_short = bool(words) and not query.words
    return query
