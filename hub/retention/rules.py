"""The retention rules: a record's review date from its class, the agency's period and a few
facts about the record. Pure: no database, no clock.

Each class's default, and its source (an agency's DPO may set its own period: hub.retention.service):
- a looked-after child's case record: to the 75th birthday (Care Planning, Placement and Case
  Review (England) Regulations 2010, regulation 50);
- other children's social care records: to the 25th birthday (a local setting);
- a school's child protection file: date of birth + 25 years, then review (IRMS Information
  Management Toolkit for Schools);
- an NHS child record: to the 25th birthday, or the 26th if 17 at the end of care (NHS Records
  Management Code of Practice 2023);
- a police record (a missing episode; a force's share record is its own class, `police_share`, with
  the same rule): reviewed 6 years after it was written (College of Policing APP, review,
  retention and disposal);
- another partner's record: to the 25th birthday (a local setting);
- MACE intelligence: to the 25th birthday, like child protection conference minutes (a local setting);
- a consent record (or a refusal): to the 25th birthday, like the child's file it supports (a local
  setting); its owner is the organisation that recorded it;
- MACE minutes (a meeting's own notes and attendance), agenda items (minutes and decisions about one
  subject), actions and outcomes: to the 25th birthday, like child protection conference minutes (a
  local setting). Minutes, items and actions are the group's host's; an outcome is the agency's
  whose outcome it is;
- a Philomena profile: to the 25th birthday (a local setting: it is kept to find a missing child);
  it is the authority's that keeps it (the placing authority, else the home authority);
- operational data, destroyed on its days without a review of each row (local settings): an e-mail
  in the outbox 30 days after it was written; a failed sign-in attempt 90 days after it was made
  (the lock-out counts 15 minutes; the rest is for looking into an attack); a session 90 days after
  it ended or was last used; a police download's stored file 7 days after upload (it is deleted when
  its import ends: this catches a file an import never finished).

Two stated fallbacks:
- **No date of birth** (not known, or the record is about a place or a person of concern rather
  than a child): the child is taken as born on the day the record was written, so a birthday rule
  becomes "that many years after writing". It is the longest the rule could ask for: a child is
  never younger than 0 when a record is written, so the fallback never destroys early.
- **A child who moves authority**: a record belongs to the agency that wrote it (its sender, its
  force, its group's host) and keeps the review date computed when it was written; a later move,
  or the end of being looked after, changes neither. A child's social care record is a looked-after
  case record if the child had been looked after by the time it was written, whichever authority
  wrote it (reg 50 keeps the whole case record, not only the placing authority's part).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.models.retention import RecordClass
from hub.models.roles import OrgKind


class Basis(str, enum.Enum):
    #: Kept until the child's Nth birthday.
    birthday = "birthday"
    #: Reviewed N years after the record was written.
    years = "years"
    #: Destroyed N days after it was written (operational data: no review of each record).
    days = "days"


@dataclass(frozen=True)
class Default:
    label: str
    basis: Basis
    period: int
    source: str
    #: Operational data is destroyed on its schedule without a review of each record.
    reviewed: bool = True


DEFAULTS: dict[RecordClass, Default] = {
    RecordClass.looked_after_case_record: Default(
        "Looked-after child's case record", Basis.birthday, 75,
        "Care Planning, Placement and Case Review (England) Regulations 2010, regulation 50"),
    RecordClass.social_care_record: Default(
        "Children's social care record (child not looked after)", Basis.birthday, 25,
        "Local setting (no national rule): as a child protection file"),
    RecordClass.school_child_protection: Default(
        "School child protection file", Basis.birthday, 25,
        "IRMS Information Management Toolkit for Schools: date of birth + 25 years, then review"),
    RecordClass.health_record: Default(
        "NHS child record", Basis.birthday, 25,
        "NHS Records Management Code of Practice 2023: 25th birthday, or 26th if 17 at the end of care"),
    RecordClass.police_record: Default(
        "Police record", Basis.years, 6,
        "College of Policing APP, review, retention and disposal: reviewed at 6 years"),
    RecordClass.police_share: Default(
        "Police share record", Basis.years, 6,
        "College of Policing APP, review, retention and disposal: reviewed at 6 years"),
    RecordClass.partner_record: Default(
        "Other partner's record", Basis.birthday, 25, "Local setting (no national rule): as a child protection file"),
    RecordClass.mace_intelligence: Default(
        "MACE intelligence", Basis.birthday, 25,
        "Local setting: like child protection conference minutes"),
    RecordClass.consent_record: Default(
        "Consent record", Basis.birthday, 25, "Local setting: kept with the child's file it supports"),
    RecordClass.mace_minutes: Default(
        "MACE minutes (a meeting's notes and attendance)", Basis.birthday, 25,
        "Local setting: like child protection conference minutes"),
    RecordClass.mace_agenda_item: Default(
        "MACE agenda item (minutes and decisions)", Basis.birthday, 25,
        "Local setting: like child protection conference minutes"),
    RecordClass.mace_action: Default(
        "MACE action", Basis.birthday, 25, "Local setting: like child protection conference minutes"),
    RecordClass.mace_outcome: Default(
        "MACE outcome (an agency's)", Basis.birthday, 25, "Local setting: like child protection conference minutes"),
    RecordClass.philomena_profile: Default(
        "Philomena profile", Basis.birthday, 25, "Local setting: as a child protection file"),
    RecordClass.mace_person: Default(
        "MACE person of concern (with the group's links to them and agenda items about them)", Basis.years, 1,
        "hub.mace: reviewed on the record's own review date; a retention row only for an erasure request"),
    RecordClass.outbox_email: Default(
        "E-mail in the outbox (operational)", Basis.days, 30, "Local setting: operational data", reviewed=False),
    RecordClass.sign_in_attempt: Default(
        "Failed sign-in attempt (operational)", Basis.days, 90, "Local setting: operational data, security monitoring",
        reviewed=False),
    RecordClass.user_session: Default(
        "Sign-in session (operational)", Basis.days, 90, "Local setting: operational data, counted from its end",
        reviewed=False),
    RecordClass.import_file: Default(
        "Police download file awaiting import (operational)", Basis.days, 7,
        "Local setting: operational data (deleted when its import ends)", reviewed=False),
}

#: Operational data: the hub's own (its host's schedule), purged by age, never reviewed one by one.
OPERATIONAL: tuple[RecordClass, ...] = tuple(c for c, d in DEFAULTS.items() if not d.reviewed)
#: Classes any agency may own: what its staff recorded (consent) or its own MACE outcome.
_ANY_AGENCY = (RecordClass.consent_record, RecordClass.mace_outcome)

#: The record classes each kind of agency owns, in the order its schedule page shows them.
CLASSES_FOR_KIND: dict[OrgKind, tuple[RecordClass, ...]] = {
    OrgKind.childrens_social_care: (RecordClass.looked_after_case_record, RecordClass.social_care_record,
                                    RecordClass.philomena_profile, *_ANY_AGENCY),
    OrgKind.school: (RecordClass.school_child_protection, *_ANY_AGENCY),
    OrgKind.health: (RecordClass.health_record, *_ANY_AGENCY),
    OrgKind.police: (RecordClass.police_record, RecordClass.police_share, *_ANY_AGENCY),
    OrgKind.la_education: (RecordClass.partner_record, *_ANY_AGENCY),
    OrgKind.voluntary: (RecordClass.partner_record, *_ANY_AGENCY),
    OrgKind.mace_host: (RecordClass.mace_intelligence, RecordClass.mace_minutes, RecordClass.mace_agenda_item,
                        RecordClass.mace_action, RecordClass.partner_record, *_ANY_AGENCY, *OPERATIONAL),
}

#: Classes an agency may hold but sets no period for: a MACE person of concern is reviewed on its
#: own date (hub.mace) and gets a retention row only for an erasure request (hub.erasure).
HOLD_ONLY: dict[OrgKind, tuple[RecordClass, ...]] = {OrgKind.mace_host: (RecordClass.mace_person,)}


def holdable(kind: OrgKind) -> tuple[RecordClass, ...]:
    """The classes an agency of this kind may put under a legal hold by class."""
    return CLASSES_FOR_KIND.get(kind, ()) + HOLD_ONLY.get(kind, ())


LONDON = ZoneInfo("Europe/London")
#: A young person's age at the end of care from which the NHS rule keeps one year longer.
NHS_LATE_CARE_AGE = 17
#: The longest period a DPO may set, by basis (a guard against a typing slip, not a rule).
MAX_PERIOD = {Basis.birthday: 120, Basis.years: 120, Basis.days: 3660}


@dataclass(frozen=True)
class RecordFacts:
    """What a rule needs to know about one record."""

    written_on: date
    date_of_birth: date | None = None


#: The classes a share record can have (the values of `share_class`).
SHARE_CLASSES: tuple[RecordClass, ...] = (
    RecordClass.mace_intelligence, RecordClass.looked_after_case_record, RecordClass.social_care_record,
    RecordClass.school_child_protection, RecordClass.health_record, RecordClass.police_share,
    RecordClass.partner_record)


def share_class(sender_kind: OrgKind, *, mace_intelligence: bool, looked_after: bool) -> RecordClass:
    """The class of a share record: MACE intelligence is the group's; otherwise the sender's kind
    says whose record it is (a social care record of a child looked after by the time it was
    written is a looked-after case record)."""
    if mace_intelligence:
        return RecordClass.mace_intelligence
    if sender_kind == OrgKind.childrens_social_care:
        return RecordClass.looked_after_case_record if looked_after else RecordClass.social_care_record
    return {OrgKind.school: RecordClass.school_child_protection, OrgKind.health: RecordClass.health_record,
            OrgKind.police: RecordClass.police_share}.get(sender_kind, RecordClass.partner_record)


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 1 March in a common year (the later day,
    so a rule never ends early)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def age_on(date_of_birth: date, day: date) -> int:
    """Completed years of age on `day`."""
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def review_date(record_class: RecordClass, period: int, facts: RecordFacts) -> date:
    """The day the record is due for review (or, for operational data, destruction)."""
    basis = DEFAULTS[record_class].basis
    if basis == Basis.days:
        return facts.written_on + timedelta(days=period)
    if basis == Basis.years:
        return add_years(facts.written_on, period)
    born = facts.date_of_birth or facts.written_on  # the stated fallback: born the day it was written
    if record_class == RecordClass.health_record and age_on(born, facts.written_on) >= NHS_LATE_CARE_AGE:
        period += 1
    # A record written after the birthday the rule names (a late record about a young adult) is
    # still kept for a year, not due before it is written.
    return max(add_years(born, period), add_years(facts.written_on, 1))


def describe(record_class: RecordClass, period: int) -> str:
    """The rule as stored on each record and named in a destruction certificate."""
    basis = DEFAULTS[record_class].basis
    what = {Basis.birthday: f"to the {ordinal(period)} birthday", Basis.years: f"{period} years after written",
            Basis.days: f"{period} days after written"}[basis]
    return f"{record_class.value}: {what}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def london_day(moment: datetime) -> date:
    """The UK calendar day of a moment: retention counts days as the agencies do."""
    return moment.astimezone(LONDON).date()
