"""Children and enrolments: every read of a child's record is permission-checked and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Text, bindparam, func, select, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.expression import ColumnClause, TableClause

import hub.models  # noqa: F401  (every model registered, for encrypted_columns)
from hub import db, validators
from hub.audit import service as audit
from hub.crypto import CHILD_PREFIX, EncryptedText, blind_index, dob_index, name_tokens, normalise_identifier, rotate
from hub.db import Base, unit_of_work, utcnow
from hub.errors import Invalid, NotFound
from hub.models.auth import Organisation, User
from hub.models.people import (
    BREAK_GLASS_REASON_MIN,
    BREAK_GLASS_REASON_TOO_SHORT,
    BreakGlassCategory,
    BreakGlassGrant,
    Child,
    ChildDataKey,
    ChildIdentifier,
    ChildNameToken,
    Enrolment,
    Gender,
    IdentifierKind,
    LookedAfterPeriod,
)
from hub.models.roles import OrgKind
from hub.people import search as name_search
from hub.permissions import (
    child_access,
    child_bases,
    child_visible,
    load_child_or_refuse,
    may_administer,
    may_break_glass,
    may_read_emergency_reasons,
    refuse,
)

IDENTIFIER_VALIDATORS = {
    IdentifierKind.nhs_number: validators.nhs_number,
    IdentifierKind.upn: validators.unique_pupil_number,
    IdentifierKind.la_id: lambda v: validators.short_reference(v, "local authority id"),
    IdentifierKind.police_id: lambda v: validators.short_reference(v, "police id"),
}
PAGE_SIZE = 25


@dataclass
class ChildDetails:
    given_name: str
    family_name: str
    date_of_birth: date
    gender: Gender
    looked_after: bool = False
    #: The first day of the looked-after period open now (default: the day the record is made).
    looked_after_since: date | None = None
    responsible_authority_id: int | None = None
    placing_authority_id: int | None = None
    identifiers: dict[IdentifierKind, str] | None = None
    is_demo: bool = False


RECORD_LOADS = (joinedload(Child.identifiers), joinedload(Child.enrolments),
                joinedload(Child.responsible_authority), joinedload(Child.placing_authority))


def get_child(actor: User, child_id: int, purpose: str | None = None) -> Child:
    """A child's record, if the actor has a legitimate relationship; the read is audited."""
    # Everything a child's page shows of the record, in one statement (the identifiers would
    # otherwise be a second, the schools and authorities one more each as the page renders).
    child = load_child_or_refuse(actor, child_id, options=RECORD_LOADS)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="child", object_id=child_id, child_id=child_id,
                     basis=child_access(actor, child_id).basis, purpose=purpose)
    return child


BREAK_GLASS_FOR = timedelta(hours=1)


def break_glass(actor: User, child_id: int, category: BreakGlassCategory | None, reason: str) -> None:
    """Emergency access with no legitimate relationship: a practitioner chooses what kind of
    emergency and types why, gets one hour, and the grant and every read under it are audited as
    break-glass (and flagged). The log records the category; the typed reason is about people
    (the child, those around them), so it is kept only on the grant, encrypted."""
    reason = (reason or "").strip()
    errors = {}
    if category is None:
        errors["category"] = "Choose what kind of emergency this is"
    if len(reason) < BREAK_GLASS_REASON_MIN:
        errors["reason"] = BREAK_GLASS_REASON_TOO_SHORT
    if errors:
        raise Invalid(errors)
    if not may_break_glass(actor):
        refuse(actor, "child", child_id, child_id, action="break-glass")
    with unit_of_work() as s:
        if s.get(Child, child_id) is None:
            audit.record("break-glass", actor=actor, outcome=audit.REFUSED, object_type="child",
                         object_id=child_id, child_id=child_id)
            missing = True
        else:
            grant = BreakGlassGrant(user_id=actor.id, child_id=child_id, category=category, reason=reason,
                                    expires_at=utcnow() + BREAK_GLASS_FOR)
            s.add(grant)
            s.flush()
            # The basis of this access is on record (ISO 27789) as its category and the grant,
            # whose reason the DPO reads there: never the typed words in the log itself.
            audit.record("break-glass", actor=actor, object_type="child", object_id=child_id, child_id=child_id,
                         basis="break-glass", purpose=category.value, detail={"grant": grant.id})
            missing = False
    if missing:
        raise NotFound("child not found")


#: Grants shown to the DPO at once: an hour each, so far more than anyone asks for in a review.
EMERGENCY_GRANTS_SHOWN = 100


def emergency_access_of(actor: User, user_id: int) -> tuple[User, list[BreakGlassGrant], dict[int, str]]:
    """Someone's emergency access grants, newest first, with their typed reasons and the names of
    the children the DPO may see: for the DPO
    reviewing a break-glass flag (the log holds only each grant's category). The read is audited
    with the children the grants were for; refused (and audited) as a 404 for anyone else."""
    s = db.session()
    of_user = s.get(User, user_id)
    if of_user is None or not may_read_emergency_reasons(actor, of_user):
        refuse(actor, "break-glass-grants", user_id)
    with unit_of_work():
        grants = list(s.scalars(select(BreakGlassGrant).where(BreakGlassGrant.user_id == user_id)
                                .order_by(BreakGlassGrant.granted_at.desc()).limit(EMERGENCY_GRANTS_SHOWN)))
        audit.record("read", actor=actor, object_type="break-glass-grants", object_id=user_id, basis="role:dpo",
                     detail={"shown": len(grants), "children": sorted({g.child_id for g in grants})})
    # Each grant's child by name where the DPO may see the child (the list rule of children).
    names = {c.id: c.full_name for c in s.scalars(select(Child).where(
        Child.id.in_({g.child_id for g in grants}), child_visible(actor, Child.id)))} if grants else {}
    return of_user, grants, names


def _validated(details: ChildDetails) -> dict[IdentifierKind, str]:
    errors: dict[str, str] = {}
    if not details.given_name.strip():
        errors["given_name"] = "Enter the child's first name"
    if not details.family_name.strip():
        errors["family_name"] = "Enter the child's last name"
    if details.date_of_birth > date.today():
        errors["date_of_birth"] = "Date of birth must be today or in the past"
    elif details.date_of_birth < date(date.today().year - 26, 1, 1):
        errors["date_of_birth"] = "Date of birth is too long ago for a child or care leaver"
    clean: dict[IdentifierKind, str] = {}
    for kind, value in (details.identifiers or {}).items():
        if not value:
            continue
        try:
            clean[kind] = IDENTIFIER_VALIDATORS[kind](value)
        except ValueError as exc:
            errors[kind.value] = str(exc)
    if errors:
        raise Invalid(errors)
    return clean


def create_child(actor: User | None, details: ChildDetails) -> Child:
    """Create a child record (administrators, and the demo-data and import commands)."""
    if actor is not None and not may_administer(actor):
        refuse(actor, "child", None, action="create")
    identifiers = _validated(details)
    with unit_of_work() as s:
        for kind, value in identifiers.items():
            if _find_by_identifier(kind, value) is not None:
                raise Invalid({kind.value: f"A child with this {kind.label} is already recorded"})
        child = Child(
            given_name=details.given_name.strip(),
            family_name=details.family_name.strip(),
            date_of_birth_enc=details.date_of_birth.isoformat(),
            dob_hash=dob_index(details.date_of_birth),
            gender=details.gender,
            looked_after=details.looked_after,
            responsible_authority_id=details.responsible_authority_id,
            placing_authority_id=details.placing_authority_id,
            is_demo=details.is_demo,
        )
        s.add(child)
        s.flush()
        if details.looked_after:
            s.add(LookedAfterPeriod(child_id=child.id, started_on=details.looked_after_since or date.today()))
        for kind, value in identifiers.items():
            s.add(ChildIdentifier(child_id=child.id, kind=kind, value=value,
                                  lookup_hash=blind_index(kind.value, normalise_identifier(value))))
        name_search.write_index(s, child.id, child.given_name, child.family_name)
        audit.record("create", actor=actor, object_type="child", object_id=child.id, child_id=child.id,
                     basis="role:hub-admin" if actor else "system")
    return child


def record_looked_after_period(actor: User | None, child_id: int, started_on: date,
                               ended_on: date | None = None) -> LookedAfterPeriod:
    """Record a period in which the child was looked after (administrators, and the demo-data and
    import commands), or close the one open: a period starting on the open one's first day
    gives it its last. `Child.looked_after` follows (looked after now while a period is open)."""
    if actor is not None and not may_administer(actor):
        refuse(actor, "child", child_id, action="update")
    if ended_on is not None and ended_on < started_on:
        raise Invalid({"ended_on": "The last day must be on or after the first day"})
    with unit_of_work() as s:
        child = s.get(Child, child_id)
        if child is None:
            raise NotFound("no such child")
        periods = list(s.scalars(select(LookedAfterPeriod).where(LookedAfterPeriod.child_id == child_id)))
        period = next((p for p in periods if p.started_on == started_on), None)
        if period is None:
            overlapping = [p for p in periods if p.started_on <= (ended_on or date.max)
                           and (p.ended_on is None or p.ended_on >= started_on)]
            if overlapping:
                raise Invalid({"started_on": "The child is already looked after on some of those days"})
            period = LookedAfterPeriod(child_id=child_id, started_on=started_on)
            s.add(period)
            periods.append(period)
        period.ended_on = ended_on
        child.looked_after = any(p.ended_on is None for p in periods)
        s.flush()
        audit.record("update", actor=actor, object_type="child", object_id=child_id, child_id=child_id,
                     basis="role:hub-admin" if actor else "system",
                     detail={"looked_after_period": period.id, "open": ended_on is None})
    return period


def _find_by_identifier(kind: IdentifierKind, value: str) -> int | None:
    return db.session().scalar(
        select(ChildIdentifier.child_id).where(
            ChildIdentifier.kind == kind,
            ChildIdentifier.lookup_hash == blind_index(kind.value, normalise_identifier(value)),
        )
    )


def child_ids_by_identifier(kind: IdentifierKind, value: str) -> list[int]:
    """Exact lookup for matching (imports): no permission scope, no personal data returned."""
    found = _find_by_identifier(kind, value)
    return [found] if found else []


def child_ids_by_name(given: str, family: str, dob: date | None) -> list[int]:
    tokens = name_tokens(given, family)
    if not tokens:
        return []
    hashes = [blind_index("name", t) for t in tokens]
    query = (
        select(ChildNameToken.child_id)
        .where(ChildNameToken.token_hash.in_(hashes))
        .group_by(ChildNameToken.child_id)
        .having(func.count(func.distinct(ChildNameToken.token_hash)) == len(hashes))
    )
    if dob is not None:
        query = select(Child.id).where(Child.id.in_(query), Child.dob_hash == dob_index(dob))
    return list(db.session().scalars(query))


@dataclass
class ChildSearch:
    name: str = ""
    date_of_birth: date | None = None
    identifier: str = ""
    page: int = 1


@dataclass
class ChildPage:
    children: list[Child]
    total: int
    page: int
    pages: int


def _identifier_clause(value: str):
    hashes = [blind_index(kind.value, normalise_identifier(value)) for kind in IdentifierKind]
    return Child.id.in_(select(ChildIdentifier.child_id).where(ChildIdentifier.lookup_hash.in_(hashes)))


def search_clauses(search: ChildSearch) -> list:
    """The search box (part of a name, a sound-alike, a date of birth, an identifier) and the
    separate date of birth and identifier fields: every part given must match."""
    query = name_search.parse(search.name)
    clauses = [Child.id.in_(ids) for ids in name_search.matching_child_ids(query.words)]
    clauses += [Child.dob_hash == dob_index(d) for d in query.dates + [search.date_of_birth] if d]
    clauses += [_identifier_clause(v) for v in query.identifiers + [search.identifier] if v.strip()]
    return clauses


def find_children(actor: User, search: ChildSearch) -> ChildPage:
    """Children the actor may see, narrowed by the search. The listing is one audited read; the
    page shows names, so the event lists the ids shown."""
    query = select(Child).where(child_visible(actor, Child.id), *search_clauses(search))
    s = db.session()
    total = s.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, search.page), pages)
    # Names are encrypted, so the database cannot sort by them; id order is stable and cheap.
    children = list(s.scalars(query.order_by(Child.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
                              .options(selectinload(Child.enrolments))))  # the page shows each school: no N+1
    # A name in a list is a sight of the record, and the DPO's "who has seen this child" must
    # find it: the page's one event names every child shown (audit_event_child indexes them).
    searched = bool(search.name or search.date_of_birth or search.identifier)
    bases = child_bases(actor, [c.id for c in children])
    with unit_of_work():  # one event for the page, naming every child shown, with the bases of access
        audit.record("read", actor=actor, object_type="child-list",
                     basis=",".join(sorted({b for b in bases.values() if b}))[:100] or None,
                     children=[child.id for child in children], detail={"searched": searched})
    return ChildPage(children, total, page, pages)


def add_enrolment(actor: User, child_id: int, school_id: int, start: date) -> Enrolment:
    if not may_administer(actor):
        refuse(actor, "enrolment", None, child_id, action="create")
    with unit_of_work() as s:
        child = s.get(Child, child_id)
        school = s.get(Organisation, school_id)
        if child is None:
            raise NotFound("child not found")
        if school is None or school.kind != OrgKind.school:
            raise Invalid({"school_id": "Choose a school"})
        if start > date.today():
            raise Invalid({"start_date": "Start date must be today or in the past"})
        for current in child.enrolments:
            if current.end_date is None:
                if current.school_id == school_id:
                    raise Invalid({"school_id": "The child is already on this school's roll"})
                current.end_date = start  # a child is on one school's roll at a time
        # Through the relationship, so the child's list of enrolments the rule above reads is
        # current for the next call in this session too (sessions keep objects across commits).
        enrolment = Enrolment(child=child, school_id=school_id, start_date=start)
        s.add(enrolment)
        s.flush()
        audit.record("create", actor=actor, object_type="enrolment", object_id=enrolment.id, child_id=child_id,
                     basis="role:hub-admin", detail={"school": school_id})
    return enrolment


def end_enrolment(actor: User, enrolment_id: int, end: date) -> None:
    if not may_administer(actor):
        refuse(actor, "enrolment", enrolment_id, action="update")
    with unit_of_work() as s:
        enrolment = s.get(Enrolment, enrolment_id)
        if enrolment is None:
            raise NotFound("enrolment not found")
        if end < enrolment.start_date or end > date.today():
            raise Invalid({"end_date": "End date must be between the start date and today"})
        enrolment.end_date = end
        audit.record("update", actor=actor, object_type="enrolment", object_id=enrolment_id,
                     child_id=enrolment.child_id, basis="role:hub-admin", detail={"ended": end.isoformat()})


ROTATE_PAGE = 500


def rotate_keys() -> int:
    """After HUB_FIELD_KEYS rotation, put everything under the current field key: re-wrap every
    child's data key (the child-scoped fields themselves stay as they are, under the child's key:
    envelope encryption) and re-encrypt every field that is under the field keys (the hub's own
    secrets, the organisations' texts, rows about no child): every EncryptedText column of every
    table, found from the models, so a column encrypted later is never left under a key about to
    be retired. Returns how many keys and fields it re-encrypted."""
    with unit_of_work() as s:
        keys = _rewrap_data_keys(s)
        fields = sum(_rotate_column(s, *found) for found in encrypted_columns())
        audit.record("update", object_type="encryption-keys", detail={"rotated_fields": fields,
                                                                      "rewrapped_data_keys": keys})
    return keys + fields


def _rewrap_data_keys(s) -> int:
    """Every child's data key re-wrapped under the current field key, a page at a time."""
    page = (select(ChildDataKey.id, ChildDataKey.wrapped_key).where(ChildDataKey.wrapped_key.is_not(None))
            .order_by(ChildDataKey.id).limit(ROTATE_PAGE))
    change = (update(ChildDataKey.__table__).where(ChildDataKey.__table__.c.id == bindparam("key_id"))
              .values(wrapped_key=bindparam("wrapped")))
    count, rows = 0, s.execute(page).all()
    while rows:
        s.execute(change, [{"key_id": key_id, "wrapped": rotate(wrapped)} for key_id, wrapped in rows])
        count += len(rows)
        rows = s.execute(page.where(ChildDataKey.id > rows[-1][0])).all()
    return count


def _rotate_column(s, table: TableClause, key: ColumnClause, column: ColumnClause) -> int:
    """Rotate one column's tokens under the field keys as they are (never decrypted here), a page
    of rows at a time in the order of the row's key, so a large table (import files) is never held
    in memory at once. Tokens under a child's data key are left: their key was re-wrapped."""
    change = update(table).where(key == bindparam("row_key")).values({column.name: bindparam("token")})
    page = (select(key, column).where(column.is_not(None), ~column.startswith(CHILD_PREFIX, autoescape=True))
            .order_by(key).limit(ROTATE_PAGE))
    count, rows = 0, s.execute(page).all()
    while rows:
        s.execute(change, [{"row_key": row_key, "token": rotate(token)} for row_key, token in rows])
        count += len(rows)
        rows = s.execute(page.where(key > rows[-1][0])).all()
    return count


def encrypted_columns() -> list[tuple[TableClause, ColumnClause, ColumnClause]]:
    """Every table the hub encrypts a column of at rest, with its key and that column (hub.models
    registers every model), as plain text: the tokens themselves, not the values they hold."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                [key] = table.primary_key.columns  # every such table has a single-column key
                raw = sa_table(table.name, sa_column(key.name), sa_column(column.name, Text()))
                found.append((raw, raw.c[key.name], raw.c[column.name]))
    return found


def reindex_children(batch: int = 500) -> int:
    """Rewrite every child's keyed indexes (name words, prefixes and sounds, date of birth,
    identifiers) under the current blind index key and rules: after an upgrade that adds an index
    kind, or a new HUB_BLIND_INDEX_KEY. One transaction per batch of children."""
    count, last_id = 0, 0
    while True:
        with unit_of_work() as s:
            children = list(s.scalars(select(Child).where(Child.id > last_id).order_by(Child.id).limit(batch)))
            for child in children:
                name_search.write_index(s, child.id, child.given_name, child.family_name)
                child.dob_hash = dob_index(child.date_of_birth)
                for identifier in child.identifiers:
                    identifier.lookup_hash = blind_index(identifier.kind.value, normalise_identifier(identifier.value))
            if not children:
                audit.record("update", object_type="child-search-indexes", detail={"children": count})
                return count
            count, last_id = count + len(children), children[-1].id


def search_index_stale() -> bool:
    """True when the first child has no prefix row: indexed before prefixes and sounds existed
    (or under another key), so `reindex_children` is due. One child read, nothing shown."""
    child = db.session().scalar(select(Child).order_by(Child.id).limit(1))
    if child is None:
        return False
    word = max(sorted(name_tokens(child.given_name, child.family_name)), key=len)
    return not db.session().scalar(select(func.count()).select_from(ChildNameToken).where(
        ChildNameToken.child_id == child.id, ChildNameToken.token_hash.in_(name_search.word_hashes(word))))
