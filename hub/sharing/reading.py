"""Reading share records: one share (a recipient's first opening is kept), the children a page of
shares names, and a child's chronology. Every read is audited."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import aliased, lazyload

from hub import db
from hub.audit import service as audit
from hub.db import unit_of_work, utcnow
from hub.models.auth import User
from hub.models.people import Child
from hub.models.sharing import ShareRecord
from hub.permissions import (
    CHANGE,
    child_access,
    child_bases,
    load_child_or_refuse,
    load_or_refuse,
    share_names_child,
    share_visible,
)
from hub.sharing.service import _legal_basis_text

# --- reading ------------------------------------------------------------------------------------

def visible_to(actor: User):
    """Shares the actor may see, content and all (hub.permissions.shares)."""
    return share_visible(actor)


def get_share(actor: User, share_id: int, *, object_type: str = "share", detail: dict | None = None) -> ShareRecord:
    """One share, for its sender and its recipients only; a recipient's first opening is kept.
    (A MACE intelligence page reads it as "mace-intelligence", naming its children in `detail`.)"""
    share = load_or_refuse(actor, ShareRecord, share_id)
    with unit_of_work():
        mine = [r for r in share.recipients if r.organisation_id == actor.organisation_id]
        for recipient in mine:
            if recipient.first_opened_at is None:
                recipient.first_opened_at = utcnow()
        audit.record("read", actor=actor, object_type=object_type, object_id=share.id, child_id=share.child_id,
                     basis="share-recipient" if mine else "share-sender", legal_basis=_legal_basis_text(share),
                     detail=detail)
    return share


#: What a list of shares says for MACE intelligence about places or persons rather than one child.
NO_SINGLE_CHILD = "No single child (MACE intelligence)"


@dataclass(frozen=True)
class ShareChild:
    """The child a share is about, as a list of shares names them."""

    name: str
    #: Whether the reader may open the child's page (a relationship or role of their own).
    may_open: bool


#: What a share's pages say of the child of MACE intelligence the reader may not see (as the
#: group's intelligence pages say it).
CHILD_NOT_SHOWN = "A child you may not see"


def children_named(actor: User, shares: list[ShareRecord]) -> dict[int, ShareChild]:
    """The children a page of shares is about, by id: one query for the rows and one for the
    reader's bases, however many shares the page shows. The reader holds each share, so may read
    its child's name (hub.permissions.share_names_child: not MACE intelligence's child, unless they
    may see the child anyway); only a relationship of their own opens the child's page."""
    ids = sorted({share.child_id for share in shares if share.child_id is not None})
    if not ids:
        return {}
    bases = child_bases(actor, ids)
    named = {share.child_id for share in shares
             if share.child_id is not None and share_names_child(share, share.child_id in bases)}
    rows = db.session().scalars(select(Child).where(Child.id.in_(named)).options(lazyload(Child.identifiers)))
    found = {child.id: ShareChild(child.full_name, child.id in bases) for child in rows}
    return {child_id: found.get(child_id, ShareChild(CHILD_NOT_SHOWN, False)) for child_id in ids}


def _child_name(share: ShareRecord, named: dict[int, ShareChild]) -> str | None:
    if share.child_id is None:
        return NO_SINGLE_CHILD
    return named[share.child_id].name if share.child_id in named else None


#: Shares per page of a child's chronology: a page costs the same whatever the child's history.
CHRONOLOGY_PAGE = 50


@dataclass
class Chronology:
    """One page of a child's chronology, newest first. Iterating it gives the page's shares."""

    shares: list[ShareRecord]
    page: int
    pages: int
    #: Every share about the child the reader may see, on any page.
    total: int
    #: The shares of this page that a correction the reader may see supersedes (on any page).
    superseded: set[int] = field(default_factory=set)

    def __iter__(self):
        return iter(self.shares)

    def __len__(self) -> int:
        return len(self.shares)


def _chronology_rows(actor: User, child_id: int, page: int, per_page: int | None) -> list:
    """(share, total, superseded) rows of one page, in one statement: the total is a window count
    over every visible share, and "superseded" asks whether a visible correction exists."""
    later = aliased(ShareRecord)
    corrected = select(later.id).where(later.supersedes_id == ShareRecord.id, share_visible(actor, later)).exists()
    query = (select(ShareRecord, func.count().over().label("total"), corrected.label("superseded"))
             .where(ShareRecord.child_id == child_id, visible_to(actor))
             .order_by(ShareRecord.created_at.desc(), ShareRecord.id.desc()))
    if per_page:
        query = query.limit(per_page).offset((page - 1) * per_page)
    return list(db.session().execute(query))


def chronology(actor: User, child_id: int, page: int = 1, per_page: int | None = CHRONOLOGY_PAGE) -> Chronology:
    """A page of the shares about the child the actor may see, newest first (corrections and
    originals both); `per_page=None` for all of them. The read of the page is audited."""
    load_child_or_refuse(actor, child_id)
    page = max(1, page)
    rows = _chronology_rows(actor, child_id, page, per_page)
    if not rows and page > 1 and per_page:  # past the last page (a stale link): show the last one
        total = db.session().scalar(select(func.count()).select_from(ShareRecord).where(
            ShareRecord.child_id == child_id, visible_to(actor)))
        page = max(1, -(-total // per_page))
        rows = _chronology_rows(actor, child_id, page, per_page)
    total = rows[0].total if rows else 0
    shares = [row[0] for row in rows]
    result = Chronology(shares, page, max(1, -(-total // per_page)) if per_page else 1, total,
                        {row[0].id for row in rows if row.superseded})
    with unit_of_work():
        audit.record("read", actor=actor, object_type="share-chronology", child_id=child_id,
                     basis=child_access(actor, child_id).basis, detail={"shares": [x.id for x in shares]})
    return result


def _sent_by(actor: User, share_id: int) -> ShareRecord:
    """A share the actor may act on for its sender (correct, revoke), or the refusal and a 404."""
    return load_or_refuse(actor, ShareRecord, share_id, action=CHANGE)
