"""The information-sharing register: "shared with us" and "shared by us", the filtered register and
its spreadsheet. MACE intelligence the reader's organisation sent into a group they are not a
current member of is listed as the fact of a share only (ShareFact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.errors import Invalid
from hub.exports import write_xlsx
from hub.models.auth import User
from hub.models.mace import MaceGroup
from hub.models.sharing import Category, ConsentPosition, RecipientStatus, ShareAccess, ShareRecipient, ShareRecord
from hub.permissions import current_member_groups, share_fact_only, share_register_row, share_visible
from hub.sharing import legal_bases
from hub.sharing.gateways import gateways
from hub.sharing.reading import _child_name, children_named


@dataclass(frozen=True)
class ShareFact:
    """The fact of a share, without its child or content: what the sender organisation's register
    keeps of MACE intelligence it sent into a group the reader is not a current member of (the
    date, the group, the category, the legal basis and who sent it). A list of shares holds these
    in place of the share itself, so no page or spreadsheet can show what only the group sees."""

    id: int
    created_at: datetime
    mace_group_id: int
    group_name: str
    category: Category
    article_6: str | None
    article_9: str | None
    article_10: str | None
    part_3: str | None
    gateway: str | None
    sender_org_id: int
    sender_user_id: int
    fact_only: bool = True
    #: What a list of shares reads of every row, held empty here.
    child_id: None = None
    shared: bool = True
    supersedes_id: None = None
    review_flagged_at: None = None

    @classmethod
    def of(cls, share: ShareRecord, group_name: str) -> ShareFact:
        return cls(share.id, share.created_at, share.mace_group_id, group_name, share.category, share.article_6,
                   share.article_9, share.article_10, share.part_3, share.gateway, share.sender_org_id,
                   share.sender_user_id)


def _as_register_rows(actor: User, shares: list[ShareRecord]) -> list[ShareRecord | ShareFact]:
    """Each share as the reader may see it: whole, or (intelligence of a group they are not a
    current member of, which their organisation sent) only its fact."""
    if not any(share.mace_group_id is not None for share in shares):
        return list(shares)
    member_of = current_member_groups(actor)
    facts = [s for s in shares if share_fact_only(actor, s, member_of)]
    names = dict(db.session().execute(select(MaceGroup.id, MaceGroup.name).where(
        MaceGroup.id.in_({s.mace_group_id for s in facts}))).tuples().all()) if facts else {}
    return [ShareFact.of(s, names[s.mace_group_id]) if share_fact_only(actor, s, member_of) else s for s in shares]


def _shown_children(rows: list[ShareRecord | ShareFact]) -> list[int]:
    return [row.child_id for row in rows if row.child_id is not None]


@dataclass
class ShareLists:
    received: list[ShareRecord]
    sent: list[ShareRecord | ShareFact]


def lists(actor: User, limit: int = 100) -> ShareLists:
    """"Shared with us" and "shared by us", newest first: the register's rows (hub.permissions
    `share_register_row`) that the organisation received, and that it sent. Each list is read in
    the order of the index that finds it and stops at `limit`, so it costs the same at 200,000
    shares as at 200: "with us" walks share_recipient's (organisation, share) index backwards,
    "by us" share_record's (sender, time) index (sorting by id instead made the database sort
    every share ever sent)."""
    s = db.session()
    with_us = list(s.scalars(
        select(ShareRecord).join(ShareRecipient, ShareRecipient.share_id == ShareRecord.id)
        .where(ShareRecipient.organisation_id == actor.organisation_id,
               ShareRecipient.status != RecipientStatus.revoked, ShareRecord.shared.is_(True), share_visible(actor))
        .order_by(ShareRecipient.share_id.desc()).limit(limit)))
    by_us = _as_register_rows(actor, list(s.scalars(
        select(ShareRecord).where(ShareRecord.sender_org_id == actor.organisation_id, share_register_row(actor))
        .order_by(ShareRecord.created_at.desc(), ShareRecord.id.desc()).limit(limit))))
    shown = with_us + by_us
    with unit_of_work():  # one event for the page, naming every child shown, so each child's record of sight is whole
        audit.record("read", actor=actor, object_type="share-list", basis="share-recipient,share-sender",
                     children=_shown_children(shown), detail={"shown": len(shown)})
    return ShareLists(with_us, by_us)


# --- the register -------------------------------------------------------------------------------

# User-chosen sort keys map through this allow-list; anything else falls back to newest first.
# Time orders go by share_access, whose (organisation, time) index the scan walks and stops early.
SORTS = {
    "newest": (ShareAccess.created_at.desc(), ShareAccess.share_id.desc()),
    "oldest": (ShareAccess.created_at.asc(), ShareAccess.share_id.asc()),
    "category": (ShareRecord.category.asc(), ShareRecord.id.desc()),
}


REGISTER_PAGE = 50


@dataclass
class RegisterFilter:
    sender_org_id: int | None = None
    recipient_org_id: int | None = None
    legal_basis: str | None = None
    consent_position: ConsentPosition | None = None
    category: Category | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "newest"

    def as_detail(self) -> dict:
        return {k: getattr(v, "value", v if not isinstance(v, date) else v.isoformat())
                for k, v in self.__dict__.items() if v not in (None, "")}


def _register_query(actor: User, f: RegisterFilter):
    """The register's rows the actor may see (`share_register_row`), walked through the
    organisation's share_access index. A filter on what the fact of a share does not show (its
    recipients, its consent position) keeps only the shares the actor sees whole, so that
    filtering cannot tell what the fact leaves out."""
    whole_only = bool(f.recipient_org_id or f.consent_position)
    query = (select(ShareRecord).join(ShareAccess, (ShareAccess.share_id == ShareRecord.id)
                                      & (ShareAccess.organisation_id == actor.organisation_id))
             .where(share_visible(actor) if whole_only else share_register_row(actor)))
    if f.sender_org_id:
        query = query.where(ShareRecord.sender_org_id == f.sender_org_id)
    if f.recipient_org_id:
        query = query.where(ShareRecord.id.in_(select(ShareRecipient.share_id).where(
            ShareRecipient.organisation_id == f.recipient_org_id)))
    if f.legal_basis:
        code = f.legal_basis
        query = query.where(or_(ShareRecord.article_6 == code, ShareRecord.article_9 == code,
                                ShareRecord.article_10 == code, ShareRecord.part_3 == code,
                                ShareRecord.gateway == code))
    if f.consent_position:
        query = query.where(ShareRecord.consent_position == f.consent_position)
    if f.category:
        query = query.where(ShareRecord.category == f.category)
    if f.date_from:
        query = query.where(ShareAccess.created_at >= datetime.combine(f.date_from, time.min, UTC))
    if f.date_to:
        query = query.where(ShareAccess.created_at < datetime.combine(f.date_to + timedelta(days=1), time.min,
                                                                      UTC))
    return query.order_by(*SORTS.get(f.sort, SORTS["newest"]))


def register(actor: User, f: RegisterFilter, page: int = 1) -> tuple[list[ShareRecord | ShareFact], bool]:
    """One page of the register the actor may see, and whether there is more."""
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise Invalid({"date_to": "The end date must be the same as or after the start date"})
    page = max(1, page)
    rows = list(db.session().scalars(_register_query(actor, f).limit(REGISTER_PAGE + 1)
                                     .offset((page - 1) * REGISTER_PAGE)))
    shown = _as_register_rows(actor, rows[:REGISTER_PAGE])
    with unit_of_work():
        audit.record("read", actor=actor, object_type="share-register", children=_shown_children(shown),
                     detail={"filters": f.as_detail(), "shown": len(shown)})
    return shown, len(rows) > REGISTER_PAGE


REGISTER_HEADERS = ["Share", "Recorded (UTC)", "Shared", "Child id", "Child", "Sender organisation id",
                    "Category", "Summary", "Purpose", "Article 6", "Article 9", "Article 10", "Part 3", "Gateway",
                    "Consent position", "Authorised by (user id)", "Source", "Obtained how", "Obtained on",
                    "Evidence reference", "Grading", "Recipients", "Supersedes", "Origin", "MACE group"]


#: What a fact of a share says in the cells its share would fill with the child and the content.
FACT_ONLY = "MACE intelligence: seen only by the group's current members"


def register_xlsx(actor: User, f: RegisterFilter) -> bytes:
    """The filtered register as a spreadsheet, for the records of processing and for audits: the
    same rows as the page, each as the reader may see it."""
    rows = _as_register_rows(actor, list(db.session().scalars(
        _register_query(actor, f).options(selectinload(ShareRecord.recipients)))))
    named, local = children_named(actor, [r for r in rows if isinstance(r, ShareRecord)]), gateways()

    def basis(code: str | None) -> str | None:
        return legal_bases.describe(code, local) or None

    def bases(r) -> list:
        return [basis(r.article_6), basis(r.article_9), basis(r.article_10), basis(r.part_3), basis(r.gateway)]

    def row(s: ShareRecord) -> list:
        return [s.id, s.created_at, "yes" if s.shared else "decided not to share", s.child_id,
                _child_name(s, named), s.sender_org_id, s.category.value, s.summary, s.purpose, *bases(s),
                s.consent_position.label if s.consent_position else None, s.authorised_by_user_id,
                s.source_description, s.obtained_how.value, s.obtained_on, s.evidence_reference,
                "".join(x for x in (s.source_evaluation, s.intelligence_assessment, s.handling_code) if x) or None,
                ", ".join(f"{r.organisation_id}:{r.status.value}" for r in s.recipients), s.supersedes_id,
                s.origin_share_id, s.mace_group_id]

    def fact(s: ShareFact) -> list:
        return [s.id, s.created_at, "yes", None, FACT_ONLY, s.sender_org_id, s.category.value, FACT_ONLY, None,
                *bases(s), None, None, None, None, None, None, None, None, None, None, s.group_name]

    content = write_xlsx("Sharing register", REGISTER_HEADERS,
                         (fact(r) if isinstance(r, ShareFact) else row(r) for r in rows))
    with unit_of_work():
        audit.record("export", actor=actor, object_type="share-register", children=_shown_children(rows),
                     detail={"format": "xlsx", "rows": len(rows), "filters": f.as_detail()})
    return content
