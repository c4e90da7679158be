"""When is the start of the next school day? A notification's deadline.

School days are weekdays that are not England and Wales bank holidays (the `holidays` package)
and not a closure (holiday or INSET day) that an administrator set for the school or for every
school of its authority. The school day starts at the school's own time (default 08:30) in
Europe/London, whatever the clocks did overnight: the local time is turned into UTC per day, so
the two clock changes move the UTC deadline and not the school's morning.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import or_, select

from hub import db
from hub.auth.models import Organisation
from hub.notifications.models import SchoolClosure

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
    owners = [school.id] + ([school.local_authority_id] if school.local_authority_id else [])
    rows = db.session().execute(select(SchoolClosure.first_day, SchoolClosure.last_day).where(
        SchoolClosure.organisation_id.in_(owners), SchoolClosure.first_day <= last, SchoolClosure.last_day >= first))
    return [(a, b) for a, b in rows]


def is_school_day(day: date, closed: list[tuple[date, date]]) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day) and not any(a <= day <= b for a, b in closed)


def next_school_day_start(school: Organisation | None, after: datetime) -> datetime:
    """The first school-day start strictly after `after` (aware), as aware UTC."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    starts_at = start_time(school)
    local_day = after.astimezone(LONDON).date()
    closed = closures(school, local_day, local_day + timedelta(days=LOOKAHEAD_DAYS))
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = local_day + timedelta(days=offset)
        if not is_school_day(day, closed):
            continue
        # ZoneInfo resolves the wall-clock time on that day, so BST and GMT both give 08:30 local.
        candidate = datetime.combine(day, starts_at, tzinfo=LONDON).astimezone(timezone.utc)
        if candidate > after:
            return candidate
    raise ValueError("no school day within a year: check the school's closures")
