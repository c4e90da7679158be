"""The police download's review queue: rows that match no child wait here until a person matches
them to a child, creates the child, or dismisses them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.crypto import normalise_identifier
from hub.db import unit_of_work, utcnow
from hub.errors import Invalid
from hub.missing import service
from hub.missing.imports.download import COLUMN_BY_FIELD, ParsedRow
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, User
from hub.models.missing import EpisodeSource, ImportReviewItem, MissingEpisode, ReviewStatus
from hub.models.people import Child, Gender, IdentifierKind
from hub.notifications.routing import current_school
from hub.people import service as people
from hub.permissions import child_bases, load_or_refuse, may_administer, may_import_downloads, refuse, visible_clause

DISMISS_REASONS = {
    "not_a_child": "Not a child: the person is 18 or over",
    "duplicate": "A duplicate of another report",
    "not_our_area": "Not a child of the hub's partnership area",
    "test_record": "A test or training record",
    "withdrawn": "The report was withdrawn or made in error",
}


def _reason(name: str, message: str) -> str:
    column = COLUMN_BY_FIELD.get(name)
    return f"{column.heading if column else 'Row'}: {message}"


# --- the review queue --------------------------------------------------------------------------------

@dataclass
class ReviewRow:
    item: ImportReviewItem
    row: ParsedRow
    force: Organisation


def _review_row(item: ImportReviewItem) -> ReviewRow:
    return ReviewRow(item, ParsedRow.from_json(item.row_number, json.loads(item.row_data)),
                     db.session().get(Organisation, item.police_org_id))


def review_queue(actor: User, limit: int = 200) -> list[ReviewRow]:
    """Waiting rows: of the officer's own force, or of every force for an administrator. The
    page shows the names the force sent, so it is an audited read."""
    if not may_import_downloads(actor):
        refuse(actor, "import-review-item", None)
    items = list(db.session().scalars(
        select(ImportReviewItem).where(ImportReviewItem.status == ReviewStatus.waiting,
                                       visible_clause(actor, ImportReviewItem))
        .order_by(ImportReviewItem.id).limit(limit)))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="import-review-list",
                     detail={"items": [i.id for i in items]})
    return [_review_row(i) for i in items]


def _item_for(actor: User, item_id: int, action: str) -> ImportReviewItem:
    return load_or_refuse(actor, ImportReviewItem, item_id, action=action)


def get_review_item(actor: User, item_id: int) -> ReviewRow:
    item = _item_for(actor, item_id, "read")
    with unit_of_work():
        audit.record("read", actor=actor, object_type="import-review-item", object_id=item.id,
                     child_id=item.child_id)
    return _review_row(item)


@dataclass
class CandidateSearch:
    """What a reviewer knows. Exact keys only (an identifier, or full name and date of birth):
    the reviewer may not know the child yet, so this is a lookup, not a browse."""

    given_name: str = ""
    family_name: str = ""
    date_of_birth: date | None = None
    identifier: str = ""

    @property
    def given(self) -> bool:
        return bool(self.identifier.strip() or (self.given_name.strip() and self.family_name.strip()
                                                and self.date_of_birth))


@dataclass
class Candidate:
    """A child the row may be about. The reviewer sees which of the row's own details the child's
    record has (`matches`); the child's name, date of birth and school only when they may see the
    child already (`child` is None otherwise): a lookup by an exact key must not tell a force's
    officer about a child they hold no relationship to (hub.permissions)."""

    child_id: int
    matches: list[str]
    child: Child | None = None
    school: Organisation | None = None


#: The row's details a candidate is compared on, in the order the page lists them.
_COMPARED = {"given name": lambda row, child: _same(row.given_name, child.given_name),
             "family name": lambda row, child: _same(row.family_name, child.family_name),
             "date of birth": lambda row, child: row.date_of_birth is not None
             and row.date_of_birth == child.date_of_birth,
             "NHS number": lambda row, child: _same_identifier(row.nhs_number,
                                                               child.identifier(IdentifierKind.nhs_number)),
             "police id": lambda row, child: _same_identifier(row.police_id,
                                                              child.identifier(IdentifierKind.police_id))}


def _same(given: str | None, recorded: str | None) -> bool:
    return bool(given and recorded) and given.strip().casefold() == recorded.strip().casefold()


def _same_identifier(given: str | None, recorded: str | None) -> bool:
    return bool(given and recorded) and normalise_identifier(given) == normalise_identifier(recorded)


def _candidate_ids(row: ParsedRow, search: CandidateSearch | None) -> list[int]:
    if search is not None and search.given:
        if search.identifier.strip():
            found: list[int] = []
            for kind in IdentifierKind:
                found += [c for c in people.child_ids_by_identifier(kind, search.identifier.strip()) if c not in found]
            return found
        return people.child_ids_by_name(search.given_name, search.family_name, search.date_of_birth)
    # Without a search: children with the row's own name and date of birth (matching stopped
    # because there were several, or the row's identifiers are not recorded yet).
    if row.given_name and row.family_name and row.date_of_birth:
        return people.child_ids_by_name(row.given_name, row.family_name, row.date_of_birth)
    return []


def candidates(actor: User, item_id: int, search: CandidateSearch | None = None) -> list[Candidate]:
    """Children the row may be about, for the reviewer to choose; each one shown is audited."""

    item = _item_for(actor, item_id, "read")
    if item.status != ReviewStatus.waiting:
        return []
    row = _review_row(item).row
    ids = _candidate_ids(row, search)[:20]
    children = list(db.session().scalars(select(Child).where(Child.id.in_(ids)).order_by(Child.id))) if ids else []
    known = child_bases(actor, [c.id for c in children])
    with unit_of_work():
        audit.record("read", actor=actor, object_type="child-list", basis="import-review",
                     purpose="match a police download row", detail={"item": item.id},
                     children=[c.id for c in children])
    return [Candidate(c.id, [name for name, same in _COMPARED.items() if same(row, c)],
                      c if c.id in known else None, current_school(c.id) if c.id in known else None)
            for c in children]


def _waiting(item: ImportReviewItem) -> None:
    if item.status != ReviewStatus.waiting:
        raise Invalid({"": "This row has already been dealt with"})


def match_item(actor: User, item_id: int, child_id: int, search: CandidateSearch | None = None) -> MissingEpisode:
    """The reviewer says whose row it is; the row is then applied (episode, school told). The
    child must be one the same search finds: a reviewer cannot attach a report to any child id."""
    item = _item_for(actor, item_id, "update")
    _waiting(item)
    row = _review_row(item).row
    if child_id not in _candidate_ids(row, search):
        raise Invalid({"child_id": "Choose a child from the search results"})
    with unit_of_work():
        episode = _apply_reviewed(actor, item, row, child_id)
        _resolve(actor, item, ReviewStatus.matched, child_id, episode.id, how="person")
    return episode


def create_child_for_item(actor: User, item_id: int, gender: Gender) -> MissingEpisode:
    """No such child is recorded: create the child from the row, then apply it."""
    item = _item_for(actor, item_id, "update")
    _waiting(item)
    row = _review_row(item).row
    if not (row.given_name and row.family_name and row.date_of_birth):
        raise Invalid({"": "The row has no full name and date of birth, so the hub cannot create the child: "
                           "find the child and match the row instead"})
    identifiers = {kind: value for kind, value in ((IdentifierKind.police_id, row.police_id),
                                                   (IdentifierKind.nhs_number, row.nhs_number)) if value}
    with unit_of_work():
        # Only an administrator creates children in their own name; for a police officer the
        # record is created by the import (as the CLI does) and the review event names them.
        child = people.create_child(actor if may_administer(actor) else None, people.ChildDetails(
            given_name=row.given_name, family_name=row.family_name, date_of_birth=row.date_of_birth,
            gender=gender, identifiers=identifiers))
        episode = _apply_reviewed(actor, item, row, child.id)
        _resolve(actor, item, ReviewStatus.created, child.id, episode.id, how="person")
    return episode


def _apply_reviewed(actor: User, item: ImportReviewItem, row: ParsedRow, child_id: int) -> MissingEpisode:
    try:
        result = service.apply_police_record(actor, item.police_org_id, child_id, row.details,
                                             EpisodeSource.police_download)
    except Invalid as exc:
        raise Invalid({"": "; ".join(_reason(name, message) for name, message in exc.errors.items())}) from None
    return result.episode


def _resolve(actor: User, item: ImportReviewItem, status: ReviewStatus, child_id: int | None,
             episode_id: int | None, how: str, reason: str | None = None) -> None:
    item.status, item.child_id, item.episode_id = status, child_id, episode_id
    item.resolved_by_user_id, item.resolved_at = actor.id, utcnow()
    detail = {"outcome": status.value, "by": how}
    if episode_id:
        detail["episode"] = episode_id
    if reason:
        detail["reason"] = reason  # a code from DISMISS_REASONS, never free text
    audit.record("update", actor=actor, object_type="import-review-item", object_id=item.id, child_id=child_id,
                 basis="police-report" if child_id else None, detail=detail)


def dismiss_item(actor: User, item_id: int, reason: str) -> None:
    item = _item_for(actor, item_id, "update")
    _waiting(item)
    if reason not in DISMISS_REASONS:
        raise Invalid({"reason": "Choose why the row is dismissed"})
    with unit_of_work():
        _resolve(actor, item, ReviewStatus.dismissed, None, None, how="person", reason=reason)


def dismissal_reason(item_id: int) -> str | None:
    """The reason a row was dismissed: kept in the audit event (the model has no column for it)."""
    detail = db.session().scalar(select(AuditEvent.detail).where(
        AuditEvent.object_type == "import-review-item", AuditEvent.object_id == str(item_id),
        AuditEvent.action == "update").order_by(AuditEvent.id.desc()).limit(1))
    code = json.loads(detail).get("reason") if detail else None
    return DISMISS_REASONS.get(code) if code else None
