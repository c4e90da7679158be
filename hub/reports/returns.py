"""The returns authorities already make about missing children, exported exactly as specified.

**Standard Safeguarding Dataset, `ssd_missing`** (data-to-insight/ssd-data-model,
data/objects/ssd_missing.yml and the table's DDL in the extract scripts):
- columns miss_table_id (MISS001A, the episode's unique id "from system or auto-generated"),
  miss_person_id (MISS002A, a foreign key to ssd_person.pers_person_id: "Person's ID generated
  by current CMS Database", at most 20 letters and digits; in the hub, the child's local
  authority id), miss_missing_episode_start_date and _end_date (MISS003A/005A, DATETIME; the
  end "should be blank" while the child is still missing), miss_missing_episode_type (MISS004A:
  M missing from care, A away from placement without authorisation), miss_missing_rhi_offered
  (MISS006A, NVARCHAR(2), expected data "N", "Y", "NA" or NULL) and miss_missing_rhi_accepted
  (MISS007A).
- Dates are written as ISO date and time, `YYYY-MM-DD HH:MM:SS`, in UK local time (what a case
  management system holds; the hub stores UTC).
- RHI offered (MISS006A): NA while the child is still missing (no interview is due yet), else Y
  when a return interview was offered (hub.reports.definitions: an offer recorded, or an interview
  held or declined) and N when not.
  RHI accepted (MISS007A): Y when the interview took place, N when the child declined it, and
  blank when no interview was offered, as the SSD guidance says ("If an interview was not offered
  or the child has not been missing, leave blank"); blank too while an offer awaits the child's
  answer (neither yes nor no is known yet).
- The window the SSD extract keeps (its `@ssd_timeframe_years`, 6): episodes that ended within the
  last 6 years, or are still open; older ones are left out.

**SSDA903, the Missing file** (DfE's looked-after children return, as the data-to-insight
903 validator checks it): columns CHILD, DOB, MISSING, MIS_START, MIS_END; dates dd/mm/yyyy;
MISSING M or A (rule 564: a start is required when MISSING is M or A); MIS_START not after the
collection year's end (rule 570); MIS_END neither before the collection year's start nor after
its end (rule 571); the DOB must agree with the Header file's (INT13); CHILD is the authority's
own child identifier. The collection year runs 1 April to 31 March and is named, as DfE names it,
by the year it ends in: 2026 is 1 April 2025 to 31 March 2026.

Which episodes: every episode of a looked-after child that overlaps the year (started by its end,
rule 570, and not ended before its start, rule 571), not only those that started in it: one that
started before 1 April and ended in the year is this year's too, and one still open on 31 March is
returned with MIS_END blank, then again, closed, in the year it ends. The child must have been
looked after when the episode started (rule 581: not before they started to be looked after;
rule 578: not after they ceased), taken from their looked-after periods, not from whether they are
looked after now; if they ceased to be looked after while still missing, MIS_END is the day they
ceased (rule 577: no open episode after care ends; the SSD guidance says the same).

MISSING: M, "missing from care", is a looked-after child not at their placement or where they are
expected to be whose whereabouts are not known; A, "away from placement without authorisation",
is one whose whereabouts are known. The police's "missing" and "absent" classifications both
describe a child whose whereabouts are not known ("absent" is the lower-risk grade of not being
where expected), so both are M; the hub records no episode in which the child's whereabouts were
known, so it never codes A. A child with no local authority id cannot be named in either return:
their episodes are left out and counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, or_, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Forbidden, Invalid
from hub.models.auth import User
from hub.models.missing import Classification, MissingEpisode
from hub.models.people import Child, ChildIdentifier, IdentifierKind, LookedAfterPeriod
from hub.permissions import looked_after_return_child_ids, may_export_returns, return_child_ids
from hub.reports import definitions

LONDON = ZoneInfo("Europe/London")
SSD_MISSING_COLUMNS = (
    "miss_table_id", "miss_person_id", "miss_missing_episode_start_date", "miss_missing_episode_type",
    "miss_missing_episode_end_date", "miss_missing_rhi_offered", "miss_missing_rhi_accepted",
)
SSDA903_MISSING_COLUMNS = ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END")
#: MISS004A / the 903's MISSING. Police "absent" is whereabouts unknown too: M, never A (which is
#: "away from placement without authorisation", whereabouts known).
EPISODE_TYPE = {Classification.missing: "M", Classification.absent: "M"}
#: The SSD extract's window (`@ssd_timeframe_years`): episodes ended within it, or still open.
SSD_TIMEFRAME_YEARS = 6
#: The first collection year the hub offers (returns before it predate any hub).
FIRST_YEAR = 2015


@dataclass(frozen=True)
class CollectionYear:
    """1 April to 31 March, named by the year it ends in."""

    year: int

    @property
    def first_day(self) -> date:
        return date(self.year - 1, 4, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, 3, 31)

    @property
    def starts(self) -> datetime:
        return _london_midnight(self.first_day)

    @property
    def ends(self) -> datetime:
        """The first moment after the year (1 April, UK time), as UTC."""
        return _london_midnight(date(self.year, 4, 1))

    @property
    def label(self) -> str:
        return f"{self.year - 1} to {self.year}"


def _london_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON).astimezone(UTC)


def latest_year(today: date | None = None) -> int:
    """The collection year under way today (it may not be over yet)."""
    today = today or date.today()
    return today.year + 1 if today >= date(today.year, 4, 1) else today.year


def latest_complete_year(today: date | None = None) -> int:
    """The last collection year that has ended: what a return is usually made for."""
    return latest_year(today) - 1


def collection_year(year: int, today: date | None = None) -> CollectionYear:
    """The year, or Invalid naming the years the hub offers."""
    last = latest_year(today)
    if not FIRST_YEAR <= year <= last:
        raise Invalid({"year": f"Enter a collection year from {FIRST_YEAR} to {last}"})
    return CollectionYear(year)


@dataclass(frozen=True)
class ReturnFile:
    name: str
    filename: str
    content: bytes
    rows: int
    #: Episodes left out because their child has no local authority id.
    left_out: int


# --- the SSD ssd_missing table ----------------------------------------------------------------------

def ssd_missing(actor: User, today: date | None = None) -> ReturnFile:
    """The episodes of the authority's own children in the SSD's window: ended within the last
    6 years (UK local date) or still open."""
    _check(actor, "ssd_missing")
    today = today or datetime.now(LONDON).date()
    window_starts = _london_midnight(_years_before(today, SSD_TIMEFRAME_YEARS))
    episodes = _episodes(return_child_ids(actor), ended_since=window_starts)
    ids = _la_ids({e.child_id for e in episodes})
    rows = [ssd_row(e, ids[e.child_id]) for e in episodes if e.child_id in ids]
    return _finish(actor, "ssd_missing", None, "ssd_missing.csv", SSD_MISSING_COLUMNS, rows, len(episodes))


def ssd_row(episode: Row, person_id: str) -> list[str]:
    return [str(episode.id), person_id, _local_datetime(episode.reported_start), EPISODE_TYPE[episode.classification],
            _local_datetime(episode.found_at), rhi_offered(episode), rhi_accepted(episode)]


def rhi_offered(episode: Row) -> str:
    """MISS006A: NA while the child is still missing, else Y or N (definitions.RETURN_INTERVIEW_OFFERED)."""
    if episode.found_at is None:
        return "NA"
    offered = definitions.return_interview_offered(episode.return_interview_offered_at, episode.return_interview_at,
                                                   episode.return_interview_declined)
    return "Y" if offered else "N"


def rhi_accepted(episode: Row) -> str:
    """MISS007A: Y held, N declined; blank when none was offered (the SSD guidance), or while the
    child's answer to an offer is not known."""
    if episode.return_interview_at is not None:
        return "Y"
    return "N" if episode.return_interview_declined else ""


def _years_before(day: date, years: int) -> date:
    """The same day `years` earlier (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# --- the SSDA903 Missing file -----------------------------------------------------------------------

def ssda903_missing(actor: User, year_number: int, today: date | None = None) -> ReturnFile:
    """The episodes of the authority's looked-after children that overlap the collection year and
    started while the child was looked after (see the module's notes for each rule); permission
    first, so a refused user learns nothing from the year's check."""
    _check(actor, "ssda903_missing")
    year = collection_year(year_number, today)
    # Rule 570 (start not after the year's end) and rule 571 (end not before the year's start):
    # every episode overlapping the year, including one that started before it.
    found = _episodes(looked_after_return_child_ids(actor), year)
    periods = _looked_after_periods({e.child_id for e in found})
    episodes = [(e, period) for e in found
                if (period := _period_at(periods.get(e.child_id, []), _local_date(e.reported_start))) is not None
                and not _ended_before(e, period, year.first_day)]
    child_ids = {e.child_id for e, _period in episodes}
    ids = _la_ids(child_ids)
    births = _dates_of_birth(child_ids)
    rows = [ssda903_row(e, ids[e.child_id], births[e.child_id], year, period)
            for e, period in episodes if e.child_id in ids]
    return _finish(actor, "ssda903_missing", year.year, f"ssda903-missing-{year.year}.csv",
                   SSDA903_MISSING_COLUMNS, rows, len(episodes))


def ssda903_row(episode: Row, child: str, born: date, year: CollectionYear,
                period: LookedAfterPeriod | None = None) -> list[str]:
    ended = _mis_end(episode, period)
    if ended is not None and ended > year.last_day:
        ended = None  # rule 571: an end after the year's end is not this year's; the episode was open on 31 March
    return [child, _dmy(born), EPISODE_TYPE[episode.classification], _dmy(_local_date(episode.reported_start)),
            _dmy(ended) if ended else ""]


def _mis_end(episode: Row, period: LookedAfterPeriod | None) -> date | None:
    """The day the episode ended for the return: the child found, or the day they ceased to be
    looked after if that came first (rule 577: no episode left open once care has ended)."""
    ended = _local_date(episode.found_at)
    if period is not None and period.ended_on is not None and (ended is None or ended > period.ended_on):
        return period.ended_on
    return ended


def _ended_before(episode: Row, period: LookedAfterPeriod, day: date) -> bool:
    """Rule 571: an episode that ended (for the return) before the year began is not the year's."""
    ended = _mis_end(episode, period)
    return ended is not None and ended < day


def _looked_after_periods(child_ids: set[int]) -> dict[int, list[LookedAfterPeriod]]:
    if not child_ids:
        return {}
    periods: dict[int, list[LookedAfterPeriod]] = {}
    for period in db.session().scalars(select(LookedAfterPeriod).where(LookedAfterPeriod.child_id.in_(child_ids))):
        periods.setdefault(period.child_id, []).append(period)
    return periods


def _period_at(periods: list[LookedAfterPeriod], day: date | None) -> LookedAfterPeriod | None:
    """The looked-after period the day falls in: rule 581 (not before the child started to be looked
    after) and rule 578 (not after they ceased)."""
    return next((p for p in periods if day is not None and p.started_on <= day
                 and (p.ended_on is None or day <= p.ended_on)), None)


# --- shared ------------------------------------------------------------------------------------------

def check_may_export(actor: User, name: str = "returns") -> None:
    """Forbidden (audited) unless the actor makes their authority's returns."""
    _check(actor, name)


def _check(actor: User, name: str) -> None:
    if not may_export_returns(actor):
        audit.record_refusal(actor, "return", name, action="return-export")
        raise Forbidden("Only your authority's children's social care staff export its returns")


#: The columns the returns read: plain rows, not ORM objects (a large county has 50,000 episodes).
_EPISODE_COLUMNS = (MissingEpisode.id, MissingEpisode.child_id, MissingEpisode.reported_start, MissingEpisode.found_at,
                    MissingEpisode.classification, MissingEpisode.return_interview_offered_at,
                    MissingEpisode.return_interview_at, MissingEpisode.return_interview_declined)


def _episodes(children: Select, year: CollectionYear | None = None, ended_since: datetime | None = None) -> list[Row]:
    """The children's episodes: those overlapping the year (started before its end, not ended
    before its start), or those still open or ended since a moment."""
    query = select(*_EPISODE_COLUMNS).where(MissingEpisode.child_id.in_(children))
    if year is not None:
        query = query.where(MissingEpisode.reported_start < year.ends,
                            or_(MissingEpisode.found_at.is_(None), MissingEpisode.found_at >= year.starts))
    if ended_since is not None:
        query = query.where(or_(MissingEpisode.found_at.is_(None), MissingEpisode.found_at >= ended_since))
    return list(db.session().execute(query.order_by(MissingEpisode.reported_start, MissingEpisode.id)))


def _la_ids(child_ids: set[int]) -> dict[int, str]:
    """Child id -> the authority's own identifier, for those that have one (one query)."""
    if not child_ids:
        return {}
    return dict(db.session().execute(select(ChildIdentifier.child_id, ChildIdentifier.value).where(
        ChildIdentifier.kind == IdentifierKind.la_id, ChildIdentifier.child_id.in_(child_ids))).all())


def _dates_of_birth(child_ids: set[int]) -> dict[int, date]:
    if not child_ids:
        return {}
    rows = db.session().execute(select(Child.id, Child.date_of_birth_enc).where(Child.id.in_(child_ids)))
    return {child_id: date.fromisoformat(born) for child_id, born in rows}


def _local_date(moment: datetime | None) -> date | None:
    return moment.astimezone(LONDON).date() if moment is not None else None


def _local_datetime(moment: datetime | None) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """RFC 4180 CSV (CRLF line ends), UTF-8 without a byte-order mark, heading row first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _finish(actor: User, name: str, year: int | None, filename: str, columns: Sequence[str],
            rows: list[list[str]], found: int) -> ReturnFile:
    with unit_of_work():
        # One event for the export; counts only (the file itself names the children).
        audit.record("return-export", actor=actor, object_type="return", object_id=name,
                     detail={"return": name, "year": year, "rows": len(rows)})
    return ReturnFile(name, filename, to_csv(columns, rows), len(rows), found - len(rows))
