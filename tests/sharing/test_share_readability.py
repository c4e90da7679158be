"""What a reader of the register needs on first sight (issue 12, items 1 and 4, and the last
security finding): every list and page of shares names the child it is about and links to the
child's page; legal bases and consent positions read in plain English with the code beside them;
and a share's free-text purpose never reaches the audit log."""

from __future__ import annotations

import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from hub import db
from hub.audit import integrator as audit_integrator
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.roles import Role
from hub.models.sharing import ConsentPosition
from hub.sharing import gateways as share_gateways
from hub.sharing import legal_bases, service
from hub.sharing import reading as share_reading
from hub.sharing import register as share_register
from hub.sharing.legal_bases import BasisChoice
from tests.factories import enrol, make_child, make_user
from tests.support.sharing import draft, pages_client, pages_world


@pytest.fixture
def world(app) -> dict:
    return pages_world()


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response.get_data(as_text=True)


def _child_cells(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", cell).strip()
            for cell in re.findall(r'data-testid="share-child">(.*?)</(?:td|p)>', page, re.S)]


def _child_link(world) -> str:
    return f'href="/children/{world["child"].id}">Paged Share</a>'


# --- item 1: the child each share is about ---------------------------------------------------------

def test_the_police_see_which_child_a_received_share_is_about_and_can_open_the_childs_page(app, world):
    share = service.create_share(world["worker"], draft(world, recipient_org_ids=[world["police"].id]))
    client = pages_client(app, world, "officer")
    [received] = _child_cells(_page(client, "/sharing"))
    assert _child_link(world) in received
    assert any(_child_link(world) in cell for cell in _child_cells(_page(client, f"/sharing/{share.id}")))
    assert any(_child_link(world) in cell for cell in _child_cells(_page(client, "/sharing/register")))


def test_the_sender_sees_the_child_in_shared_by_us_and_the_chronology(app, world):
    service.create_share(world["worker"], draft(world))
    client = pages_client(app, world, "worker")
    [sent] = _child_cells(_page(client, "/sharing"))
    assert _child_link(world) in sent
    [in_chronology] = _child_cells(_page(client, f"/children/{world['child'].id}"))
    assert _child_link(world) in in_chronology


def test_the_register_spreadsheet_names_the_child(world):
    share = service.create_share(world["worker"], draft(world))
    sheet = load_workbook(io.BytesIO(
        share_register.register_xlsx(world["worker"], share_register.RegisterFilter()))).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    [row] = [r for r in rows if r[0] == share.id]
    assert row[header.index("Child")] == "Paged Share"


def test_a_reader_without_a_relationship_to_the_child_sees_the_name_but_no_link(world):
    share = service.create_share(world["worker"], draft(world))
    assert share_reading.children_named(world["dsl"], [share]) == {
        world["child"].id: share_reading.ShareChild("Paged Share", may_open=True)}
    other = make_child("Other", "Child")
    with db.unit_of_work():
        share.child_id = other.id  # a share about a child the police have no route to
    assert share_reading.children_named(world["officer"], [share]) == {
        other.id: share_reading.ShareChild("Other Child", may_open=False)}


def test_intelligence_about_no_single_child_says_so_in_the_spreadsheet(world):
    share = service.create_share(world["worker"], draft(world))
    with db.unit_of_work():
        share.child_id = None  # as MACE intelligence about a place is stored
    sheet = load_workbook(io.BytesIO(
        share_register.register_xlsx(world["worker"], share_register.RegisterFilter()))).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][header.index("Child")] == "No single child (MACE intelligence)"


def test_naming_the_children_of_a_list_takes_no_query_per_share(app, world):
    client = pages_client(app, world, "dsl")
    engine = db.session().get_bind()

    def child_queries() -> int:
        statements: list[str] = []

        def keep(_conn, _cursor, statement, *_rest):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", keep)
        try:
            _page(client, "/sharing")
            _page(client, "/sharing/register")
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        return sum(s.lstrip().startswith("SELECT") and "FROM child" in s for s in statements)

    service.create_share(db.session().get(User, world["worker"].id), draft(world))
    few = child_queries()
    for i in range(5):
        child = make_child(f"Extra{i}", "Pupil", responsible_authority_id=world["la"].id)
        enrol(child, world["school"])
        service.create_share(db.session().get(User, world["worker"].id), draft(world, child_id=child.id))
    assert child_queries() == few
    assert "Extra4 Pupil" in _page(client, "/sharing")


# --- item 4: plain English, with the code beside it ------------------------------------------------

def test_a_code_reads_as_its_label_with_the_code_beside_it():
    assert legal_bases.describe("6(1)(e)") == "Public task (UK GDPR 6(1)(e))"
    assert legal_bases.describe("CA1989-s17") == "Children Act 1989 section 17 (CA1989-s17)"
    assert legal_bases.describe("S35+S8P4").endswith("(DPA 2018 S35+S8P4)")
    local = [legal_bases.LegalBasis("LOCAL-MACE", "Local MACE protocol", "Our protocol")]
    assert legal_bases.describe("LOCAL-MACE", local) == "Local MACE protocol (LOCAL-MACE)"
    assert legal_bases.describe("LOCAL-GONE") == "LOCAL-GONE" and legal_bases.describe(None) == ""


def test_consent_positions_read_in_plain_english():
    assert [p.label for p in ConsentPosition] == [
        "Consent relied on", "Consent not needed", "Consent refused but sharing justified"]


def test_the_share_page_lists_and_register_show_bases_and_consent_in_plain_english(app, world):
    share = service.create_share(world["worker"], draft(world, bases=BasisChoice(
        article_6="6(1)(e)", article_9="9(2)(g)+S1P18", gateway="CA1989-s47")))
    client = pages_client(app, world, "dsl")
    for url in (f"/sharing/{share.id}", "/sharing", "/sharing/register"):
        page = _page(client, url)
        for words in ("Public task (UK GDPR 6(1)(e))", "(UK GDPR 9(2)(g)+S1P18)",
                      "Children Act 1989 section 47 (CA1989-s47)", "Consent not needed"):
            assert words in page, f"{url} lacks {words}"
    register = _page(client, "/sharing/register")
    assert '<option value="not_needed">Consent not needed</option>' in register
    assert '<option value="6(1)(e)">Public task (UK GDPR 6(1)(e))</option>' in register


def test_a_local_gateway_reads_as_its_label_on_the_share_page(app, world):
    admin, _ = make_user(world["la"], Role.hub_admin)
    share_gateways.add_local_gateway(admin, "LOCAL-MACE-PROTOCOL", "Local MACE protocol", "Sharing at MACE meetings")
    share = service.create_share(world["worker"], draft(world, bases=BasisChoice(
        article_6="6(1)(e)", gateway="LOCAL-MACE-PROTOCOL")))
    assert "Local MACE protocol (LOCAL-MACE-PROTOCOL)" in _page(pages_client(app, world, "dsl"), f"/sharing/{share.id}")


def test_the_register_spreadsheet_shows_bases_and_consent_in_plain_english(world):
    service.create_share(world["worker"], draft(world))
    sheet = load_workbook(io.BytesIO(
        share_register.register_xlsx(world["worker"], share_register.RegisterFilter()))).active
    header, row = list(sheet.iter_rows(values_only=True))[:2]
    assert row[header.index("Article 6")] == "Public task (UK GDPR 6(1)(e))"
    assert row[header.index("Gateway")] == "Children Act 1989 section 47 (CA1989-s47)"
    assert row[header.index("Consent position")] == "Consent not needed"


# --- the last security finding: no free-text purpose in the audit log -------------------------------

def test_a_shares_free_text_purpose_never_reaches_the_audit_log(world):
    purpose = "Zanzibar-Quokka strategy meeting about her mother's new partner"
    share = service.create_share(world["worker"], draft(world, purpose=purpose))
    share_reading.get_share(world["dsl"], share.id)
    share_register.register_xlsx(world["worker"], share_register.RegisterFilter())
    audit_integrator.integrate_all()  # the leaves are written by the integrator
    events = db.session().scalars(select(AuditEvent)).all()
    assert events
    for e in events:
        for text in (e.purpose or "", e.detail or "", e.legal_basis or ""):
            assert "Zanzibar" not in text
        assert b"Zanzibar" not in e.leaf
    shared = next(e for e in events if e.action == "share" and e.object_id == str(share.id))
    assert shared.purpose == "risk_assessment" and json.loads(shared.detail)["category"] == "risk_assessment"
