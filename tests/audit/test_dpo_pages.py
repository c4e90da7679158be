"""The data protection officer's pages: search scoped to what they may see, keyset paging,
exports, the integrity panel and flags; nobody else reaches them."""

from __future__ import annotations

import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hub import db
from hub.audit.models import AuditEvent
from hub.audit.verify import verify_export
from hub.auth.roles import OrgKind, Role
from hub.people import service as people
from tests.factories import csrf_token, enrol, make_child, make_org, make_user, post_form, sign_in


@pytest.fixture
def setting(app):
    host = make_org(OrgKind.mace_host)
    school, other_school = make_org(OrgKind.school), make_org(OrgKind.school)
    dsl, _ = make_user(school, Role.dsl)
    other_dsl, _ = make_user(other_school, Role.dsl)
    child, other_child = make_child("Audit", "Subject"), make_child("Other", "Pupil")
    enrol(child, school)
    enrol(other_child, other_school)
    people.get_child(dsl, child.id)
    people.get_child(other_dsl, other_child.id)
    hub_dpo = make_user(host, Role.dpo)
    school_dpo = make_user(school, Role.dpo)
    return {"host": host, "school": school, "dsl": dsl, "other_dsl": other_dsl, "child": child,
            "other_child": other_child, "hub_dpo": hub_dpo, "school_dpo": school_dpo}


def _client(app, pair):
    client = app.test_client()
    sign_in(client, *pair)
    return client


def _rows(html: str) -> list[str]:
    table = html.split('data-testid="audit-events"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", table, re.S)[1:]


def test_the_hub_dpo_sees_who_has_seen_a_childs_record(app, setting):
    client = _client(app, setting["hub_dpo"])
    html = client.get(f"/audit/children/{setting['child'].id}").get_data(as_text=True)
    assert setting["dsl"].name in html and "enrolment" in html
    assert setting["other_dsl"].name not in html


def test_an_organisations_dpo_sees_only_their_own_users_events(app, setting):
    client = _client(app, setting["school_dpo"])
    html = client.get("/audit").get_data(as_text=True)
    assert setting["dsl"].name in html
    assert setting["other_dsl"].name not in html


@pytest.mark.parametrize("who", ["dsl", "admin"])
def test_people_who_are_not_dpos_cannot_search_the_log(app, setting, who):
    if who == "dsl":
        pair = make_user(setting["school"], Role.dsl)
    else:
        pair = make_user(setting["host"], Role.hub_admin)
    client = _client(app, pair)
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.xlsx").status_code == 403
    assert client.get("/audit/integrity").status_code == (200 if who == "admin" else 403)


def test_keyset_paging_shows_every_event_once(app, setting):
    for _ in range(60):
        people.get_child(setting["dsl"], setting["child"].id)
    client = _client(app, setting["hub_dpo"])
    total = len(db.session().scalars(select(AuditEvent.seq).where(
        AuditEvent.actor_user_id == setting["dsl"].id)).all())
    first = client.get(f"/audit?user_id={setting['dsl'].id}").get_data(as_text=True)
    assert len(_rows(first)) == 50
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    seqs = lambda html: re.findall(r'<td class="govuk-table__cell">(\d+)</td>', html)  # noqa: E731
    assert len(_rows(second)) == total - 50 and not set(seqs(first)) & set(seqs(second))


def test_a_bad_filter_shows_an_error(app, setting):
    client = _client(app, setting["hub_dpo"])
    response = client.get("/audit?date_from=2&date_from=3&date_from=2026&date_to=1&date_to=3&date_to=2026")
    assert "The end date must be the same as or after the start date" in response.get_data(as_text=True)


def test_the_xlsx_export_holds_the_filtered_events_with_formulas_made_inert(app, setting):
    from hub.admin import service as admin

    evil, _ = make_user(setting["school"], Role.dsl)
    admin.update_user(None, evil.id, admin.UserDetails(email=evil.email, name='=HYPERLINK("http://x")',
                                                       organisation_id=setting["school"].id, roles={Role.dsl}))
    people.get_child(evil, setting["child"].id)
    client = _client(app, setting["hub_dpo"])
    response = client.get(f"/audit/export.xlsx?child_id={setting['child'].id}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Sequence" and len(rows) >= 3
    names = [r[5] for r in rows[1:]]
    assert "'=HYPERLINK(\"http://x\")" in names
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_the_json_export_verifies_offline(app, setting):
    client = _client(app, setting["hub_dpo"])
    data = json.loads(client.get(f"/audit/export.json?child_id={setting['child'].id}").data)
    assert data["entries"] and verify_export(data) == []


def test_verify_now_shows_a_verified_log(app, setting):
    client = _client(app, setting["hub_dpo"])
    page = client.get("/audit/integrity").get_data(as_text=True)
    response = client.post("/audit/integrity/verify", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "The audit log verified" in response.get_data(as_text=True)
    assert "Verified" in client.get("/audit/integrity").get_data(as_text=True)


def test_failed_sign_ins_raise_a_flag_that_is_closed_with_a_note(app, setting):
    target = setting["dsl"]
    attacker = app.test_client()
    for _ in range(5):
        post_form(attacker, "/auth/sign-in", {"email": target.email, "password": "wrong password!!"})
    client = _client(app, setting["hub_dpo"])
    page = client.get("/audit/flags").get_data(as_text=True)
    assert "failed-sign-ins" in page
    flag_id = re.search(r'/audit/flags/(\d+)/close', page).group(1)
    response = client.post(f"/audit/flags/{flag_id}/close", data={"csrf_token": csrf_token(page), "note": ""},
                           follow_redirects=True)
    assert "Write what you found" in response.get_data(as_text=True)
    client.post(f"/audit/flags/{flag_id}/close", data={"csrf_token": csrf_token(page),
                                                       "note": "User forgot their password; reset."})
    assert "User forgot their password" in client.get("/audit/flags?status=closed").get_data(as_text=True)
    closed = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "audit-flag"))
    assert closed.object_id == flag_id and "forgot" not in closed.leaf.decode()


def test_a_look_up_of_a_same_surname_child_is_flagged(app, setting):
    from hub.audit import dpo

    relative = make_child("Kin", "Subject")
    enrol(relative, setting["school"])
    from hub.admin import service as admin

    dsl = setting["dsl"]
    admin.update_user(None, dsl.id, admin.UserDetails(email=dsl.email, name="Sam Subject",
                                                      organisation_id=dsl.organisation_id, roles={Role.dsl}))
    people.get_child(db.session().get(type(dsl), dsl.id), relative.id)
    assert dpo.raise_flags() >= 1
    from hub.audit.models import AuditFlag

    kinds = set(db.session().scalars(select(AuditFlag.kind)))
    assert "same-surname" in kinds


def test_an_organisations_dpo_also_sees_other_agencies_reads_of_their_pupils(app, setting):
    social_care = make_org(OrgKind.childrens_social_care)
    worker, _ = make_user(social_care, Role.social_worker)
    from tests.factories import involve

    involve(setting["child"], social_care)
    people.get_child(worker, setting["child"].id)
    client = _client(app, setting["school_dpo"])
    html = client.get(f"/audit/children/{setting['child'].id}").get_data(as_text=True)
    assert worker.name in html
    other = client.get(f"/audit/children/{setting['other_child'].id}").get_data(as_text=True)
    assert setting["other_dsl"].name not in other
