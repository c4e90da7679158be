"""The subject access pack: everything held and shared about one child, for the data protection
officer answering a subject access request, with what a reviewer must consider redacting marked.

The only code that reads for the pack: it checks the DPO's scope, gathers, and writes one audit
event in the same transaction as the reads. A hub DPO gets every share about the child; an
organisation's DPO gets the shares their organisation sent or received, by the register's own
rule (`hub.sharing.reading.visible_to`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload, undefer_group

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.exports import Sheet, write_workbook
from hub.missing.profiles.service import PROFILE_FIELDS
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.consent import ConsentRecord, GivenBy
from hub.models.missing import MissingEpisode, PhilomenaProfile
from hub.models.people import AgencyInvolvement, Child, Enrolment
from hub.models.retention import RetentionRecord, RetentionStatus
from hub.models.sharing import ObtainedHow, ShareRecord, SourceKind
from hub.permissions import (
    is_hub_dpo,
    may_prepare_subject_access,
    refuse,
    subject_access_episodes,
    subject_access_profile,
    subject_access_retention,
    subject_access_shares,
)
from hub.retention.rules import DEFAULTS as RETENTION_CLASSES
from hub.sharing import legal_bases
from hub.sharing.gateways import gateways

OBJECT_TYPE = "subject-access-pack"
SHARES_TITLE = "Information shared"
DESTROYED_TITLE = "Records destroyed"
PURPOSE = "subject access request"

THIRD_PARTY_SOURCE = "Third-party source"
FROM_PARENT = "Obtained from a parent or carer"
HANDLING_C = "Police intelligence with handling code C"
STAFF_NAMES = "Names staff of another agency"
GIVEN_BY_PARENT = "Given by a parent or carer"
NOT_SHARED = "not shared (decision)"

#: One way of writing a day, and a time, everywhere in the pack (page and workbook alike); times
#: are as people in England read them: Europe/London, GMT or BST as it was.
LONDON = ZoneInfo("Europe/London")
DAY = "%-d %B %Y"
WHEN = f"{DAY} %H:%M"
TIMES_NOTE = "UK time (Europe/London)"


@dataclass
class Row:
    values: list
    #: Why a reviewer must consider redacting it before disclosure; empty when nothing is marked.
    review: list[str] = field(default_factory=list)
    #: A heading for the row, in sections shown one record at a time.
    title: str = ""


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[Row]
    #: Whether the section carries a "Redaction review" column.
    reviewed: bool = False
    #: Shown one record at a time on the page: too wide for a printed table.
    records: bool = False
    empty: str = "None recorded."


@dataclass
class Pack:
    child: Child
    prepared_by: User
    prepared_at: datetime
    hub_wide: bool
    sections: list[Section]

    @property
    def marked(self) -> int:
        return sum(1 for section in self.sections for row in section.rows if row.review)


def pack(actor: User, child_id: int) -> Pack:
    """The pack as a page: the read is audited."""
    basis = _require(actor, child_id, "read")
    with unit_of_work():
        result = _gather(actor, child_id)
        _record("read", actor, result, basis, "html")
    return result


def pack_xlsx(actor: User, child_id: int) -> bytes:
    """The pack as one workbook, one sheet per section: the export is audited."""
    basis = _require(actor, child_id, "export")
    with unit_of_work():
        result = _gather(actor, child_id)
        content = write_workbook([
            Sheet(s.title, s.headers + (["Redaction review"] if s.reviewed else []),
                  [r.values + (["; ".join(r.review)] if s.reviewed else []) for r in s.rows])
            for s in result.sections])
        _record("export", actor, result, basis, "xlsx")
    return content


def _require(actor: User, child_id: int, action: str) -> str:
    """Only a DPO, and for an organisation's DPO only a child their organisation holds; anyone
    else is refused on the record and told the child is not found."""
    if may_prepare_subject_access(actor, child_id):
        return "role:dpo"
    refuse(actor, OBJECT_TYPE, child_id, child_id, action=action)


def _record(action: str, actor: User, result: Pack, basis: str, kind: str) -> None:
    shares = next(s for s in result.sections if s.title == SHARES_TITLE)
    audit.record(action, actor=actor, object_type=OBJECT_TYPE, object_id=result.child.id, child_id=result.child.id,
                 basis=basis, purpose=PURPOSE, detail={
                     "format": kind, "scope": "hub" if result.hub_wide else "organisation",
                     "shares": [row.values[0] for row in shares.rows], "marked": result.marked})


# --- gathering ----------------------------------------------------------------------------------


class _Names:
    """Organisation and user names, loaded once; staff of any organisation but the DPO's own are
    third parties to the child's request."""

    def __init__(self, actor: User, org_ids: set[int], user_ids: set[int]):
        s = db.session()
        self.own_org = actor.organisation_id
        self.orgs = {o.id: o for o in s.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))}
        self.users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(user_ids)))}

    def org(self, org_id: int | None) -> str:
        return self.orgs[org_id].name if org_id in self.orgs else ("" if org_id is None else f"Organisation {org_id}")

    def user(self, user_id: int | None, review: list[str]) -> str:
        """A member of staff's name, marking it for review when they work for another agency."""
        user = self.users.get(user_id)
        if user is None:
            return ""
        if user.organisation_id != self.own_org and STAFF_NAMES not in review:
            review.append(STAFF_NAMES)
        return user.name


def _gather(actor: User, child_id: int) -> Pack:
    s = db.session()
    child = s.get(Child, child_id)
    if child is None:  # never recorded, or its records destroyed (the DPO's log search says when)
        raise NotFound("child not found")
    hub_wide = is_hub_dpo(actor)
    shares = list(s.scalars(select(ShareRecord).where(ShareRecord.child_id == child_id, subject_access_shares(actor))
                            .options(undefer_group("detail"), selectinload(ShareRecord.recipients))
                            .order_by(ShareRecord.created_at, ShareRecord.id)))
    consents = list(s.scalars(select(ConsentRecord).where(ConsentRecord.child_id == child_id)
                              .order_by(ConsentRecord.obtained_on, ConsentRecord.id)))
    involvements = list(s.scalars(select(AgencyInvolvement).where(AgencyInvolvement.child_id == child_id)
                                  .order_by(AgencyInvolvement.started_on, AgencyInvolvement.id)))
    enrolments = list(s.scalars(select(Enrolment).where(Enrolment.child_id == child_id)
                                .order_by(Enrolment.start_date, Enrolment.id)))
    access = _access_summary(child_id)
    destroyed = list(s.scalars(select(RetentionRecord).where(
        RetentionRecord.child_id == child_id, RetentionRecord.status == RetentionStatus.destroyed,
        subject_access_retention(actor)).order_by(RetentionRecord.destroyed_at, RetentionRecord.id)))
    org_ids = {actor.organisation_id, *(a[0] for a in access if a[0] is not None),
               *(r.owning_org_id for r in destroyed)}
    user_ids = {a[1] for a in access if a[1] is not None}
    for x in shares:
        org_ids |= {x.sender_org_id, *(r.organisation_id for r in x.recipients)}
        user_ids |= {x.sender_user_id, x.authorised_by_user_id, *(r.user_id for r in x.recipients)}
    for e in _episodes(actor, child_id, hub_wide):
        org_ids |= {e.police_org_id, e.home_authority_id, e.receiving_authority_id} - {None}
    for c in consents:
        org_ids |= {c.recorded_by_org_id, *(r.organisation_id for r in c.recipients)}
        user_ids.add(c.recorded_by_user_id)
    names = _Names(actor, org_ids, user_ids - {None})
    prepared_at = utcnow()
    sections = [
        _child_section(child),
        Section("Schools", ["School", "Started", "Left"],
                [Row([e.school.name, e.start_date, e.end_date or "On roll"]) for e in enrolments]),
        Section("Agencies involved", ["Organisation", "Reason", "Started", "Ended"],
                [Row([i.organisation.name, i.reason, i.started_on, i.ended_on]) for i in involvements]),
        _shares_section(shares, names),
        _consent_section(consents, names),
        _episodes_section(_episodes(actor, child_id, hub_wide), names),
        _profile_section(s.scalar(select(PhilomenaProfile).where(
            PhilomenaProfile.child_id == child_id, subject_access_profile(actor)))),
        _destroyed_section(destroyed, names),
        _access_section(access, names),
    ]
    about = _about_section(actor, child, hub_wide, prepared_at, sum(1 for x in sections for r in x.rows if r.review))
    for section in (about, *sections):
        for row in section.rows:
            row.values = [_written(value) for value in row.values]
    return Pack(child=child, prepared_by=actor, prepared_at=prepared_at, hub_wide=hub_wide,
                sections=[about, *sections])


def _about_section(actor: User, child: Child, hub_wide: bool, prepared_at: datetime, marked: int) -> Section:
    scope = ("Everything the hub holds about the child" if hub_wide else
             f"The child's record, consent and access history, and the information {actor.organisation.name} "
             "sent or received")
    return Section("About this pack", ["Item", "Value"], [
        Row(["Purpose", "Subject access request"]),
        Row(["Child (hub reference)", child.id]),
        Row(["Prepared by", f"{actor.name}, {actor.organisation.name}"]),
        Row(["Prepared at", prepared_at]),
        Row(["Times", f"Every time in this pack is {TIMES_NOTE}"]),
        Row(["Scope", scope]),
        Row(["Items marked for redaction review", marked]),
        Row(["Redaction review", "Third-party sources, information from a parent or carer, police intelligence "
                                 "with handling code C and the names of other agencies' staff are marked: review "
                                 "them before anything is disclosed."]),
    ])


def _child_section(child: Child) -> Section:
    rows = [
        Row(["Name", child.full_name]),
        Row(["Date of birth", child.date_of_birth]),
        Row(["Gender", child.gender.value.replace("_", " ").capitalize()]),
        Row(["Looked after", "Yes" if child.looked_after else "No"]),
        Row(["Home authority", child.responsible_authority.name if child.responsible_authority else "Not recorded"]),
        Row(["Placing authority", child.placing_authority.name if child.placing_authority else "Not placed"]),
        *(Row([i.kind.label, i.value]) for i in sorted(child.identifiers, key=lambda i: i.kind.value)),
        Row(["Record created", child.created_at]),
        Row(["Next retention review", child.review_on]),
    ]
    return Section("The child", ["Detail", "Value"], rows)


FREE_TEXT_PLACES = "Free text about places or people: may name third parties"


def _episodes(actor: User, child_id: int, hub_wide: bool) -> list[MissingEpisode]:
    """The child's missing episodes: all for the hub's DPO; for an organisation's DPO those of its
    force, or naming it as home or receiving authority."""
    return list(db.session().scalars(select(MissingEpisode).where(
        MissingEpisode.child_id == child_id, subject_access_episodes(actor)).order_by(MissingEpisode.reported_start)))


def _episodes_section(episodes: list[MissingEpisode], names: _Names) -> Section:
    rows = []
    for e in episodes:
        review = [FREE_TEXT_PLACES] if (e.missing_from_detail or e.found_where) else []
        rows.append(Row([
            e.police_reference, names.org(e.police_org_id), e.reported_start, e.classification.label,
            e.risk_grade.label, e.missing_from.label, e.missing_from_detail, e.found_at, e.found_where,
            e.prevention_check_at, e.return_interview_offered_at, e.return_interview_at,
            _yes_no(e.return_interview_declined), e.iro_informed_at, names.org(e.home_authority_id),
            names.org(e.receiving_authority_id), e.strategy_discussion_at, e.trigger_plan_at,
            ", ".join(sorted(e.codes("risk_factors"))), ", ".join(sorted(e.codes("push_factors"))),
            ", ".join(sorted(e.codes("pull_factors"))),
        ], review, title=f"Missing episode {e.police_reference}"))
    return Section("Missing episodes", [
        "Police reference", "Police force", "Reported", "Missing or absent", "Risk grade", "Missing from",
        "Where exactly", "Found", "Where found", "Prevention check", "Return interview offered",
        "Return interview done", "Interview declined", "IRO told", "Home authority",
        "Receiving authority", "Strategy discussion", "Trigger plan on file", "Risk factors",
        "Push factors", "Pull factors"], rows, reviewed=True, records=True, empty="No missing episodes recorded.")


def _profile_section(profile: PhilomenaProfile | None) -> Section:
    rows = []
    if profile is not None:
        for name, label in PROFILE_FIELDS.items():
            value = getattr(profile, name)
            if value:
                review = [FREE_TEXT_PLACES] if name in {"friends_and_associates", "addresses_and_places"} else []
                rows.append(Row([label, value], review))
    return Section("Philomena protocol profile", ["Part", "Profile"], rows, reviewed=True,
                   empty="No profile kept.")


SHARE_HEADERS = [
    "Share", "Type", "Recorded", "Category", "Summary", "Information", "Purpose", "Legal basis",
    "Special category", "Criminal offence", "Law enforcement", "Consent position", "Consent record",
    "Why consent was not needed", "Rationale", "Authorised by", "Child or family told", "Source",
    "Source description", "Obtained how", "Obtained on", "Evidence reference", "Grading", "Sent by organisation",
    "Sent by", "Recipients", "Corrects share", "Why corrected", "Corrected by", "Passed on from share",
    "Flagged for review (consent withdrawn)",
]


def _shares_section(shares: list[ShareRecord], names: _Names) -> Section:
    corrected_by: dict[int, list[int]] = defaultdict(list)
    for share in shares:
        if share.supersedes_id:
            corrected_by[share.supersedes_id].append(share.id)
    rows = []
    local = gateways()  # once for the pack: the locality's gateways name codes the national lists lack
    for x in shares:
        review = _share_review(x)
        kind = ("Decision not to share" if not x.shared else "Correction" if x.supersedes_id
                else "Onward share" if x.origin_share_id else "Share")
        values = [
            x.id, kind, x.created_at, x.category.label, x.summary, x.content, x.purpose, _legal_basis(x, local),
            _yes_no(x.special_category), _yes_no(x.criminal_offence), _yes_no(x.law_enforcement),
            x.consent_position.label if x.consent_position else None, x.consent_record_id,
            _words(x.no_consent_reason), x.rationale,
            names.user(x.authorised_by_user_id, review), _family_told(x), _words(x.source_kind),
            x.source_description, _words(x.obtained_how), x.obtained_on, x.evidence_reference,
            "".join(g for g in (x.source_evaluation, x.intelligence_assessment, x.handling_code) if g) or None,
            names.org(x.sender_org_id), names.user(x.sender_user_id, review),
            "; ".join(_recipient(r, names, review, x.shared) for r in x.recipients), x.supersedes_id,
            x.supersede_reason,
            ", ".join(str(i) for i in corrected_by.get(x.id, [])) or None, x.origin_share_id, x.review_flagged_at,
        ]
        rows.append(Row(values, review, title=f"{kind} {x.id}: {x.summary}"))
    return Section(SHARES_TITLE, SHARE_HEADERS, rows, reviewed=True, records=True, empty="Nothing shared or decided.")


def _share_review(share: ShareRecord) -> list[str]:
    review = []
    if share.source_kind == SourceKind.third_party:
        review.append(THIRD_PARTY_SOURCE)
    if share.obtained_how == ObtainedHow.parent_or_carer:
        review.append(FROM_PARENT)
    if share.handling_code == "C":
        review.append(HANDLING_C)
    return review


def _recipient(recipient, names: _Names, review: list[str], shared: bool) -> str:
    person = names.user(recipient.user_id, review)
    # A decision not to share names who it was not shared with: nothing was sent to them.
    status = recipient.status.value if shared else NOT_SHARED
    opened = f", first opened {_written(recipient.first_opened_at)}" if recipient.first_opened_at else ""
    return f"{names.org(recipient.organisation_id)}{f' ({person})' if person else ''}: {status}{opened}"


def _legal_basis(share: ShareRecord, local: list[legal_bases.LegalBasis]) -> str:
    codes = (share.article_6, share.article_9, share.article_10, share.part_3, share.gateway)
    return "; ".join(legal_bases.describe(code, local) for code in codes if code)


def _family_told(share: ShareRecord) -> str | None:
    if share.family_told is None:
        return None
    if share.family_told:
        return f"Yes, on {_written(share.family_told_on)}" if share.family_told_on else "Yes"
    return f"No: {share.family_not_told_reason}" if share.family_not_told_reason else "No"


CONSENT_HEADERS = ["Consent", "Given or refused", "Given by", "Who", "Child competent", "Competence note",
                   "Purposes", "Covers organisations", "Obtained on", "Valid until", "Recorded by organisation",
                   "Recorded by", "Withdrawn", "Why withdrawn"]


def _consent_section(consents: list[ConsentRecord], names: _Names) -> Section:
    rows = []
    for c in consents:
        review = [GIVEN_BY_PARENT] if c.given_by == GivenBy.parental_responsibility else []
        values = [
            c.id, "Given" if c.given else "Refused", _words(c.given_by), c.giver_description,
            _yes_no(c.child_competent), c.competence_note, c.purposes.replace(",", ", ").replace("_", " "),
            "; ".join(names.org(r.organisation_id) for r in c.recipients), c.obtained_on, c.valid_until,
            names.org(c.recorded_by_org_id), names.user(c.recorded_by_user_id, review), c.withdrawn_at,
            c.withdrawn_reason,
        ]
        title = f"Consent {c.id}: {'given' if c.given else 'refused'}{', withdrawn' if c.withdrawn_at else ''}"
        rows.append(Row(values, review, title=title))
    return Section("Consent", CONSENT_HEADERS, rows, reviewed=True, records=True)


def _destroyed_section(records: list[RetentionRecord], names: _Names) -> Section:
    """What was destroyed, when and under which rule (a retention period, or an erasure request):
    the register the retention rows keep after the records are gone; nothing of their content."""
    return Section(DESTROYED_TITLE, ["Record", "Held by", "Written", "Destroyed", "Rule"], [
        Row([RETENTION_CLASSES[r.record_class].label, names.org(r.owning_org_id), r.written_on, r.destroyed_at,
             r.rule]) for r in records], empty="No record about the child has been destroyed.")


def _access_summary(child_id: int) -> list[tuple]:
    """Who did what to the child's record, and when: one row per organisation, user, action and
    outcome, from the audit log (events name the child by id; listings name every child shown)."""
    return list(db.session().execute(
        select(AuditEvent.actor_org_id, AuditEvent.actor_user_id, AuditEvent.action, AuditEvent.outcome,
               func.count(), func.min(AuditEvent.occurred_at), func.max(AuditEvent.occurred_at))
        .where(audit.about_child(child_id))
        .group_by(AuditEvent.actor_org_id, AuditEvent.actor_user_id, AuditEvent.action, AuditEvent.outcome)
        .order_by(func.min(AuditEvent.occurred_at))))


def _access_section(access: list[tuple], names: _Names) -> Section:
    rows = []
    for org_id, user_id, action, outcome, times, first, last in access:
        review: list[str] = []
        user = names.user(user_id, review) or ("The hub (system)" if user_id is None else f"User {user_id}")
        rows.append(Row([names.org(org_id) or "The hub", user, action,
                         "Refused" if outcome == audit.REFUSED else "Done", times, first, last], review))
    return Section("Access to the record", ["Organisation", "User", "Action", "Outcome", "Times", "First",
                                            "Last"], rows, reviewed=True)


def _written(value):
    """A day or a time as the pack writes it (one format, London time); anything else as it is."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # stored UTC
        return aware.astimezone(LONDON).strftime(WHEN)
    if isinstance(value, date):
        return value.strftime(DAY)
    return value


def _words(value) -> str | None:
    return value.value.replace("_", " ").capitalize() if value is not None else None


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("Yes" if value else "No")
