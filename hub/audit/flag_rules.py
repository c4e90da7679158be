"""The rules that raise flags for the DPO, as a pure function of the log's events: nothing here
reads or writes the database. `Detector` is fed events in log order and answers what each one
raises; it counts across events (views in a day, failed sign-ins in an hour), so earlier events
can be fed first with `raising=False` to bring the counts up to date.

Working hours are London time, Monday to Friday, per organisation (`Organisation.working_hours_*`,
HH:MM; an end of 24:00 means midnight)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
DEFAULT_HOURS = ("08:00", "18:00")
VOLUME_THRESHOLD = 50  # different children whose records one user viewed in one day
FAILED_SIGN_IN_THRESHOLD = 5  # refused sign-ins for one account in one hour
FAILED_SIGN_IN_WINDOW = timedelta(hours=1)
BULK_EXPORT_THRESHOLD = 100  # entries or rows in one export


@dataclass(frozen=True)
class WorkingHours:
    start: str = DEFAULT_HOURS[0]
    end: str = DEFAULT_HOURS[1]

    def __str__(self) -> str:
        return f"{self.start} to {self.end}, Monday to Friday"

    def covers(self, moment: datetime) -> bool:
        local = aware(moment).astimezone(LONDON)
        return local.weekday() < 5 and self.start <= f"{local:%H:%M}" < self.end  # HH:MM strings sort as times


def valid_hours(start: str, end: str) -> bool:
    """HH:MM, start before end; the end may be 24:00 (midnight)."""
    def ok(value: str, latest: str) -> bool:
        try:
            return len(value) == 5 and time.fromisoformat(value if value != "24:00" else "00:00") is not None \
                and value <= latest
        except ValueError:
            return False
    return ok(start, "23:59") and ok(end, "24:00") and start < end


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def london_day(moment: datetime) -> date:
    return aware(moment).astimezone(LONDON).date()


@dataclass(frozen=True)
class Found:
    kind: str
    event: object  # an AuditEvent: seq, occurred_at, action, outcome, actor_user_id, actor_org_id, child_id
    reason: str
    #: The child the flag is about, when it is about one: never one child picked from a listing
    #: or from a count of many (a volume flag is about the user, not a child).
    child_id: int | None = None


def children_read(event) -> list[int]:
    """The children a successful read showed: its child, or every child a listing named."""
    if event.action != "read" or event.outcome != "done":
        return []
    if event.child_id:
        return [event.child_id]
    if event.detail and '"children"' in event.detail:
        return list(json.loads(event.detail).get("children") or [])
    return []


def is_child_read(event) -> bool:
    return bool(children_read(event))


def is_failed_sign_in(event) -> bool:
    return event.action == "sign-in" and event.outcome == "refused" and bool(event.actor_user_id)


class Detector:
    """`hours`: each organisation's working hours (others get the default); `same_surname`:
    the (user, child) pairs where the child shares the user's surname."""

    def __init__(self, hours: dict[int, WorkingHours], same_surname: set[tuple[int, int]]):
        self.hours = hours
        self.same_surname = same_surname
        #: The different children each user saw each London day: a listing seen again, or a
        #: record opened twice, is the same child, not another view to count.
        self.daily_children: dict[tuple[int | None, date], set[int]] = defaultdict(set)
        self.failures: dict[int, list[datetime]] = defaultdict(list)

    def feed(self, event, raising: bool = True) -> list[Found]:
        found = []
        when = aware(event.occurred_at)
        if event.access_basis and event.access_basis.startswith("break-glass"):
            found.append(Found("break-glass", event, "Access with no legitimate relationship (break glass)",
                               event.child_id))
        children = children_read(event)
        if children:
            only = children[0] if len(children) == 1 else None
            hours = self.hours.get(event.actor_org_id, WorkingHours())
            if not hours.covers(when):
                found.append(Found("out-of-hours", event, f"Child records viewed out of working hours ({hours})",
                                   only))
            seen = self.daily_children[(event.actor_user_id, london_day(when))]
            before = len(seen)
            seen.update(children)
            if before <= VOLUME_THRESHOLD < len(seen):
                found.append(Found("volume", event, f"{len(seen)} different children's records viewed in one day "
                                                    f"(more than {VOLUME_THRESHOLD})"))
            for child in children:
                if (event.actor_user_id, child) in self.same_surname:
                    found.append(Found("same-surname", event, "Looked up a child who shares their surname", child))
                    break
        if is_failed_sign_in(event):
            recent = [t for t in self.failures[event.actor_user_id] if when - t < FAILED_SIGN_IN_WINDOW] + [when]
            self.failures[event.actor_user_id] = recent
            if len(recent) == FAILED_SIGN_IN_THRESHOLD:
                found.append(Found("failed-sign-ins", event,
                                   f"{FAILED_SIGN_IN_THRESHOLD} failed sign-ins within an hour"))
        if event.action == "export":
            detail = json.loads(event.detail) if event.detail else {}
            size = max(detail.get("entries", 0), detail.get("rows", 0))
            if size > BULK_EXPORT_THRESHOLD:
                found.append(Found("bulk-export", event, f"Export of more than {BULK_EXPORT_THRESHOLD} records"))
        return found if raising else []


def context_start(first_new: datetime) -> datetime:
    """How far back the counting rules look before the first new event: its London day, and
    the failed sign-in window."""
    first_new = aware(first_new)
    day_start = datetime.combine(london_day(first_new), time.min, LONDON).astimezone(UTC)
    return min(day_start, first_new - FAILED_SIGN_IN_WINDOW)
