"""When is the start of the next school day? A notification's deadline.

School days are weekdays that are not England and Wales bank holidays (the `holidays` package)
and not a closure (holiday or INSET day) that an administrator set for the school or for every
school of its authority. The school day starts at the school's own time (default 08:30) in
Europe/London, whatever the clocks did overnight: the local time is turned into UTC per day, so
the two clock changes move the UTC deadline and not the school's morning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select

from hub import db
from hub.models.auth import Organisation
from hub.models.notifications import SchoolClosure

LONDON = ZoneInfo("Europe/London")
DEFAULT_START = time(8, 30)
#: No school has closures this long: a bound so a mistaken closure cannot loop for ever.
LOOKAHEAD_DAYS = 400


@lru_cache(maxsize=32)
def _bank_holidays(year: int) -> holidays.HolidayBase:
    # Wales shares England's bank holidays; the package names the pair "ENG".
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


def start_time(school: Organisation | None) -> time:
    text = school.school_day_start if school is not None else None
    if not text:
        return DEFAULT_START
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def closures(school: Organisation | None, first: date, last: date) -> list[tuple[date, date]]:
    """The closure ranges of the school and of its authority that overlap [first, last]."""
    if school is None:
        return []
    owners = _closure_owners(school)
    rows = db.session().execute(select(SchoolClosure.first_day, SchoolClosure.last_day).where(
        SchoolClosure.organisation_id.in_(owners), SchoolClosure.first_day <= last, SchoolClosure.last_day >= first))
    return [(a, b) for a, b in rows]


def _closure_owners(school: Organisation) -> list[int]:
    """Whose closures close the school: its own, and its authority's (for every school there)."""
    return [school.id] + ([school.local_authority_id] if school.local_authority_id else [])


def is_school_day(day: date, closed: list[tuple[date, date]]) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day) and not any(a <= day <= b for a, b in closed)


def next_school_day_start(school: Organisation | None, after: datetime) -> datetime:
    """The first school-day start strictly after `after` (aware), as aware UTC."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    local_day = after.astimezone(LONDON).date()
    return _first_start_after(school, after, closures(school, local_day, local_day + timedelta(days=LOOKAHEAD_DAYS)))


def _first_start_after(school: Organisation | None, after: datetime, closed: list[tuple[date, date]]) -> datetime:
    starts_at = start_time(school)
    local_day = after.astimezone(LONDON).date()
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = local_day + timedelta(days=offset)
        if not is_school_day(day, closed):
            continue
        # ZoneInfo resolves the wall-clock time on that day, so BST and GMT both give 08:30 local.
        candidate = datetime.combine(day, starts_at, tzinfo=LONDON).astimezone(UTC)
        if candidate > after:
            return candidate
    raise ValueError("no school day within a year: check the school's closures")


# --- many schools at once (the police download) ------------------------------------------------------

def next_school_day_starts(schools: list[Organisation], after: datetime) -> dict[int, datetime]:
    """next_school_day_start for each school (by id), every school's and authority's closures
    read in one query: an import chunk tells dozens of schools at the same moment."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    if not schools:
        return {}
    first = after.astimezone(LONDON).date()
    last = first + timedelta(days=LOOKAHEAD_DAYS)
    owners = {owner for s in schools for owner in _closure_owners(s)}
    by_owner: dict[int, list[tuple[date, date]]] = {}
    for owner, a, b in db.session().execute(select(
            SchoolClosure.organisation_id, SchoolClosure.first_day, SchoolClosure.last_day).where(
            SchoolClosure.organisation_id.in_(owners), SchoolClosure.first_day <= last,
            SchoolClosure.last_day >= first)):
        by_owner.setdefault(owner, []).append((a, b))
    return {s.id: _first_start_after(s, after, [c for owner in _closure_owners(s) for c in by_owner.get(owner, [])])
            for s in schools}


# --- which school day a moment belongs to (for "still missing" reminders) --------------------------

def school_day_start_on(school: Organisation | None, day: date) -> datetime | None:
    """The start of school on that local day, as aware UTC; None when the day is not a school day."""
    if not is_school_day(day, closures(school, day, day)):
        return None
    return datetime.combine(day, start_time(school), tzinfo=LONDON).astimezone(UTC)


def school_day_of(school: Organisation | None, moment: datetime) -> date:
    """The school day a moment belongs to: that day, if it is a school day and school has started;
    otherwise the next school day (a notice sent on Sunday night is for Monday's school day)."""
    day = moment.astimezone(LONDON).date()
    start = school_day_start_on(school, day)
    if start is not None and start <= moment:
        return day
    return next_school_day_start(school, moment).astimezone(LONDON).date()
