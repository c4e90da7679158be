"""The subject access pack: only a DPO gets it (the hub's DPO for any child, an organisation's DPO
for the children and shares their organisation holds), it holds every share with its corrections,
decisions and onward shares, third-party information is marked for redaction review, and each
view is one audit event."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from hub import db
from hub.db import utcnow
from hub.errors import NotFound
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.missing.profiles import service as profiles
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.missing import Classification, MissingFrom, RiskGrade
from hub.models.roles import OrgKind, Role
from hub.models.sharing import Category, ConsentPosition, NoConsentReason, ObtainedHow, ShareRecord, SourceKind
from hub.sharing import corrections as share_corrections
from hub.sharing import decisions as share_decisions
from hub.sharing import service as sharing
from hub.sharing.legal_bases import BasisChoice
from hub.subject_access import service
from tests.factories import enrol, involve, make_child, make_org, make_user, sign_in

SHEETS = ["About this pack", "The child", "Schools", "Agencies involved", "Information shared", "Consent",
          "Missing episodes", "Philomena protocol profile", "Records destroyed", "Access to the record"]


@pytest.fixture
def world(app):
    la = make_org(OrgKind.childrens_social_care)
    school, other_school = make_org(OrgKind.school), make_org(OrgKind.school)
    health, police, host = make_org(OrgKind.health), make_org(OrgKind.police), make_org(OrgKind.mace_host)
    child = make_child("Subject", "Access", responsible_authority_id=la.id)
    enrol(child, school)
    involve(child, police, "missing-person record")
    w = dict(la=la, school=school, health=health, police=police, child=child)
    for name, org, roles in [("worker", la, [Role.social_worker]), ("manager", la, [Role.social_worker]),
                             ("dsl", school, [Role.dsl]), ("officer", police, [Role.police_officer]),
                             ("hub_dpo", host, [Role.dpo]), ("school_dpo", school, [Role.dpo]),
                             ("stranger_dpo", other_school, [Role.dpo]),
                             ("stranger_dpo_admin", other_school, [Role.dpo, Role.hub_admin])]:
        w[name], w[name + "_secret"] = make_user(org, *roles)
    return w


def draft(w, **changes) -> sharing.ShareDraft:
    values = dict(
        child_id=w["child"].id, category=Category.risk_assessment, summary="Organisation-sourced risk",
        content="Seen near the station twice this week.", purpose="Plan a strategy discussion",
        recipient_org_ids=[w["school"].id, w["health"].id], source_kind=SourceKind.organisation,
        source_description="Missing team", obtained_how=ObtainedHow.return_interview,
        obtained_on=date.today() - timedelta(days=1), bases=BasisChoice(article_6="6(1)(e)", gateway="CA1989-s47"),
        consent_position=ConsentPosition.not_needed, no_consent_reason=NoConsentReason.significant_harm,
        rationale="Asking would alert the adults exploiting her.", authorised_by_user_id=w["manager"].id,
        family_told=False, family_not_told_reason="Telling the family now could place the child at risk.")
    values.update(changes)
    return sharing.ShareDraft(**values)


@pytest.fixture
def shares(world):
    """Every kind of record: a share, a third-party one to health only, one from a parent, a
    decision not to share, a correction, police intelligence with handling code C, an onward share."""
    w = world
    made = {"plain": sharing.create_share(w["worker"], draft(w))}
    made["third_party"] = sharing.create_share(w["worker"], draft(
        w, summary="Aunt's account", source_kind=SourceKind.third_party, source_description="The child's aunt",
        recipient_org_ids=[w["health"].id]))
    made["parent"] = sharing.create_share(w["worker"], draft(
        w, summary="Mother's account", obtained_how=ObtainedHow.parent_or_carer))
    made["decision"] = share_decisions.record_decision_not_to_share(w["worker"], draft(
        w, summary="Not shared with the school", recipient_org_ids=[w["school"].id]))
    made["correction"] = share_corrections.correct(w["worker"], made["plain"].id, draft(w, summary="Corrected risk"),
                                         "The date was wrong")
    intel = dict(category=Category.police_intelligence, law_enforcement=True, source_evaluation="2",
                 intelligence_assessment="B", bases=BasisChoice(part_3="S35+S8P4", gateway="CDA1998-s115"),
                 authorised_by_user_id=w["officer"].id)
    made["intel_c"] = sharing.create_share(w["officer"], draft(
        w, summary="Guarded intelligence", handling_code="C", recipient_org_ids=[w["la"].id], **intel))
    made["intel_p"] = sharing.create_share(w["officer"], draft(
        w, summary="Open intelligence", handling_code="P", recipient_org_ids=[w["la"].id], **intel))
    made["onward"] = share_corrections.share_onward(w["worker"], made["intel_p"].id, draft(
        w, summary="Passed to the school", recipient_org_ids=[w["school"].id]))
    return made


def _client(app, world, who):
    client = app.test_client()
    sign_in(client, world[who], world[who + "_secret"])
    return client


def _section(pack, title):
    return next(s for s in pack.sections if s.title == title)


def _rows_by_share(pack) -> dict:
    return {row.values[0]: row for row in _section(pack, "Information shared").rows}


def _pack_events(**where) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.object_type == service.OBJECT_TYPE)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.session().scalars(query))


def _workbook(content: bytes):
    return load_workbook(io.BytesIO(content))


def _sheet_rows(book, title) -> list[dict]:
    rows = list(book[title].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_hub_dpo_gets_every_share_decision_correction_and_onward_share(app, world, shares):
    pack = service.pack(world["hub_dpo"], world["child"].id)
    rows = _rows_by_share(pack)
    assert set(rows) == {s.id for s in shares.values()}
    headers = _section(pack, "Information shared").headers
    assert rows[shares["decision"].id].values[headers.index("Type")] == "Decision not to share"
    correction = rows[shares["correction"].id].values
    assert correction[headers.index("Corrects share")] == shares["plain"].id
    assert correction[headers.index("Why corrected")] == "The date was wrong"
    assert rows[shares["plain"].id].values[headers.index("Corrected by")] == str(shares["correction"].id)
    assert rows[shares["onward"].id].values[headers.index("Passed on from share")] == shares["intel_p"].id

    html = _client(app, world, "hub_dpo").get(f"/subject-access/{world['child'].id}")
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    for title in SHEETS:
        assert f">{title}</h2>" in text
    for summary in ("Aunt&#39;s account", "Not shared with the school", "Corrected risk", "Passed to the school",
                    "Guarded intelligence"):
        assert summary in text
    assert "<title>Subject access pack – Safeguarding hub</title>" in text
    assert text.count('data-testid="redaction-review"') == len(shares)  # every share names another agency's staff
    assert service.THIRD_PARTY_SOURCE in text and service.HANDLING_C in text


def test_an_organisation_dpo_gets_only_the_shares_their_organisation_sent_or_received(world, shares):
    pack = service.pack(world["school_dpo"], world["child"].id)
    seen = set(_rows_by_share(pack))
    # The school received these; the third-party share went to health only, the decision not to
    # share never reaches its would-be recipients, and the intelligence went to the LA only.
    assert seen == {shares[k].id for k in ("plain", "parent", "correction", "onward")}
    assert "Everything the hub holds" not in str(_section(pack, "About this pack").rows)


@pytest.mark.parametrize("who", ["dsl", "worker", "stranger_dpo", "stranger_dpo_admin"])
@pytest.mark.parametrize("suffix, action", [("", "read"), (".xlsx", "export")])
def test_anyone_but_a_dpo_holding_the_child_gets_404_and_a_refusal_on_record(app, world, who, suffix, action):
    child_id = world["child"].id
    response = _client(app, world, who).get(f"/subject-access/{child_id}{suffix}")
    assert response.status_code == 404
    assert "Subject access" not in response.get_data(as_text=True)
    events = _pack_events(child_id=child_id, actor_user_id=world[who].id)
    assert [(e.outcome, e.action) for e in events] == [("refused", action)]


def test_a_child_that_does_not_exist_is_the_same_404(app, world):
    assert _client(app, world, "hub_dpo").get("/subject-access/999999").status_code == 404
    with pytest.raises(NotFound):  # the user as a request would load it (the client's request ended the session)
        service.pack(db.session().get(User, world["hub_dpo"].id), 999999)


def test_the_workbook_has_a_sheet_per_section_and_marks_third_party_information(app, world, shares):
    response = _client(app, world, "hub_dpo").get(f"/subject-access/{world['child'].id}.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    book = _workbook(response.data)
    assert book.sheetnames == SHEETS
    review = {row["Share"]: row["Redaction review"] for row in _sheet_rows(book, "Information shared")}
    assert service.THIRD_PARTY_SOURCE in review[shares["third_party"].id]
    assert service.FROM_PARENT in review[shares["parent"].id]
    assert service.HANDLING_C in review[shares["intel_c"].id]
    assert service.HANDLING_C not in (review[shares["intel_p"].id] or "")
    # Sent by a social worker of the LA, authorised by another: other agencies' staff to the hub.
    assert review[shares["plain"].id] == service.STAFF_NAMES
    child = {row["Detail"]: row["Value"] for row in _sheet_rows(book, "The child")}
    assert child["Name"] == "Subject Access"


def test_an_organisation_sourced_share_within_the_dpos_own_organisation_is_not_marked(world, shares):
    # To the LA's own DPO, its social workers are not third parties and the source is the LA.
    la_dpo, _ = make_user(world["la"], Role.dpo)
    book = _workbook(service.pack_xlsx(la_dpo, world["child"].id))
    review = {row["Share"]: row["Redaction review"] for row in _sheet_rows(book, "Information shared")}
    assert review[shares["plain"].id] in (None, "")
    assert review[shares["third_party"].id] == service.THIRD_PARTY_SOURCE


def test_the_access_summary_names_who_read_the_record_and_marks_other_agencies_staff(app, world, shares):
    _client(app, world, "dsl").get(f"/children/{world['child'].id}")
    dpo = db.session().get(User, world["school_dpo"].id)  # the request ended the test's session
    pack = service.pack(dpo, world["child"].id)
    access = _section(pack, "Access to the record")
    by_user = {(row.values[1], row.values[2]): row for row in access.rows}
    dsl_read = by_user[(world["dsl"].name, "read")]
    assert dsl_read.values[0] == world["school"].name and dsl_read.review == []  # the DPO's own colleague
    assert by_user[(world["worker"].name, "share")].review == [service.STAFF_NAMES]


def test_each_view_writes_exactly_one_pack_audit_event_in_the_same_request(app, world, shares):
    client = _client(app, world, "hub_dpo")
    child_id = world["child"].id
    for url, action in ((f"/subject-access/{child_id}", "read"), (f"/subject-access/{child_id}.xlsx", "export")):
        before = db.session().scalar(select(func.count()).select_from(AuditEvent))
        assert client.get(url).status_code == 200
        after = db.session().scalar(select(func.count()).select_from(AuditEvent))
        assert after - before == 1
        events = _pack_events(action=action)
        assert len(events) == 1
        event = events[0]
        assert (event.outcome, event.child_id, event.access_basis) == ("done", child_id, "role:dpo")
        assert sorted(int(i) for i in json.loads(event.detail)["shares"]) == sorted(
            s.id for s in shares.values())


def test_a_formula_like_summary_is_inert_in_the_workbook(world):
    formula = '=HYPERLINK("http://example.test/steal","Open")'
    share = sharing.create_share(world["worker"], draft(world, summary=formula))
    content = service.pack_xlsx(world["hub_dpo"], world["child"].id)
    sheet = _workbook(content)["Information shared"]
    cells = [c for row in sheet.iter_rows() for c in row if c.value and "HYPERLINK" in str(c.value)]
    assert [c.row for c in cells] and all(c.data_type == "s" and c.value == "'" + formula for c in cells)
    assert any(c.value == share.id for c in sheet["A"])
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        assert not any("<f>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_the_childs_page_links_to_the_pack_for_a_dpo_only(app, world):
    url = f"/children/{world['child'].id}"
    link = f'href="/subject-access/{world["child"].id}"'
    assert link in _client(app, world, "hub_dpo").get(url).get_data(as_text=True)
    assert link in _client(app, world, "school_dpo").get(url).get_data(as_text=True)
    dsl_page = _client(app, world, "dsl").get(url)
    assert dsl_page.status_code == 200 and link not in dsl_page.get_data(as_text=True)


def test_missing_episodes_and_the_profile_are_in_the_pack_with_free_text_marked(world):
    missing.record_episode(world["officer"], world["child"].id, missing_details.EpisodeDetails(
        police_reference="SAR/1", reported_start=utcnow(), classification=Classification.missing,
        risk_grade=RiskGrade.high, missing_from=MissingFrom.home, missing_from_detail="the park"))
    profiles.save_profile(world["worker"], world["child"].id, {"friends_and_associates": "A friend called Sam",
                                                              "medical_needs": "Inhaler"})
    pack = service.pack(world["hub_dpo"], world["child"].id)
    episodes = _section(pack, "Missing episodes")
    assert [r.values[0] for r in episodes.rows] == ["SAR/1"] and episodes.rows[0].review
    profile = {r.values[0]: r for r in _section(pack, "Philomena protocol profile").rows}
    assert profile["Friends and associates"].review and not profile["Medical needs and medication"].review
    # A school's DPO holds no episode of its own: the police's record stays with the police.
    school_pack = service.pack(world["school_dpo"], world["child"].id)
    assert _section(school_pack, "Missing episodes").rows == []
    assert _section(school_pack, "Philomena protocol profile").rows == []  # the authority holds it


def test_a_decision_not_to_share_is_never_called_sent(world, shares):
    pack = service.pack(world["hub_dpo"], world["child"].id)
    headers = _section(pack, "Information shared").headers
    recipients = _rows_by_share(pack)[shares["decision"].id].values[headers.index("Recipients")]
    assert recipients.endswith(": not shared (decision)") and "sent" not in recipients
    assert _rows_by_share(pack)[shares["plain"].id].values[headers.index("Recipients")].count(": sent") == 2


def test_the_pack_writes_every_day_and_time_one_way_in_london_time(app, world, shares):
    summer = datetime(2026, 7, 1, 11, 30)  # UTC; 12:30 in London (BST)
    with db.unit_of_work() as s:
        s.execute(update(ShareRecord).where(ShareRecord.id == shares["plain"].id).values(created_at=summer))
    iso = re.compile(r"\d{4}-\d{2}-\d{2}")
    pack = service.pack(world["hub_dpo"], world["child"].id)
    headers = _section(pack, "Information shared").headers
    plain = _rows_by_share(pack)[shares["plain"].id].values
    assert plain[headers.index("Recorded")] == "1 July 2026 12:30"
    assert plain[headers.index("Obtained on")] == (date.today() - timedelta(days=1)).strftime("%-d %B %Y")
    for section in pack.sections:
        assert not any("UTC" in h for h in section.headers)
        for row in section.rows:
            assert not any(isinstance(v, date) or iso.search(str(v)) for v in row.values), (section.title, row)

    page = _client(app, world, "hub_dpo").get(f"/subject-access/{world['child'].id}").get_data(as_text=True)
    assert "1 July 2026 12:30" in page and "(UTC)" not in page
    book = _workbook(_client(app, world, "hub_dpo").get(f"/subject-access/{world['child'].id}.xlsx").data)
    recorded = {row["Share"]: row["Recorded"] for row in _sheet_rows(book, "Information shared")}
    assert recorded[shares["plain"].id] == "1 July 2026 12:30"
    about = {row["Item"]: row["Value"] for row in _sheet_rows(book, "About this pack")}
    assert "Europe/London" in about["Times"]


def test_the_pack_gives_legal_bases_and_consent_in_plain_english_with_the_code_beside(app, world, shares):
    expected = {"Legal basis": "Public task (UK GDPR 6(1)(e)); Children Act 1989 section 47 (CA1989-s47)",
                "Consent position": "Consent not needed"}
    book = _workbook(_client(app, world, "hub_dpo").get(f"/subject-access/{world['child'].id}.xlsx").data)
    plain = next(row for row in _sheet_rows(book, "Information shared") if row["Share"] == shares["plain"].id)
    assert {name: plain[name] for name in expected} == expected
    intel = next(row for row in _sheet_rows(book, "Information shared") if row["Share"] == shares["intel_c"].id)
    assert intel["Legal basis"].startswith("DPA 2018 Part 3, section 35(5): safeguarding")
    assert "(DPA 2018 S35+S8P4); Crime and Disorder Act 1998 section 115 (CDA1998-s115)" in intel["Legal basis"]
    text = _client(app, world, "hub_dpo").get(f"/subject-access/{world['child'].id}").get_data(as_text=True)
    for words in expected.values():
        assert words in text
