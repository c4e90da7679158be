"""The data protection officer's pages: search scoped to what they may see, keyset paging,
exports, the integrity panel and flags; nobody else reaches them."""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from hub import db
from hub.admin import service as admin
from hub.audit import tree_heads as audit_tree_heads
from hub.audit import verification
from hub.audit.verify import verify_export
from hub.dpo import flags as dpo_flags
from hub.dpo import integrity as dpo_integrity
from hub.errors import Invalid
from hub.models.audit import AuditEvent, AuditFlag, AuditVerification
from hub.models.roles import OrgKind, Role
from hub.people import service as people
from tests.factories import (
    csrf_token,
    enrol,
    fail_sign_in_five_times,
    involve,
    make_child,
    make_org,
    make_user,
    sign_in,
)
from tests.support.audit_log import record_events


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


def test_the_hub_dpo_filters_the_log_by_child(app, setting):
    client = _client(app, setting["hub_dpo"])
    child = setting["child"]
    html = client.get(f"/audit?child_id={child.id}&action=read").get_data(as_text=True)
    rows = _rows(html)
    assert rows and all(f'href="/audit/children/{child.id}"' in row and ">read<" in row for row in rows)
    assert setting["dsl"].name in html and setting["other_dsl"].name not in html
    # The download links carry the same filters.
    assert f"/audit/export.xlsx?child_id={child.id}&amp;action=read" in html
    assert f"/audit/export.json?child_id={child.id}&amp;action=read" in html


def test_the_child_and_user_pages_link_to_each_other_and_download_what_they_show(app, setting):
    client = _client(app, setting["hub_dpo"])
    child, dsl = setting["child"], setting["dsl"]
    html = client.get(f"/audit/children/{child.id}").get_data(as_text=True)
    assert f'href="/audit/users/{dsl.id}"' in html
    assert f"/audit/export.xlsx?child_id={child.id}" in html
    user_page = client.get(f"/audit/users/{dsl.id}").get_data(as_text=True)
    assert f"What {dsl.name} has done" in user_page and f'href="/audit/children/{child.id}"' in user_page
    assert setting["other_dsl"].name not in "".join(_rows(user_page))


@pytest.mark.parametrize("who", ["dsl", "social_worker", "admin"])
def test_people_who_are_not_dpos_cannot_search_the_log(app, setting, who):
    if who == "dsl":
        pair = make_user(setting["school"], Role.dsl)
    elif who == "social_worker":
        pair = make_user(make_org(OrgKind.childrens_social_care), Role.social_worker)
    else:
        pair = make_user(setting["host"], Role.hub_admin)
    client = _client(app, pair)
    for url in ("/audit", "/audit/export.xlsx", "/audit/export.json", f"/audit/children/{setting['child'].id}",
                f"/audit/users/{setting['dsl'].id}", "/audit/flags"):
        assert client.get(url).status_code == 403, url
    assert client.get("/audit/integrity").status_code == (200 if who == "admin" else 403)
    refused = db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == pair[0].id, AuditEvent.outcome == "refused")).all()
    assert any(e.object_id == "audit.search" for e in refused)


def test_a_hub_admin_can_verify_the_log(app, setting):
    client = _client(app, make_user(setting["host"], Role.hub_admin))
    page = client.get("/audit/integrity").get_data(as_text=True)
    assert "Audit integrity" in page and 'href="/audit/public-key"' in page and 'href="/audit/checkpoint"' in page
    response = client.post("/audit/integrity/verify", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "The check has started" in response.get_data(as_text=True)
    assert dpo_integrity.run_queued_verifications() == 1  # the worker runs it
    assert "Verified" in client.get("/audit/integrity").get_data(as_text=True)


def test_the_checkpoint_is_public_plain_text(app, setting):
    audit_tree_heads.sign_tree_head()
    db.session().commit()
    response = app.test_client().get("/audit/checkpoint")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True).splitlines()[0] == app.config["HUB"].audit_log_origin


def test_keyset_paging_shows_every_event_once(app, setting):
    for _ in range(60):
        people.get_child(setting["dsl"], setting["child"].id)
    client = _client(app, setting["hub_dpo"])
    total = len(db.session().scalars(select(AuditEvent.seq).where(
        AuditEvent.actor_user_id == setting["dsl"].id)).all())
    first = client.get(f"/audit?user_id={setting['dsl'].id}").get_data(as_text=True)
    assert len(_rows(first)) == 50 and "Older events" in first
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    seqs = lambda html: re.findall(r'<td class="govuk-table__cell">(\d+)</td>', html)  # noqa: E731
    assert len(_rows(second)) == total - 50 and not set(seqs(first)) & set(seqs(second))


def test_a_bad_filter_shows_an_error(app, setting):
    client = _client(app, setting["hub_dpo"])
    response = client.get("/audit?date_from=2&date_from=3&date_from=2026&date_to=1&date_to=3&date_to=2026")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" in html
    assert "The end date must be the same as or after the start date" in html


@pytest.mark.parametrize("query", ["child_id=abc", "user_id=1x", "organisation_id=abc", "date_from=31&date_from=2",
                                   "date_from=31&date_from=2&date_from=2026"])
def test_input_that_is_not_a_filter_shows_an_error_not_the_whole_log(app, setting, query):
    client = _client(app, setting["hub_dpo"])
    response = client.get(f"/audit?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" in html
    assert 'data-testid="audit-events"' not in html
    download = client.get(f"/audit/export.xlsx?{query}")
    assert download.status_code == 200 and "There is a problem" in download.get_data(as_text=True)


def test_a_download_with_dates_the_wrong_way_round_shows_the_error(app, setting):
    client = _client(app, setting["hub_dpo"])
    response = client.get("/audit/export.json?date_from=2&date_from=3&date_from=2026&date_to=1&date_to=3&date_to=2026")
    assert response.mimetype == "text/html"
    assert "The end date must be the same as or after the start date" in response.get_data(as_text=True)


def test_the_filter_form_sent_empty_shows_every_event(app, setting):
    client = _client(app, setting["hub_dpo"])
    page = client.get("/audit").get_data(as_text=True)
    form = page.split('<form method="get"', 1)[1].split("</form>", 1)[0]
    names = re.findall(r'name="([^"]+)"', form)
    assert names.count("date_from") == 3 and {"child", "person"} <= set(names)
    query = "&".join(f"{name}=" for name in names if name != "submit") + "&organisation_id=0"
    html = client.get(f"/audit?{query}").get_data(as_text=True)
    assert "There is a problem" not in html
    assert setting["dsl"].name in html and setting["other_dsl"].name in html


def test_the_xlsx_export_holds_the_filtered_events_with_formulas_made_inert(app, setting):
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
    child_name = rows[0].index("Child")
    assert {r[child_name] for r in rows[1:] if r[rows[0].index("Child id")]} == {"Audit Subject"}
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    evil_cell = next(row[5] for row in sheet.iter_rows(min_row=2) if row[5].value and "HYPERLINK" in row[5].value)
    assert evil_cell.data_type == "s"
    with zipfile.ZipFile(io.BytesIO(response.data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "HYPERLINK" in xml and "<f>" not in xml and "<f " not in xml
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_the_json_export_verifies_offline(app, setting):
    client = _client(app, setting["hub_dpo"])
    response = client.get(f"/audit/export.json?child_id={setting['child'].id}")
    assert response.mimetype == "application/json" and "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["entries"] and verify_export(data) == []


def test_verify_now_runs_in_the_background_with_progress_then_shows_a_verified_log(app, setting):
    client = _client(app, setting["hub_dpo"])
    token = csrf_token(client.get("/audit/integrity").get_data(as_text=True))
    response = client.post("/audit/integrity/verify", data={"csrf_token": token, "kind": "full"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "The check has started" in page and "Full check: waiting for the worker" in page
    assert "name=\"kind\"" not in page  # no second check while one waits
    job = db.session().scalars(select(AuditVerification)).one()
    assert (job.status, job.kind, job.ok) == ("queued", "full", None)
    # Pressing again while it waits queues nothing more.
    client.post("/audit/integrity/verify", data={"csrf_token": token})
    assert db.session().scalar(select(func.count()).select_from(AuditVerification)) == 1
    progress = client.get(f"/audit/integrity/verifications/{job.id}/progress").get_json()
    assert progress["finished"] is False and progress["status"] == "queued"
    assert dpo_integrity.run_queued_verifications() == 1
    progress = client.get(f"/audit/integrity/verifications/{job.id}/progress").get_json()
    assert progress["finished"] is True and "verified" in progress["text"]
    assert "Verified" in client.get("/audit/integrity").get_data(as_text=True)
    # The next press checks only what is new since, from the verified root.
    page = client.get("/audit/integrity").get_data(as_text=True)
    client.post("/audit/integrity/verify", data={"csrf_token": csrf_token(page), "kind": "incremental"})
    dpo_integrity.run_queued_verifications()
    latest = db.session().scalars(select(AuditVerification).order_by(AuditVerification.id.desc())
                                  .execution_options(populate_existing=True)).first()
    assert (latest.kind, latest.ok) == ("incremental", True) and latest.checked < latest.tree_size


def test_a_running_check_shows_how_many_entries_it_has_checked(app, setting, monkeypatch):
    """The progress the worker writes on its own connection is what the page polls meanwhile."""
    record_events(12)
    client = _client(app, setting["hub_dpo"])
    client.post("/audit/integrity/verify", data={"kind": "full", "csrf_token": csrf_token(
        client.get("/audit/integrity").get_data(as_text=True))})
    job = db.session().scalars(select(AuditVerification)).one()
    url = f"/audit/integrity/verifications/{job.id}/progress"
    seen, writer = [], dpo_integrity._progress_writer

    def watched(job_id: int):
        write = writer(job_id)

        def progress(checked: int, total: int) -> None:
            write(checked, total)
            poll = threading.Thread(target=lambda: seen.append(client.get(url).get_json()))  # another request
            poll.start()
            poll.join()
        return progress

    monkeypatch.setattr(dpo_integrity, "_progress_writer", watched)
    monkeypatch.setattr(verification, "BATCH", 5)
    assert dpo_integrity.run_queued_verifications() == 1
    assert seen and seen[0]["status"] == "running" and seen[0]["finished"] is False
    assert re.fullmatch(r"Full check: 5 of \d+ entries checked\.", seen[0]["text"]), seen[0]
    assert [p["checked"] for p in seen] == [5 * (i + 1) for i in range(len(seen))]
    assert client.get(url).get_json()["finished"] is True


def test_an_unknown_check_or_kind_of_check_is_refused_and_nothing_is_queued(app, setting):
    client = _client(app, setting["hub_dpo"])
    assert client.get("/audit/integrity/verifications/999999/progress").status_code == 404
    with pytest.raises(Invalid) as refused:
        dpo_integrity.verify_now(setting["hub_dpo"][0], "partial")
    assert refused.value.errors == {"kind": "Choose a full or an incremental check"}
    assert not db.session().scalars(select(AuditVerification)).all()
    assert not db.session().scalars(select(AuditEvent).where(AuditEvent.action == "verify-request")).all()


def test_failed_sign_ins_raise_a_flag_that_is_closed_with_a_note(app, setting):
    target = setting["dsl"]
    fail_sign_in_five_times(app, target)
    client = _client(app, setting["hub_dpo"])
    page = client.get("/audit/flags").get_data(as_text=True)
    assert "failed-sign-ins" in page
    # The flag links to its events: the user's events, starting from the latest.
    seq = db.session().scalar(select(AuditFlag.last_event_seq).where(AuditFlag.kind == "failed-sign-ins"))
    assert f'href="/audit?user_id={target.id}&amp;before={seq + 1}"' in page
    flag_id = re.search(r'name="flag_id" type="checkbox" value="(\d+)"', page).group(1)
    response = client.post("/audit/flags/close", data={"csrf_token": csrf_token(page), "flag_id": flag_id,
                                                       "note": ""}, follow_redirects=True)
    assert "There is a problem" in response.get_data(as_text=True)
    assert "Write what you found" in response.get_data(as_text=True)
    client.post("/audit/flags/close", data={"csrf_token": csrf_token(page), "flag_id": flag_id,
                                            "note": "User forgot their password; reset."})
    assert "User forgot their password" in client.get("/audit/flags?status=closed").get_data(as_text=True)
    closed = db.session().scalar(select(AuditEvent).where(AuditEvent.object_type == "audit-flag"))
    assert closed.object_id == flag_id and "forgot" not in closed.leaf.decode()


def test_a_look_up_of_a_same_surname_child_is_flagged(app, setting):
    relative = make_child("Kin", "Subject")
    enrol(relative, setting["school"])
    dsl = setting["dsl"]
    admin.update_user(None, dsl.id, admin.UserDetails(email=dsl.email, name="Sam Subject",
                                                      organisation_id=dsl.organisation_id, roles={Role.dsl}))
    people.get_child(db.session().get(type(dsl), dsl.id), relative.id)
    assert dpo_flags.raise_flags() >= 1

    kinds = set(db.session().scalars(select(AuditFlag.kind)))
    assert "same-surname" in kinds


def test_an_organisations_dpo_also_sees_other_agencies_reads_of_their_pupils(app, setting):
    social_care = make_org(OrgKind.childrens_social_care)
    worker, _ = make_user(social_care, Role.social_worker)
    involve(setting["child"], social_care)
    people.get_child(worker, setting["child"].id)
    client = _client(app, setting["school_dpo"])
    html = client.get(f"/audit/children/{setting['child'].id}").get_data(as_text=True)
    assert worker.name in html
    other = client.get(f"/audit/children/{setting['other_child'].id}").get_data(as_text=True)
    assert setting["other_dsl"].name not in other


def _title(html: str) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1).strip()


def test_the_dpo_pages_name_children_and_people_not_internal_ids(app, setting):
    client = _client(app, setting["hub_dpo"])
    child, dsl = setting["child"], setting["dsl"]
    html = client.get(f"/audit/children/{child.id}").get_data(as_text=True)
    assert _title(html) == "Who has seen Audit Subject&#39;s record"
    cells = [re.findall(r'<td class="govuk-table__cell">(.*?)</td>', row, re.S)[6] for row in _rows(html)]
    assert cells and all("Audit Subject" in cell for cell in cells)  # the Child column names the child
    people.find_children(dsl, people.ChildSearch())  # a listing naming the school's children
    rows = _rows(client.get("/audit?action=read").get_data(as_text=True))
    listing = next(row for row in rows if "children listed" in row or "child listed" in row)
    assert "Audit Subject" in listing and not re.search(r">\s*\d+\s*</a>", listing)  # names, never bare ids
    assert "Child id" not in html and "User id" not in html


def test_the_dpo_finds_a_child_and_a_person_by_the_search_everyone_uses(app, setting):
    client = _client(app, setting["hub_dpo"])
    child, dsl = setting["child"], setting["dsl"]
    by_name = client.get("/audit?child=Audi+Subj").get_data(as_text=True)  # the start of each name
    assert by_name.count('<tr class="govuk-table__row">') > 1 and setting["other_dsl"].name not in by_name
    assert f"/audit/export.xlsx?child_id={child.id}" in by_name  # the download carries the child found
    by_sound = client.get("/audit?child=Subjekt").get_data(as_text=True)  # a name as it sounds
    assert setting["other_dsl"].name not in "".join(_rows(by_sound)) and dsl.name in by_sound
    admin.update_user(None, dsl.id, admin.UserDetails(email=dsl.email, name="Priya Ravensworth",
                                                      organisation_id=setting["school"].id, roles={Role.dsl}))
    person = client.get("/audit?person=ravens").get_data(as_text=True)  # part of the name, any case
    assert "Priya Ravensworth" in "".join(_rows(person)) and setting["other_dsl"].name not in "".join(_rows(person))
    by_email = client.get(f"/audit?person={dsl.email.upper()}").get_data(as_text=True)
    assert "Priya Ravensworth" in "".join(_rows(by_email))


def test_a_search_matching_several_offers_a_choice_and_one_matching_none_says_so(app, setting):
    client = _client(app, setting["hub_dpo"])
    several = client.get("/audit?person=Test+User").get_data(as_text=True)
    assert 'data-testid="matching-people"' in several and 'data-testid="audit-events"' not in several
    assert f'href="/audit/users/{setting["dsl"].id}"' in several
    none = client.get("/audit?child=Zebedee").get_data(as_text=True)
    assert "No child you may review matches" in none and 'data-testid="audit-events"' not in none


def test_an_organisations_dpo_finds_only_the_children_and_people_in_their_scope(app, setting):
    client = _client(app, setting["school_dpo"])
    assert "No child you may review matches" in client.get("/audit?child=Other+Pupil").get_data(as_text=True)
    assert "No person you may review matches" in client.get(
        f"/audit?person={setting['other_dsl'].email}").get_data(as_text=True)
    assert _title(client.get(f"/audit/children/{setting['other_child'].id}").get_data(as_text=True)) == \
        "Who has seen this child&#39;s record"  # not one of theirs: no name
    assert "Audit Subject" in client.get("/audit?child=Audit").get_data(as_text=True)


def test_only_a_dpo_is_offered_who_has_seen_this_record_on_a_childs_page(app, setting):
    child = setting["child"]
    link = f'href="/audit/children/{child.id}"'
    assert link in _client(app, setting["hub_dpo"]).get(f"/children/{child.id}").get_data(as_text=True)
    assert link in _client(app, setting["school_dpo"]).get(f"/children/{child.id}").get_data(as_text=True)
    admin = make_user(setting["host"], Role.hub_admin)
    worker = make_user(make_org(OrgKind.childrens_social_care), Role.social_worker)
    for pair in (make_user(setting["school"], Role.dsl), admin):
        page = _client(app, pair).get(f"/children/{child.id}")
        assert page.status_code == 200 and link not in page.get_data(as_text=True)
    assert link not in _client(app, worker).get(f"/children/{child.id}").get_data(as_text=True)
