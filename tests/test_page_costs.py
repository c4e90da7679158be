"""Pages that cost what they show (issue 13): a child's page runs a fixed, small number of SQL
statements whatever the child's history, and its chronology is paged."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from hub import db
from hub.consent import service as consent_service
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.consent import GivenBy
from hub.models.roles import OrgKind, Role
from hub.models.sharing import (
    Category,
    ConsentPosition,
    ObtainedHow,
    ShareAccess,
    ShareRecipient,
    ShareRecord,
    SourceKind,
)
from hub.people.holders import record_holders
from tests.factories import enrol, episode_details, involve, make_child, make_org, make_user, sign_in
from tests.support.statements import page_statements

#: The goal of issue 13, everything counted: loading the session, the checks, the reads, the
#: audit writes (one INSERT each for the record and the chronology) and the menu's counts.
CHILD_PAGE_STATEMENTS = 12


@pytest.fixture
def world(app):
    la, school, police = make_org(OrgKind.childrens_social_care), make_org(OrgKind.school), make_org(OrgKind.police)
    child = make_child("Long", "History", responsible_authority_id=la.id)
    enrol(child, school)
    involve(child, police, "missing-person record")
    people = {"worker": make_user(la, Role.social_worker), "dsl": make_user(school, Role.dsl),
              "officer": make_user(police, Role.police_officer)}
    return dict(la=la, school=school, police=police, child=child,
                secrets={name: secret for name, (_, secret) in people.items()},
                **{name: user for name, (user, _) in people.items()})


def add_shares(world, count: int, **columns) -> list[int]:
    """`count` shares about the child from the authority to the school, a minute apart, loaded in
    bulk with what create_share writes beside them (the recipient, who may see each share)."""
    base = datetime(2025, 1, 1, tzinfo=UTC)
    start = db.session().scalar(select(ShareRecord.id).order_by(ShareRecord.id.desc()).limit(1)) or 0
    rows = [dict(id=start + i + 1, child_id=world["child"].id, sender_org_id=world["la"].id,
                 sender_user_id=world["worker"].id, shared=True, category=Category.risk_assessment,
                 summary=f"Share number {start + i + 1}.", content="Content", purpose="Safeguarding",
                 special_category=False, criminal_offence=False, law_enforcement=False, article_6="6(1)(e)",
                 gateway="CA1989-s47", source_kind=SourceKind.organisation, source_description="Missing team",
                 obtained_how=ObtainedHow.observation, obtained_on=date(2025, 1, 1),
                 consent_position=ConsentPosition.not_needed, created_at=base + timedelta(minutes=start + i),
                 **columns)
            for i in range(count)]
    with db.unit_of_work() as s:
        # Bulk on purpose (not tests/factories.py's make_share): 500 shares as a setup in a second.
        s.execute(insert(ShareRecord), rows)
        s.execute(insert(ShareRecipient), [dict(share_id=r["id"], organisation_id=world["school"].id, status="sent")
                                           for r in rows])
        s.execute(insert(ShareAccess), [dict(share_id=r["id"], organisation_id=org, created_at=r["created_at"])
                                        for r in rows for org in (world["la"].id, world["school"].id)])
        record_holders(s, [(world["child"].id, world["la"].id), (world["child"].id, world["school"].id)])
    return [r["id"] for r in rows]


def add_history(world) -> None:
    """Episodes (each notifying the school) and consent records beside the shares."""
    for n in range(3):
        missing.record_episode(world["officer"], world["child"].id, episode_details(police_reference=f"MP/26/{n:04d}"))
    for _ in range(2):
        consent_service.record_consent(world["worker"], consent_service.ConsentDetails(
            child_id=world["child"].id, given_by=GivenBy.parental_responsibility, giver_description="Mother",
            given=True, purposes=[Category.risk_assessment], recipient_org_ids=[world["school"].id],
            obtained_on=date.today()))


def _client(app, world, who):
    client = app.test_client()
    sign_in(client, world[who], world["secrets"][who])
    return client


def _page_of(world) -> str:
    return f"/children/{world['child'].id}"


@pytest.mark.parametrize("who", ["worker", "dsl"])
def test_a_childs_page_with_500_shares_runs_at_most_12_statements_everything_counted(app, world, who):
    add_history(world)
    add_shares(world, 500)
    client = _client(app, world, who)
    client.get(_page_of(world))  # the first view after signing in may note the session's last sight
    seen, page = page_statements(app, client, _page_of(world))
    assert len(seen) <= CHILD_PAGE_STATEMENTS, "\n".join(" ".join(s.split())[:160] for s in seen)
    assert "Share number 500." in page and "Share number 450." not in page  # the newest 50 only
    assert "Mother" in page  # the consents are on the page


@pytest.mark.parametrize("who", ["worker", "dsl"])
def test_the_childs_page_runs_the_same_statements_with_5_shares_as_with_500(app, world, who):
    add_history(world)
    client = _client(app, world, who)
    add_shares(world, 5)
    client.get(_page_of(world))
    few, _ = page_statements(app, client, _page_of(world))
    add_shares(world, 495)
    many, _ = page_statements(app, client, _page_of(world))
    assert len(many) == len(few)


def test_the_chronology_is_paged_newest_first_and_older_pages_are_reachable(app, world):
    add_shares(world, 120)
    client = _client(app, world, "dsl")
    _, first = page_statements(app, client, _page_of(world))
    assert "page 1 of 3 (120 shares)" in first
    assert "Share number 120." in first and "Share number 71." in first and "Share number 70." not in first
    assert 'aria-label="Chronology pages"' in first
    assert f'href="/children/{world["child"].id}?page=2#chronology"' in first  # "Next" and page 2

    _, last = page_statements(app, client, _page_of(world) + "?page=3")
    assert "Share number 20." in last and "Share number 1." in last and "Share number 21." not in last
    assert "page 3 of 3" in last and 'rel="next"' not in last and 'rel="prev"' in last
    _, past = page_statements(app, client, _page_of(world) + "?page=99")  # a stale link shows the last page
    assert "page 3 of 3" in past


def test_the_chronology_read_names_the_shares_of_the_page_shown(app, world):
    ids = add_shares(world, 60)
    client = _client(app, world, "dsl")
    client.get(_page_of(world) + "?page=2")
    event_ = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "share-chronology")
                                 .order_by(AuditEvent.id.desc()).limit(1))
    assert f'"shares":[{",".join(str(i) for i in sorted(ids[:10], reverse=True))}]' in event_.detail


def test_a_share_is_marked_superseded_when_its_correction_is_on_another_page(app, world):
    [original] = add_shares(world, 1)
    add_shares(world, 59)
    add_shares(world, 1, supersedes_id=original, supersede_reason="The date was wrong")
    client = _client(app, world, "dsl")
    _, first = page_statements(app, client, _page_of(world))
    _, second = page_statements(app, client, _page_of(world) + "?page=2")
    assert "Share number 61." in first and ">Correction<" in first and ">Superseded<" not in first
    row = re.search(r"Share number 1\.</a>.*?</td>", second, re.S).group(0)
    assert ">Superseded<" in row
