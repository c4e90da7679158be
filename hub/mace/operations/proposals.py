"""Agenda proposals: what the chair of a MACE group is invited to put on a meeting's agenda.

Five rules (issue 11), each computed from what is recorded and never stored:

1. `missing`  a child of the group's area with a missing episode since the group's last held
              meeting (or the last 28 days when it has held none);
2. `mmm`      a child of the area meeting the missing management meeting triggers
              (hub.missing.rules.meeting_reasons) over the episodes of the last 6 months;
3. `review`   a child the group holds whose risk review is due by the meeting date;
4. `linked`   a location or a person linked (current links) to two or more children;
5. `actions`  open actions, proposed for review under their subject (or the group as a whole).

A proposal's key is `rule:subject_kind:subject_id:evidence`, the evidence being what brought it
(sorted episode ids, linked child ids, the review date, open action ids): the chair's answer is
stored against the key (MaceProposalDecision), so a dismissed proposal stays dismissed until the
evidence changes, when the key changes with it. A proposal already answered, or whose subject is
already on the meeting's agenda, is not shown again.

The queries are batched: the page runs the same number of SQL statements whatever the size of the
group (the pure functions below do the rest in memory).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import load_only, raiseload

from hub import db
from hub.db import utcnow
from hub.forms import utc_to_london
from hub.missing.rules import MEETING_LOOKBACK, meeting_reasons
from hub.models.auth import User
from hub.models.mace import (
    ActionStatus,
    MaceAction,
    MaceAgendaChild,
    MaceAgendaItem,
    MaceGroup,
    MaceLink,
    MaceLocation,
    MaceMeeting,
    MacePerson,
    MaceProposalDecision,
    MeetingStatus,
)
from hub.models.missing import MissingEpisode
from hub.models.people import Child
from hub.permissions import mace_proposable_child_ids

#: Without a held meeting, "since the last meeting" means this long.
DEFAULT_SINCE = timedelta(days=28)
KEY_MAX = 200
RULE_LABELS = {
    "missing": "Missing episode since the last meeting",
    "mmm": "Missing management meeting triggers",
    "review": "Risk review due",
    "linked": "Linked to two or more children",
    "actions": "Open actions to review",
}
CLOSED = [s for s in ActionStatus if s.closed]


@dataclass(frozen=True)
class Proposal:
    rule: str
    #: "child", "location", "person", or "group" for open actions with no subject.
    kind: str
    subject_id: int
    evidence: tuple
    #: Why, in words without personal free text ("2 episodes since 3 Mar 2026").
    why: str

    @property
    def key(self) -> str:
        return proposal_key(self.rule, self.kind, self.subject_id, self.evidence)

    @property
    def label(self) -> str:
        return RULE_LABELS[self.rule]

    @property
    def reason(self) -> str:
        """What the agenda item records as the reason it is there (at most 200 characters)."""
        return f"Proposal accepted: {self.label.lower()} ({self.why})"[:200]


def proposal_key(rule: str, kind: str, subject_id: int, evidence: Iterable) -> str:
    """The stable key; evidence too long for the column is replaced by its hash."""
    text = ",".join(str(e) for e in evidence)
    key = f"{rule}:{kind}:{subject_id}:{text}"
    if len(key) > KEY_MAX:
        key = f"{rule}:{kind}:{subject_id}:sha256-{hashlib.sha256(text.encode()).hexdigest()}"
    return key


# --- the rules, pure ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EpisodeFact:
    """What the rules need of an episode (the database row carries encrypted text they do not)."""

    id: int
    child_id: int
    reported_start: datetime
    episode: MissingEpisode


def missing_since(episodes: list[EpisodeFact], since: datetime) -> list[Proposal]:
    """Rule 1: one proposal per child with an episode reported since `since`."""
    by_child: dict[int, list[int]] = defaultdict(list)
    for e in episodes:
        if e.reported_start >= since:
            by_child[e.child_id].append(e.id)
    return [Proposal("missing", "child", child_id, tuple(sorted(ids)),
                     f"{len(ids)} episode{'s' if len(ids) > 1 else ''} since {since:%-d %b %Y}")
            for child_id, ids in sorted(by_child.items())]


def management_triggers(episodes: list[EpisodeFact], now: datetime) -> list[Proposal]:
    """Rule 2: the missing management meeting triggers over each child's last 6 months."""
    by_child: dict[int, list[EpisodeFact]] = defaultdict(list)
    for e in episodes:
        by_child[e.child_id].append(e)
    found = []
    for child_id, mine in sorted(by_child.items()):
        starts = [e.reported_start for e in mine]
        ids, reasons = [], []
        for e in mine:
            if e.reported_start < now - MEETING_LOOKBACK:
                continue
            recent = sum(1 for s in starts if e.reported_start - MEETING_LOOKBACK <= s <= e.reported_start)
            why = meeting_reasons(e.episode, recent, now)
            if why:
                ids.append(e.id)
                reasons.extend(r for r in why if r not in reasons)
        if ids:
            found.append(Proposal("mmm", "child", child_id, tuple(sorted(ids)), "; ".join(reasons)))
    return found


def reviews_due(held: list[tuple[int, date]], meeting_day: date) -> list[Proposal]:
    """Rule 3: (child_id, risk_review_due) of the children the group holds, due by the meeting."""
    return [Proposal("review", "child", child_id, (due.isoformat(),), f"review due {due:%-d %b %Y}")
            for child_id, due in sorted(held) if due is not None and due <= meeting_day]


def linked_to_many(links: list[tuple[str, int, int]]) -> list[Proposal]:
    """Rule 4: (kind, subject_id, child_id) current links; a subject linked to two or more children."""
    children: dict[tuple[str, int], set[int]] = defaultdict(set)
    for kind, subject_id, child_id in links:
        children[(kind, subject_id)].add(child_id)
    return [Proposal("linked", kind, subject_id, tuple(sorted(ids)), f"linked to {len(ids)} children")
            for (kind, subject_id), ids in sorted(children.items()) if len(ids) >= 2]


def open_actions(actions: list[tuple[int, str, int]], group_id: int) -> list[Proposal]:
    """Rule 5: (action_id, subject kind, subject id) of open actions, one proposal per subject;
    actions with no subject together under the group."""
    by_subject: dict[tuple[str, int], list[int]] = defaultdict(list)
    for action_id, kind, subject_id in actions:
        by_subject[(kind, subject_id) if kind else ("group", group_id)].append(action_id)
    return [Proposal("actions", kind, subject_id, tuple(sorted(ids)),
                     f"{len(ids)} open action{'s' if len(ids) > 1 else ''}")
            for (kind, subject_id), ids in sorted(by_subject.items())]


def still_open(proposals: list[Proposal], decided: set[str], on_agenda: set[tuple[str, int]]) -> list[Proposal]:
    """Drop proposals already answered (by key) or whose subject is already on the agenda."""
    return [p for p in proposals if p.key not in decided and (p.kind, p.subject_id) not in on_agenda]


# --- the queries, batched ------------------------------------------------------------------------------

#: The most proposals one page shows: a chair decides a screenful at a time, and the rest appear as
#: these are accepted or dismissed (a group with years of history can have hundreds open at once).
SHOWN = 100


@dataclass
class Proposals:
    proposals: list[Proposal]
    since: datetime
    #: How many are open in all (`proposals` holds the first SHOWN of them).
    total: int = 0
    children: dict[int, Child] = field(default_factory=dict)
    locations: dict[int, MaceLocation] = field(default_factory=dict)
    persons: dict[int, MacePerson] = field(default_factory=dict)

    def name(self, p: Proposal) -> str:
        if p.kind == "child":
            return self.children[p.subject_id].full_name
        if p.kind == "location":
            return self.locations[p.subject_id].name
        if p.kind == "person":
            return self.persons[p.subject_id].name
        return "The group's open actions"

    @property
    def child_ids(self) -> list[int]:
        return sorted({p.subject_id for p in self.proposals if p.kind == "child"})


def meeting_day(meeting: MaceMeeting) -> date:
    return utc_to_london(meeting.scheduled_for)[0]


def _since(group_id: int, now: datetime) -> datetime:
    last = db.session().scalar(select(func.max(MaceMeeting.held_at)).where(
        MaceMeeting.group_id == group_id, MaceMeeting.status == MeetingStatus.held))
    if last is not None and last.tzinfo is None:  # SQLite's max() comes back as a naive UTC time
        last = last.replace(tzinfo=now.tzinfo)
    return last or now - DEFAULT_SINCE


def _episodes(group: MaceGroup, since: datetime, now: datetime) -> list[EpisodeFact]:
    if group.area_authority_id is None:
        return []
    area = group.area_authority_id
    start = min(since, now - 2 * MEETING_LOOKBACK)  # earlier episodes count towards "3 in 6 months"
    rows = db.session().scalars(
        select(MissingEpisode).join(Child, Child.id == MissingEpisode.child_id)
        .where(MissingEpisode.reported_start >= start,
               or_(Child.responsible_authority_id == area, MissingEpisode.home_authority_id == area,
                   MissingEpisode.receiving_authority_id == area))
        .options(raiseload("*")).order_by(MissingEpisode.child_id, MissingEpisode.reported_start))
    return [EpisodeFact(e.id, e.child_id, e.reported_start, e) for e in rows]


def _links(group_id: int) -> list[tuple[str, int, int]]:
    rows = db.session().execute(
        select(MaceLink.location_id, MaceLink.person_id, MaceLink.child_id)
        .outerjoin(MacePerson, MacePerson.id == MaceLink.person_id)
        .where(MaceLink.group_id == group_id, MaceLink.ended_at.is_(None), MaceLink.child_id.is_not(None),
               MacePerson.removed_at.is_(None)))
    return [("location", loc, child) if loc is not None else ("person", person, child)
            for loc, person, child in rows]


def _actions(group_id: int) -> list[tuple[int, str, int]]:
    rows = db.session().execute(
        select(MaceAction.id, MaceAction.child_id, MaceAction.person_id, MaceAgendaItem.child_id,
               MaceAgendaItem.location_id, MaceAgendaItem.person_id)
        .outerjoin(MaceAgendaItem, MaceAgendaItem.id == MaceAction.item_id)
        .where(MaceAction.group_id == group_id, MaceAction.status.not_in(CLOSED)))
    found = []
    for action_id, child_id, person_id, item_child, item_location, item_person in rows:
        if child_id or item_child:
            found.append((action_id, "child", child_id or item_child))
        elif person_id or item_person:
            found.append((action_id, "person", person_id or item_person))
        elif item_location:
            found.append((action_id, "location", item_location))
        else:
            found.append((action_id, "", 0))
    return found


def compute(meeting: MaceMeeting, chair: User, now: datetime | None = None) -> Proposals:
    """Every open proposal for the meeting that may be shown to this chair, with the names of
    their subjects (a fixed number of statements: last meeting, episodes, held children, links,
    actions, decisions, agenda, the children the chair may be offered, and one each for the
    children's, locations' and persons' names). A proposal about a child names the child, so it is
    offered only when the group holds the child or the chair may see them
    (hub.permissions.mace_proposable_child_ids)."""
    now = now or utcnow()
    s = db.session()
    group = meeting.group
    since = _since(group.id, now)
    episodes = _episodes(group, since, now)
    held = list(s.execute(select(MaceAgendaChild.child_id, MaceAgendaChild.risk_review_due).where(
        MaceAgendaChild.group_id == group.id, MaceAgendaChild.removed_at.is_(None),
        MaceAgendaChild.risk_review_due.is_not(None))))
    found = (missing_since(episodes, since) + management_triggers(episodes, now)
             + reviews_due([tuple(r) for r in held], meeting_day(meeting)) + linked_to_many(_links(group.id))
             + open_actions(_actions(group.id), group.id))
    decided = set(s.scalars(select(MaceProposalDecision.proposal_key).where(
        MaceProposalDecision.group_id == group.id)))
    on_agenda = {(i.subject_kind.value, i.subject_id) for i in s.scalars(
        select(MaceAgendaItem).where(MaceAgendaItem.meeting_id == meeting.id))}
    offered = mace_proposable_child_ids(chair, group.id, sorted({p.subject_id for p in found if p.kind == "child"}))
    found = [p for p in found if p.kind != "child" or p.subject_id in offered]
    open_ = still_open(found, decided, on_agenda)
    result = Proposals(open_[:SHOWN], since, total=len(open_))
    names(result)
    return result


def names(result: Proposals) -> None:
    """Load the subjects the proposals name, one query per kind."""
    s = db.session()
    wanted: dict[str, set[int]] = defaultdict(set)
    for p in result.proposals:
        wanted[p.kind].add(p.subject_id)
    # Only the names: every encrypted column loaded is one more decryption per row.
    result.children = {c.id: c for c in s.scalars(select(Child).where(Child.id.in_(wanted["child"])).options(
        load_only(Child.given_name, Child.family_name), raiseload("*")))}
    result.locations = {x.id: x for x in s.scalars(select(MaceLocation).where(
        MaceLocation.id.in_(wanted["location"])).options(load_only(MaceLocation.name), raiseload("*")))}
    result.persons = {x.id: x for x in s.scalars(select(MacePerson).where(
        MacePerson.id.in_(wanted["person"])).options(load_only(MacePerson.name), raiseload("*")))}
