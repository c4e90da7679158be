"""MACE locality groups: who sits on them, what they discuss, what they decide and what each
agency did about it.

A group's subjects are children (the hub's people records), locations ("places and spaces") and
persons or peer groups of concern, linked to each other with a source and a date. Meetings hold
an agenda of subjects, with minutes, each agency's update, risk levels and actions; after a
meeting each attending agency records its outcome for each child and confirms it is on its own
system with that system's reference. Free text is encrypted at rest (EncryptedText); a person of
concern is criminal-offence or law-enforcement data and carries its legal basis and review date.

Longer than the 400 lines a module here aims at, on purpose: every MACE table, each with its
constraints and one-line column notes; nothing here but the tables.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.crypto import EncryptedText
from hub.db import Base, UTCDateTime, utcnow
from hub.models.auth import Organisation, User

#: Many protocols say a risk level is reviewed at least every three months.
DEFAULT_REVIEW_DAYS = 90
DEFAULT_RISK_LEVELS = ["High", "Medium", "Low", "No current risk"]


class MaceGroup(Base):
    __tablename__ = "mace_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The organisation that hosts and chairs the group.
    host_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    #: The children's social care authority whose area the group covers: its children (and the
    #: children found or missing in it) are the ones agenda proposals look at.
    area_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    #: The group's own risk scale, highest first (local scales differ: Category 1-3, high/medium/low...).
    risk_levels: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_RISK_LEVELS))
    #: How long a risk level stands before it must be reviewed, at most.
    review_interval_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_REVIEW_DAYS)

    host_organisation: Mapped[Organisation] = relationship(foreign_keys=[host_organisation_id])
    members: Mapped[list[MaceMembership]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class MaceMembership(Base):
    """An agency sits on a MACE group (its people take part only as named members)."""

    __tablename__ = "mace_membership"
    __table_args__ = (UniqueConstraint("group_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class MemberRole(str, enum.Enum):
    chair = "chair"
    co_chair = "co_chair"
    member = "member"

    @property
    def label(self) -> str:
        return {"chair": "Chair", "co_chair": "Co-chair", "member": "Member"}[self.value]


class MaceMember(Base):
    """A named person on a group, from `start_date` until the day before `end_date`: membership,
    not a role, is what lets anyone see the group. An ended membership is kept (who sat when)."""

    __tablename__ = "mace_member"
    __table_args__ = (
        Index("ix_mace_member_user", "user_id", "group_id"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: The agency the person represents (their organisation when added).
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    role: Mapped[MemberRole] = mapped_column(Enum(MemberRole, native_enum=False, length=10), default=MemberRole.member)
    start_date: Mapped[date] = mapped_column(Date)
    #: The first day without access; None while the membership lasts.
    end_date: Mapped[date | None] = mapped_column(Date)
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    organisation: Mapped[Organisation] = relationship(lazy="joined")

    def current_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day < self.end_date)


def _risk_has_review(review: str) -> CheckConstraint:
    """A risk level is never without the date it must be reviewed by (nor a date without a level)."""
    return CheckConstraint(f"(risk_level IS NULL) = ({review} IS NULL)", name="risk_level_has_review")


class MaceAgendaChild(Base):
    """A child the group holds (brought onto an agenda), until removed_at; with the child's
    current risk level on the group's scale and when it must next be reviewed."""

    __tablename__ = "mace_agenda_child"
    __table_args__ = (UniqueConstraint("group_id", "child_id"), _risk_has_review("risk_review_due"))

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    risk_level: Mapped[str | None] = mapped_column(String(60))
    risk_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    risk_review_due: Mapped[date | None] = mapped_column(Date, index=True)


class LocationKind(str, enum.Enum):
    park = "park"
    takeaway = "takeaway"
    shop = "shop"
    house = "house"
    hotel = "hotel"
    transport = "transport"
    online = "online"
    other = "other"

    @property
    def label(self) -> str:
        return {"park": "Park or open space", "takeaway": "Takeaway or café", "shop": "Shop",
                "house": "House or flat", "hotel": "Hotel or short-let", "transport": "Bus route, station or stop",
                "online": "Online space", "other": "Other place"}[self.value]


class MaceLocation(Base):
    """A place or space of concern, kept per group and never shown outside it."""

    __tablename__ = "mace_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(EncryptedText)
    kind: Mapped[LocationKind] = mapped_column(Enum(LocationKind, native_enum=False, length=20))
    #: An address, or a description of where it is ("the underpass by the bus station").
    address: Mapped[str | None] = mapped_column(EncryptedText)
    postcode: Mapped[str | None] = mapped_column(EncryptedText)
    grid_reference: Mapped[str | None] = mapped_column(EncryptedText)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PersonKind(str, enum.Enum):
    person = "person"
    peer_group = "peer_group"

    @property
    def label(self) -> str:
        return "Person" if self is PersonKind.person else "Peer group"


class MacePerson(Base):
    """A person or peer group of concern: criminal-offence (Article 10) or law-enforcement
    (DPA 2018 Part 3) data, encrypted, and kept only until `review_on` unless re-justified."""

    __tablename__ = "mace_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PersonKind] = mapped_column(Enum(PersonKind, native_enum=False, length=12))
    #: The name or nickname as known.
    name: Mapped[str] = mapped_column(EncryptedText)
    description: Mapped[str | None] = mapped_column(EncryptedText)
    aliases: Mapped[str | None] = mapped_column(EncryptedText)
    vehicles: Mapped[str | None] = mapped_column(EncryptedText)
    phone_numbers: Mapped[str | None] = mapped_column(EncryptedText)
    online_handles: Mapped[str | None] = mapped_column(EncryptedText)
    #: Codes from hub.sharing.legal_bases: an Article 10 condition or a Part 3 (s35) one.
    article_10: Mapped[str | None] = mapped_column(String(20))
    part_3: Mapped[str | None] = mapped_column(String(20))
    justification: Mapped[str] = mapped_column(EncryptedText)
    review_on: Mapped[date] = mapped_column(Date, index=True)
    #: Set when the record is removed at review: its links stop showing, the row stays for audit.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubjectKind(str, enum.Enum):
    child = "child"
    location = "location"
    person = "person"

    @property
    def label(self) -> str:
        return {"child": "Child", "location": "Location", "person": "Person or peer group"}[self.value]


def _one_subject(prefix: str = "") -> CheckConstraint:
    return CheckConstraint(
        "(CASE WHEN child_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END)"
        " + (CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) = 1", name=f"{prefix}one_subject")


class MaceLink(Base):
    """Two subjects of different kinds linked (child-location, child-person, person-location),
    with who says so and when. Exactly two of the three ends are set. Children are linked to each
    other through the places and people they share, which is what the network shows."""

    __tablename__ = "mace_link"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN child_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN location_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) = 2", name="two_ends"),
        Index("ix_mace_link_group", "group_id"),
        Index("ix_mace_link_child", "child_id"),
        Index("ix_mace_link_location", "location_id"),
        Index("ix_mace_link_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("mace_location.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("mace_person.id"))
    #: Who or what says the two are linked ("police patrol", "return interview").
    source: Mapped[str] = mapped_column(EncryptedText)
    seen_on: Mapped[date] = mapped_column(Date)
    #: The intelligence item it came from, when it did.
    share_id: Mapped[int | None] = mapped_column(ForeignKey("share_record.id"))
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MeetingStatus(str, enum.Enum):
    scheduled = "scheduled"
    held = "held"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class MaceMeeting(Base):
    __tablename__ = "mace_meeting"
    __table_args__ = (Index("ix_mace_meeting_group_when", "group_id", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    venue: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[MeetingStatus] = mapped_column(Enum(MeetingStatus, native_enum=False, length=10),
                                                  default=MeetingStatus.scheduled)
    #: When the chair recorded the meeting as held: outcome deadlines count from here.
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Minutes and decisions for the meeting as a whole.
    notes: Mapped[str | None] = mapped_column(EncryptedText)
    next_meeting_on: Mapped[date | None] = mapped_column(Date)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[MaceGroup] = relationship(lazy="joined")


class Attendance(str, enum.Enum):
    present = "present"
    apologies = "apologies"
    absent = "absent"

    @property
    def label(self) -> str:
        return {"present": "Present", "apologies": "Apologies", "absent": "Absent"}[self.value]


class MaceAttendance(Base):
    __tablename__ = "mace_attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("mace_meeting.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    attendance: Mapped[Attendance] = mapped_column(Enum(Attendance, native_enum=False, length=10))


class MaceAgendaItem(Base):
    """One subject on one meeting's agenda, with its minutes, decisions and (for a child) the
    risk level set at the meeting with its review date."""

    __tablename__ = "mace_agenda_item"
    __table_args__ = (
        _one_subject(),
        _risk_has_review("risk_review_on"),
        Index("ix_mace_agenda_item_meeting", "meeting_id", "position"),
        Index("ix_mace_agenda_item_child", "child_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("mace_meeting.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("mace_location.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("mace_person.id"))
    #: Why it is on the agenda (the proposal rule that brought it, or "added by the chair").
    reason: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[str | None] = mapped_column(EncryptedText)
    decisions: Mapped[str | None] = mapped_column(EncryptedText)
    risk_level: Mapped[str | None] = mapped_column(String(60))
    risk_review_on: Mapped[date | None] = mapped_column(Date)
    added_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def subject_kind(self) -> SubjectKind:
        if self.child_id is not None:
            return SubjectKind.child
        return SubjectKind.location if self.location_id is not None else SubjectKind.person

    @property
    def subject_id(self) -> int:
        return self.child_id or self.location_id or self.person_id  # type: ignore[return-value]


class MaceAgencyUpdate(Base):
    """What one agency told the meeting about one agenda item."""

    __tablename__ = "mace_agency_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("mace_agenda_item.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProposalDecision(str, enum.Enum):
    accepted = "accepted"
    dismissed = "dismissed"


class MaceProposalDecision(Base):
    """The chair's answer to an agenda proposal. A proposal is keyed by its rule, subject and
    the evidence behind it, so a dismissed one stays dismissed until the evidence changes (a new
    episode, a third linked child)."""

    __tablename__ = "mace_proposal_decision"
    __table_args__ = (UniqueConstraint("group_id", "proposal_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("mace_meeting.id", ondelete="CASCADE"))
    proposal_key: Mapped[str] = mapped_column(String(200))
    decision: Mapped[ProposalDecision] = mapped_column(Enum(ProposalDecision, native_enum=False, length=10))
    decided_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActionKind(str, enum.Enum):
    task = "task"
    disruption = "disruption"


class DisruptionKind(str, enum.Enum):
    cawn = "cawn"
    other = "other"

    @property
    def label(self) -> str:
        return "Child Abduction Warning Notice" if self is DisruptionKind.cawn else "Other disruption"


class ActionStatus(str, enum.Enum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def closed(self) -> bool:
        return self in (ActionStatus.done, ActionStatus.cancelled)


class MaceAction(Base):
    """An action agreed at a meeting, with an owner and a due date; a disruption action (a Child
    Abduction Warning Notice and the like) carries its own fields, so that they can be counted."""

    __tablename__ = "mace_action"
    __table_args__ = (
        Index("ix_mace_action_group_status_due", "group_id", "status", "due_on"),
        Index("ix_mace_action_owner", "owner_user_id", "status"),
        Index("ix_mace_action_meeting", "meeting_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("mace_meeting.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("mace_agenda_item.id"))
    kind: Mapped[ActionKind] = mapped_column(Enum(ActionKind, native_enum=False, length=12), default=ActionKind.task)
    description: Mapped[str] = mapped_column(EncryptedText)
    owner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(Enum(ActionStatus, native_enum=False, length=12),
                                                 default=ActionStatus.open)
    # Disruption activity (kind == disruption).
    disruption_kind: Mapped[DisruptionKind | None] = mapped_column(Enum(DisruptionKind, native_enum=False, length=10))
    #: The person warned (a person of concern of the group) and the child the notice protects.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("mace_person.id"))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id"))
    served_on: Mapped[date | None] = mapped_column(Date)
    serving_officer: Mapped[str | None] = mapped_column(EncryptedText)
    review_on: Mapped[date | None] = mapped_column(Date)
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner_organisation: Mapped[Organisation] = relationship(foreign_keys=[owner_organisation_id], lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_user_id], lazy="joined")
    updates: Mapped[list[MaceActionUpdate]] = relationship(order_by="MaceActionUpdate.id")

    def overdue_on(self, day: date) -> bool:
        return not self.status.closed and self.due_on < day


class MaceActionUpdate(Base):
    """The action's history: every change of status, with a note, and each breach recorded."""

    __tablename__ = "mace_action_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("mace_action.id", ondelete="CASCADE"), index=True)
    status: Mapped[ActionStatus] = mapped_column(Enum(ActionStatus, native_enum=False, length=12))
    note: Mapped[str | None] = mapped_column(EncryptedText)
    breach: Mapped[bool] = mapped_column(Boolean, default=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaceOutcome(Base):
    """One agency's outcome for one child discussed at one meeting, and its confirmation that the
    outcome is on the agency's own system (health: the child's health record), with that system's
    name and record reference. Reminders and the chair's escalation are stamped so each happens once."""

    __tablename__ = "mace_outcome"
    __table_args__ = (
        UniqueConstraint("meeting_id", "organisation_id", "child_id"),
        Index("ix_mace_outcome_org_confirmed", "organisation_id", "confirmed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("mace_meeting.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"))
    outcome: Mapped[str | None] = mapped_column(EncryptedText)
    system_name: Mapped[str | None] = mapped_column(String(100))
    system_reference: Mapped[str | None] = mapped_column(EncryptedText)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaceIntelligenceSubject(Base):
    """A subject an intelligence item (a share record with `mace_group_id`) concerns."""

    __tablename__ = "mace_intelligence_subject"
    __table_args__ = (_one_subject(), Index("ix_mace_intelligence_subject_share", "share_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("share_record.id"))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("mace_location.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("mace_person.id"), index=True)
