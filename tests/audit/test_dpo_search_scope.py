"""An organisation's DPO's search walks the log newest first and stops at a page (issue 13: under
100 ms at 10M events), and finds exactly their scope (their users, their children, listings that
showed their children), page after page."""

from __future__ import annotations

from sqlalchemy import select

from hub import db
from hub.audit import service as audit
from hub.dpo import scope as dpo_scope
from hub.dpo import search as dpo_search
from hub.models.audit import AuditEvent
from hub.models.roles import OrgKind, Role
from tests.factories import enrol, make_child, make_org, make_user


def _every_page(actor) -> list[int]:
    ids, before = [], None
    while True:
        page = dpo_search.search(actor, dpo_search.EventFilter(), before=before)
        ids += [e.id for e in page.events]
        if page.next_before is None:
            return ids
        before = page.next_before


def test_an_organisations_dpo_pages_through_exactly_their_scope_newest_first(app):
    school, other = make_org(OrgKind.school), make_org(OrgKind.school)
    child, elsewhere = make_child("Held", "Child"), make_child("Other", "Child")
    enrol(child, school)
    enrol(elsewhere, other)
    dsl, other_dsl = make_user(school, Role.dsl)[0], make_user(other, Role.dsl)[0]
    school_dpo = make_user(school, Role.dpo)[0]
    with db.unit_of_work():  # the three routes, interleaved, and events out of scope between them
        for _ in range(70):
            audit.record("read", actor=dsl, object_type="child", child_id=elsewhere.id)       # their user
            audit.record("read", actor=other_dsl, object_type="child", child_id=child.id)     # their child
            audit.record("read", actor=other_dsl, object_type="child", child_id=elsewhere.id)  # neither
            audit.record("read", actor=other_dsl, object_type="child-list",  # listing
                         children=[elsewhere.id, child.id])
            audit.record("read", actor=other_dsl, object_type="child-list", children=[elsewhere.id])  # neither
    before_search = db.session().scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    expected = list(db.session().scalars(dpo_scope._scoped(school_dpo, select(AuditEvent.id)).where(
        AuditEvent.id <= before_search).order_by(AuditEvent.id.desc())))
    found = [i for i in _every_page(school_dpo) if i <= before_search]  # its own searches are in scope too
    assert found == expected and len(found) >= 210
