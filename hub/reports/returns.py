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
- RHI offered: NA while the child is still missing (no interview is due yet), else Y or N.
  RHI accepted: Y when the interview took place, N when the child declined, else NA (the issue's
  code list; the SSD guidance would leave it blank when no interview was offered).

**SSDA903, the Missing file** (DfE's looked-after children return, as the data-to-insight
903 validator checks it): columns CHILD, DOB, MISSING, MIS_START, MIS_END; dates dd/mm/yyyy;
MISSING M or A (rule 564: a start is required when MISSING is M or A); MIS_START not after the
collection year's end (rule 570); MIS_END neither before the collection year's start nor after
its end (rule 571), so an episode still open on 31 March is returned with MIS_END blank; the DOB
must agree with the Header file's (INT13); CHILD is the authority's own child identifier. The
collection year runs 1 April to 31 March and is named, as DfE names it, by the year it ends in:
2026 is 1 April 2025 to 31 March 2026. An episode belongs to the year in which it starts (UK
local date).

The hub maps its "absent" classification (not where they are expected to be) to A. A child with
no local authority id cannot be named in either return: their episodes are left out and counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, select

from hub import db
from hub.audit import service as audit
from hub.auth.models import User
from hub.db import unit_of_work
from hub.errors import Forbidden, Invalid
from hub.missing.models import Classification, MissingEpisode
from hub.people.models import Child, ChildIdentifier, IdentifierKind
from hub.permissions import looked_after_return_child_ids, may_export_returns, return_child_ids

LONDON = ZoneInfo("Europe/London")
SSD_MISSING_COLUMNS = (
    "miss_table_id", "miss_person_id", "miss_missing_episode_start_date", "miss_missing_episode_type",
    "miss_missing_episode_end_date", "miss_missing_rhi_offered", "miss_missing_rhi_accepted",
)
SSDA903_MISSING_COLUMNS = ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END")
EPISODE_TYPE = {Classification.missing: "M", Classification.absent: "A"}
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
    return datetime(day.year, day.month, day.day, tzinfo=LONDON).astimezone(timezone.utc)


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

def ssd_missing(actor: User) -> ReturnFile:
    """Every episode of the authority's own children, open ones open."""
    _check(actor, "ssd_missing")
    episodes = _episodes(return_child_ids(actor))
    ids = _la_ids({e.child_id for e in episodes})
    rows = [ssd_row(e, ids[e.child_id]) for e in episodes if e.child_id in ids]
    return _finish(actor, "ssd_missing", None, "ssd_missing.csv", SSD_MISSING_COLUMNS, rows, len(episodes))


def ssd_row(episode: Row, person_id: str) -> list[str]:
    return [str(episode.id), person_id, _local_datetime(episode.reported_start), EPISODE_TYPE[episode.classification],
            _local_datetime(episode.found_at), rhi_offered(episode), rhi_accepted(episode)]


def rhi_offered(episode: Row) -> str:
    if episode.found_at is None:
        return "NA"
    offered = episode.return_interview_offered_at or episode.return_interview_at or episode.return_interview_declined
    return "Y" if offered else "N"


def rhi_accepted(episode: Row) -> str:
    if episode.return_interview_at is not None:
        return "Y"
    return "N" if episode.return_interview_declined else "NA"


# --- the SSDA903 Missing file -----------------------------------------------------------------------

def ssda903_missing(actor: User, year_number: int, today: date | None = None) -> ReturnFile:
    """The looked-after children's episodes that started in the collection year (permission
    first, so a refused user learns nothing from the year's check)."""
    _check(actor, "ssda903_missing")
    year = collection_year(year_number, today)
    episodes = _episodes(looked_after_return_child_ids(actor), year)
    child_ids = {e.child_id for e in episodes}
    ids = _la_ids(child_ids)
    births = _dates_of_birth(child_ids)
    rows = [ssda903_row(e, ids[e.child_id], births[e.child_id], year) for e in episodes if e.child_id in ids]
    return _finish(actor, "ssda903_missing", year.year, f"ssda903-missing-{year.year}.csv",
                   SSDA903_MISSING_COLUMNS, rows, len(episodes))


def ssda903_row(episode: Row, child: str, born: date, year: CollectionYear) -> list[str]:
    # Rule 571: an end after the year's end is not this year's to report; the episode was open.
    ended = episode.found_at if episode.found_at is not None and episode.found_at < year.ends else None
    return [child, _dmy(born), EPISODE_TYPE[episode.classification], _dmy(_local_date(episode.reported_start)),
            _dmy(_local_date(ended)) if ended else ""]


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


def _episodes(children: Select, year: CollectionYear | None = None) -> list[Row]:
    query = select(*_EPISODE_COLUMNS).where(MissingEpisode.child_id.in_(children))
    if year is not None:
        query = query.where(MissingEpisode.reported_start >= year.starts, MissingEpisode.reported_start < year.ends)
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
