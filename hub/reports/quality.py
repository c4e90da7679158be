"""Data quality: the records that make the picture of missing wrong until someone fixes them.

The audit (003) found dates recorded inconsistently; every figure of the dashboard, the annual
report and the returns is only as good as these records. Five checks:

- **Still open after the child was back**: an episode with no end although, more than 72 hours
  ago, something showed the child had returned (a prevention check, a return interview offered
  or held, a school reporting the child in class, or a later episode of the same child).
- **Start differs from the police record**: the police download (or the force's API) is the
  authoritative start (DESIGN 3); the last change of the start was made by hand after the
  force's record had given it. Read from the audit log, which records every change's source.
- **Return interview with no findings**: an interview recorded as held with no findings shared.
- **Download rows waiting for review**: rows of the police download that matched no child.
- **MACE outcomes not confirmed on the agency's system**: owed outcomes (health: the child's
  health record) still without a system reference after the ten working days before the chair
  is told.

Scope: the episode checks count what the viewer's reports count (hub.permissions.report_scope);
the review rows those of the viewer's force (every force for an administrator or the analyst);
the MACE check the groups the viewer is a current member of (every group for the analyst). An
item links to its record only when hub.permissions says the viewer may change it; others see
the count. No names are shown: a police reference, a date, an agency.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.mace.operations.outcomes import escalation_due_on, expected_outcomes
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.mace import MaceMeeting, MaceOutcome
from hub.models.missing import EpisodeSource, ImportReviewItem, MissingEpisode, ReviewStatus
from hub.models.notifications import NotificationReply
from hub.models.people import Child
from hub.permissions import (
    episode_fixable_child_ids,
    mace_membership,
    may_record_mace_outcome,
    member_group_ids,
    quality_may_link_download_row,
    quality_waiting_rows_scope,
    report_scope,
)

#: How long after the evidence of return an episode may stay open before it is listed.
STALE_AFTER = timedelta(hours=72)
#: Held meetings looked at for unconfirmed outcomes.
OUTCOME_WINDOW = timedelta(days=365)
POLICE_SOURCES = {EpisodeSource.police_download.value, EpisodeSource.api.value}
LONDON = ZoneInfo("Europe/London")


def _when(moment: datetime, fmt: str = "%-d %b %Y %H:%M") -> str:
    """A stored (UTC) time as people in England read it."""
    return moment.astimezone(LONDON).strftime(fmt)


@dataclass(frozen=True)
class Item:
    """One record to fix: what it is (no names), and the page that fixes it."""

    text: str
    endpoint: str
    args: dict[str, int]


@dataclass
class Check:
    key: str
    title: str
    why: str
    count: int = 0
    #: The items the viewer may fix; the others are only counted.
    items: list[Item] = field(default_factory=list)
    #: Children the linked items concern (for the audit event; never shown).
    children: set[int] = field(default_factory=set)


@dataclass
class QualityReport:
    checks: list[Check]
    whole_area: bool


def quality_report(actor: User, now: datetime | None = None) -> QualityReport:
    """The checks in the viewer's scope; 404 (audited) for someone with no part in any."""
    now = now or utcnow()
    scope = report_scope(actor)
    episodes = scope.episodes if scope is not None else None
    checks = [c for c in (
        _open_after_return(actor, episodes, now), _start_differs(actor, episodes),
        _interview_without_findings(actor, episodes), _waiting_rows(actor), _unconfirmed_outcomes(actor, now),
    ) if c is not None]
    if not checks:
        audit.record_refusal(actor, "data-quality", None)
        raise NotFound("no data-quality checks for this user")
    _record_view(actor, checks)
    return QualityReport(checks, whole_area=bool(scope and scope.whole_area))


def _record_view(actor: User, checks: list[Check]) -> None:
    children = sorted(set().union(*(c.children for c in checks)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="data-quality", purpose="data quality",
                     detail={"counts": {c.key: c.count for c in checks}, "children": children})


# --- episodes ----------------------------------------------------------------------------------------

def _in_scope(clause: ColumnElement[bool]) -> Select:
    return select(MissingEpisode).join(Child, Child.id == MissingEpisode.child_id).where(clause)


def _episode_check(actor: User, key: str, title: str, why: str, episodes: list[MissingEpisode]) -> Check:
    fixable = episode_fixable_child_ids(actor, sorted({e.child_id for e in episodes}))
    check = Check(key, title, why, count=len(episodes))
    for episode in episodes:
        if episode.child_id in fixable:
            check.items.append(Item(f"Police reference {episode.police_reference}, reported "
                                    f"{_when(episode.reported_start)}", "missing.show", {"episode_id": episode.id}))
            check.children.add(episode.child_id)
    return check


def _open_after_return(actor: User, clause: ColumnElement[bool] | None, now: datetime) -> Check | None:
    if clause is None:
        return None
    open_episodes = list(db.session().scalars(_in_scope(clause).where(MissingEpisode.found_at.is_(None))
                                              .order_by(MissingEpisode.reported_start, MissingEpisode.id)))
    back = _evidence_of_return(open_episodes)
    stale = [e for e in open_episodes if e.id in back and back[e.id] <= now - STALE_AFTER]
    return _episode_check(
        actor, "open-after-return", "Episodes still open after the child was back",
        "No end date, although a prevention check, a return interview, a school or a later episode showed the "
        "child was back more than 72 hours ago.", stale)


def _evidence_of_return(episodes: list[MissingEpisode]) -> dict[int, datetime]:
    """Episode id -> the earliest moment something showed the child was back (three queries)."""
    if not episodes:
        return {}
    ids = [e.id for e in episodes]
    reply = NotificationReply
    seen = dict(db.session().execute(select(reply.episode_id, func.min(reply.seen_at))
                                     .where(reply.episode_id.in_(ids), reply.seen_at.is_not(None))
                                     .group_by(reply.episode_id)).all())
    starts: dict[int, list[datetime]] = defaultdict(list)
    for child_id, start in db.session().execute(select(MissingEpisode.child_id, MissingEpisode.reported_start)
                                                .where(MissingEpisode.child_id.in_({e.child_id for e in episodes}))):
        starts[child_id].append(start)
    found: dict[int, datetime] = {}
    for e in episodes:
        later = [s for s in starts[e.child_id] if s > e.reported_start]
        signs = [e.prevention_check_at, e.return_interview_offered_at, e.return_interview_at, _aware(seen.get(e.id)),
                 min(later) if later else None]
        signs = [s for s in signs if s is not None]
        if signs:
            found[e.id] = min(signs)
    return found


def _aware(moment: datetime | None) -> datetime | None:
    """An aggregate read back from SQLite has no zone (the hub stores UTC)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _start_differs(actor: User, clause: ColumnElement[bool] | None) -> Check | None:
    if clause is None:
        return None
    scoped = _in_scope(clause).with_only_columns(MissingEpisode.child_id)
    events: dict[int, list[str]] = defaultdict(list)
    for object_id, detail in db.session().execute(
            select(AuditEvent.object_id, AuditEvent.detail)
            .where(AuditEvent.child_id.in_(scoped), AuditEvent.object_type == "missing-episode",
                   AuditEvent.action == "update", AuditEvent.outcome == audit.DONE)
            .order_by(AuditEvent.id)):
        events[int(object_id)].append(detail or "")
    suspects = [episode_id for episode_id, details in events.items() if _hand_changed_start(details)]
    episodes = list(db.session().scalars(_in_scope(clause).where(MissingEpisode.id.in_(suspects)).order_by(
        MissingEpisode.reported_start, MissingEpisode.id))) if suspects else []
    differing = [e for e in episodes if _police_knows(e, events[e.id])]
    return _episode_check(
        actor, "start-differs", "Start dates changed by hand after the police record",
        "The police download is the authoritative start of an episode; these starts were last changed by hand.",
        differing)


def _changes(detail: str) -> tuple[set[str], str | None]:
    try:
        values = json.loads(detail) if detail else {}
    except ValueError:
        return set(), None
    return set(values.get("changed") or []), values.get("source")


def _hand_changed_start(details: list[str]) -> bool:
    """The last change of the start (in log order) came from someone's hand, not the force."""
    sources = [source for changed, source in map(_changes, details) if "reported_start" in changed]
    return bool(sources) and sources[-1] not in POLICE_SOURCES


def _police_knows(episode: MissingEpisode, details: list[str]) -> bool:
    """The force's own record has given this episode's start: it came from there or updated it."""
    return episode.source.value in POLICE_SOURCES or any(_changes(d)[1] in POLICE_SOURCES for d in details)


def _interview_without_findings(actor: User, clause: ColumnElement[bool] | None) -> Check | None:
    if clause is None:
        return None
    episodes = list(db.session().scalars(_in_scope(clause).where(
        MissingEpisode.return_interview_at.is_not(None), MissingEpisode.return_interview_share_id.is_(None))
        .order_by(MissingEpisode.return_interview_at, MissingEpisode.id)))
    return _episode_check(
        actor, "interview-without-findings", "Return interviews held with no findings recorded",
        "The interview is recorded as held, but its findings were not shared, so they cannot be collated.", episodes)


# --- the police download's review queue --------------------------------------------------------------

def _waiting_rows(actor: User) -> Check | None:
    scope = quality_waiting_rows_scope(actor)
    if scope is None:
        return None
    rows = list(db.session().scalars(select(ImportReviewItem).where(ImportReviewItem.status == ReviewStatus.waiting,
                                                                    scope).order_by(ImportReviewItem.id)))
    check = Check("waiting-download-rows", "Police download rows waiting for review",
                  "Rows of the daily download that matched no child: their episodes are in no figure until matched.",
                  count=len(rows))
    for row in rows:
        if quality_may_link_download_row(actor, row.police_org_id):
            check.items.append(Item(f"Row {row.row_number} of download {row.batch_id}, police reference "
                                    f"{row.police_reference}", "missing_import.item", {"item_id": row.id}))
    return check


# --- MACE outcomes -----------------------------------------------------------------------------------

def _outcome_groups(actor: User) -> Select | None:
    scope = report_scope(actor)
    if scope is not None and scope.whole_area and scope.mace_groups is not None:
        return scope.mace_groups
    groups = member_group_ids(actor)
    return groups if db.session().scalar(select(func.count()).select_from(groups.subquery())) else None


def _unconfirmed_outcomes(actor: User, now: datetime) -> Check | None:
    groups = _outcome_groups(actor)
    if groups is None:
        return None
    today = now.astimezone(LONDON).date()
    meetings = [m for m in db.session().scalars(select(MaceMeeting).where(
        MaceMeeting.group_id.in_(groups), MaceMeeting.held_at.is_not(None), MaceMeeting.held_at >= now - OUTCOME_WINDOW)
        .order_by(MaceMeeting.held_at, MaceMeeting.id)) if escalation_due_on(m) <= today]
    owed = _still_owed(meetings)
    check = Check("unconfirmed-mace-outcomes", "MACE outcomes not confirmed on the agency's own system",
                  "Ten working days after the meeting, these agencies (health: the child's health record) have not "
                  "confirmed the outcome on their system with its reference.", count=sum(map(len, owed.values())))
    names = _organisation_names({org for _, org in owed})
    by_id = {m.id: m for m in meetings}
    for (meeting_id, org_id), children in owed.items():
        meeting = by_id[meeting_id]
        if may_record_mace_outcome(mace_membership(actor, meeting.group_id), org_id):
            check.items.append(Item(f"{names[org_id]}: {len(children)} outcome(s) from the meeting of "
                                    f"{_when(meeting.held_at, '%-d %b %Y')}", "mace_actions.meeting_outcomes",
                                    {"meeting_id": meeting_id}))
            check.children.update(children)
    return check


def _still_owed(meetings: list[MaceMeeting]) -> dict[tuple[int, int], list[int]]:
    """(meeting, agency) -> the children whose outcome it has not confirmed with a reference."""
    expected = expected_outcomes([m.id for m in meetings])
    if not expected:
        return {}
    confirmed = set(db.session().execute(select(MaceOutcome.meeting_id, MaceOutcome.organisation_id,
                                                MaceOutcome.child_id).where(
        MaceOutcome.meeting_id.in_([m.id for m in meetings]), MaceOutcome.confirmed_at.is_not(None),
        MaceOutcome.system_reference.is_not(None))).all())
    owed = {key: [c for c in children if (*key, c) not in confirmed] for key, children in expected.items()}
    return {key: children for key, children in owed.items() if children}


def _organisation_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session().execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())
