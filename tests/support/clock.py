"""A fixed week of school days for the tests of deadlines and reminders: Thursday 5 March 2026
to Tuesday 10 March, and London wall-clock times on them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.notifications import calendar

THURSDAY = date(2026, 3, 5)
FRIDAY, SATURDAY, SUNDAY, MONDAY, TUESDAY = (date(2026, 3, d) for d in (6, 7, 8, 9, 10))


def at(day: date, hhmm: str) -> datetime:
    """Europe/London wall-clock time as aware UTC."""
    hours, minutes = hhmm.split(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes),
                    tzinfo=calendar.LONDON).astimezone(UTC)
