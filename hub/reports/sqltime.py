"""London local time in SQL, the same answer on SQLite and PostgreSQL.

The hub stores UTC. People count days and months in Europe/London, so a figure "by month" or "by
hour of the day" needs the local time of each row, worked out in the database (the rows are never
fetched one by one). PostgreSQL knows the zone (`timezone('Europe/London', ts)`); SQLite does not,
so there the offset is a CASE over the summer-time intervals of the years asked about (London is
UTC+1 in summer time, UTC otherwise), computed here from the zone database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, extract, func, literal, or_

LONDON = ZoneInfo("Europe/London")


def london_midnight(day: date) -> datetime:
    """The UTC instant at which `day` begins in London."""
    return datetime.combine(day, time(0), LONDON).astimezone(UTC)


def summer_intervals(first_year: int, last_year: int) -> list[tuple[datetime, datetime]]:
    """[start, end) in UTC of each summer-time period of the years, found from the zone data (so a
    change of the rules needs no change here): the hour at which the offset changes."""
    intervals = []
    for year in range(first_year, last_year + 1):
        start = _offset_change(year, 1, 6, to_summer=True)
        end = _offset_change(year, 7, 12, to_summer=False)
        if start and end:
            intervals.append((start, end))
    return intervals


@lru_cache(maxsize=256)
def _offset_change(year: int, first_month: int, last_month: int, *, to_summer: bool) -> datetime | None:
    """The first UTC hour of the year's months at which London's offset becomes (or stops being) +1.
    Cached: an hour-by-hour walk of half a year is about 7 ms, and every SQLite report page asks
    for three years' changes (a fixed answer for the life of the process and its zone data)."""
    moment = datetime(year, first_month, 1, tzinfo=UTC)
    stop = datetime(year, last_month, 28, tzinfo=UTC)
    while moment < stop:
        summer = moment.astimezone(LONDON).utcoffset() != timedelta(0)
        if summer == to_summer:
            return moment
        moment += timedelta(hours=1)
    return None


class LocalTime:
    """Builds expressions for one dialect and one span of years (SQLite's summer-time CASE)."""

    def __init__(self, dialect: str, first_year: int, last_year: int) -> None:
        self.dialect = dialect
        self.intervals = summer_intervals(first_year - 1, last_year + 1) if dialect == "sqlite" else []

    def _sqlite_modifier(self, column) -> ColumnElement:
        if not self.intervals:
            return literal("+0 hours")
        summer = or_(*[and_(column >= start, column < end) for start, end in self.intervals])
        return case((summer, literal("+1 hours")), else_=literal("+0 hours"))

    def _sqlite(self, fmt: str, column) -> ColumnElement:
        return func.strftime(fmt, column, self._sqlite_modifier(column))

    def _pg_local(self, column) -> ColumnElement:
        return func.timezone("Europe/London", column)

    def month(self, column) -> ColumnElement:
        """'YYYY-MM' of the local date."""
        if self.dialect == "sqlite":
            return self._sqlite("%Y-%m", column)
        return func.to_char(self._pg_local(column), "YYYY-MM")

    def weekday(self, column) -> ColumnElement:
        """0 = Sunday ... 6 = Saturday, as both databases count."""
        if self.dialect == "sqlite":
            return cast(self._sqlite("%w", column), Integer)
        return cast(extract("dow", self._pg_local(column)), Integer)

    def hour(self, column) -> ColumnElement:
        if self.dialect == "sqlite":
            return cast(self._sqlite("%H", column), Integer)
        return cast(extract("hour", self._pg_local(column)), Integer)

    def month_number(self, column) -> ColumnElement:
        """year * 12 + month of the local date (ages in months are differences of these)."""
        if self.dialect == "sqlite":
            return cast(self._sqlite("%Y", column), Integer) * 12 + cast(self._sqlite("%m", column), Integer)
        local = self._pg_local(column)
        return cast(extract("year", local), Integer) * 12 + cast(extract("month", local), Integer)

    def date_month_number(self, column) -> ColumnElement:
        """year * 12 + month of a DATE column (no zone: a date is already local)."""
        if self.dialect == "sqlite":
            return cast(func.strftime("%Y", column), Integer) * 12 + cast(func.strftime("%m", column), Integer)
        return cast(extract("year", column), Integer) * 12 + cast(extract("month", column), Integer)

    def seconds_between(self, later, earlier) -> ColumnElement:
        """later - earlier in whole seconds, each time taken to the second it falls in (NULL when
        either is NULL). Integers on both databases, so a limit compares exactly: a check exactly
        4 hours after the return is 14400 seconds, within "4 hours" (SQLite's julianday is a
        floating-point day, and 4 hours of it times 24 came out a hair over 4)."""
        if self.dialect == "sqlite":
            return cast(func.strftime("%s", later), Integer) - cast(func.strftime("%s", earlier), Integer)
        return (cast(func.floor(extract("epoch", later)), BigInteger)
                - cast(func.floor(extract("epoch", earlier)), BigInteger))
