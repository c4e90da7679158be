"""The DPO's flag queue: one flag per user, rule and London day with its count and children,
names the DPO may see, several flags closed with one note, working hours per organisation."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from hub import db
from hub.admin import service as admin
from hub.audit import service as audit_service
from hub.dpo import flags as dpo_flags
from hub.errors import Invalid, NotFound
from hub.models.audit import AuditEvent, AuditFlag, AuditFlagEvent, AuditFlagScan
from hub.models.auth import Organisation
from hub.models.roles import OrgKind, Role
from hub.people import service as people
from tests.factories import csrf_token, enrol, make_child, make_org, make_user, sign_in

TUESDAY_EVENING = datetime(2026, 1, 13, 21, 0, tzinfo=UTC)  # 21:00 in London (GMT)


@pytest.fixture
def clock(monkeypatch):
    """Sets the time the audit log stamps on new events."""
    def at(moment: datetime) -> None:
        class Frozen(datetime):
            @classmethod
            def now(cls, tz=None):
                return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)

        monkeypatch.setattr(audit_service, "datetime", Frozen)
    return at


@pytest.fixture
def school(app):
    school = make_org(OrgKind.school)
    children = [make_child("Flag", f"Pupil{i}") for i in range(3)]
    for child in children:
        enrol(child, school)
    dsl, _ = make_user(school, Role.dsl)
    return {"org": school, "children": children, "dsl": dsl}


def _client(app, pair):
    client = app.test_client()
    sign_in(client, *pair)
    return client


def _raise(now: datetime = TUESDAY_EVENING) -> int:
    return dpo_flags.raise_flags(now=now + timedelta(hours=2))


def test_fifteen_out_of_hours_reads_by_one_user_in_one_day_give_one_flag_with_count_15_and_the_children(
        app, school, clock):
    for i in range(15):
        clock(TUESDAY_EVENING + timedelta(minutes=i))
        people.get_child(school["dsl"], school["children"][i % 3].id)
    assert _raise() == 15
    assert _raise() == 0  # nothing twice

    flags = db.session().scalars(select(AuditFlag).where(AuditFlag.kind == "out-of-hours")).all()
    assert len(flags) == 1
    flag = flags[0]
    assert flag.event_count == 15 and flag.actor_user_id == school["dsl"].id and str(flag.day) == "2026-01-13"
    behind = db.session().scalars(select(AuditFlagEvent.child_id).where(AuditFlagEvent.flag_id == flag.id)).all()
    assert len(behind) == 15 and set(behind) == {c.id for c in school["children"]}

    page = _client(app, make_user(make_org(OrgKind.mace_host), Role.dpo)).get("/audit/flags").get_data(as_text=True)
    assert "15 events" in page and "21:00 to 21:14" in page
    assert school["dsl"].name in page and school["org"].name in page
    assert all(c.full_name in page for c in school["children"])
    assert "1 open flag:" in page


def test_reads_on_the_next_day_or_after_a_flag_is_closed_start_a_new_flag(app, school, clock):
    dsl, child = school["dsl"], school["children"][0]
    clock(TUESDAY_EVENING)
    people.get_child(dsl, child.id)
    _raise()
    first = db.session().scalar(select(AuditFlag))
    dpo_flags.close_flags(make_user(make_org(OrgKind.mace_host), Role.dpo)[0], [first.id], "Known late visit")
    clock(TUESDAY_EVENING + timedelta(minutes=30))
    people.get_child(dsl, child.id)
    clock(TUESDAY_EVENING + timedelta(days=1))
    people.get_child(dsl, child.id)
    _raise(TUESDAY_EVENING + timedelta(days=1))
    flags = db.session().scalars(select(AuditFlag).order_by(AuditFlag.id)).all()
    assert [(f.status, str(f.day), f.event_count) for f in flags] == [
        ("closed", "2026-01-13", 1), ("open", "2026-01-13", 1), ("open", "2026-01-14", 1)]


def test_closing_three_flags_with_one_note_is_one_audited_event_naming_them(app, school, clock):
    clock(TUESDAY_EVENING)
    for child in school["children"]:
        user, _ = make_user(school["org"], Role.dsl)
        people.get_child(user, child.id)
    people.get_child(school["dsl"], school["children"][0].id)  # a fourth flag, left open
    _raise()
    client = _client(app, make_user(make_org(OrgKind.mace_host), Role.dpo))
    page = client.get("/audit/flags").get_data(as_text=True)
    ids = re.findall(r'name="flag_id" type="checkbox" value="(\d+)"', page)
    assert len(ids) == 4
    chosen = ids[:3]
    response = client.post("/audit/flags/close", data={"csrf_token": csrf_token(page), "flag_id": chosen,
                                                       "note": "Evening safeguarding meeting; all expected."},
                           follow_redirects=True)
    assert "3 flags closed." in response.get_data(as_text=True)
    flags = {str(f.id): f for f in db.session().scalars(select(AuditFlag))}
    assert {i for i, f in flags.items() if f.status == "closed"} == set(chosen)
    assert all(flags[i].note == "Evening safeguarding meeting; all expected." for i in chosen)
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "audit-flag")).all()
    assert len(events) == 1
    assert json.loads(events[0].detail)["flag_ids"] == sorted(int(i) for i in chosen)
    assert b"Evening safeguarding" not in events[0].leaf
    closed_page = client.get("/audit/flags?status=closed").get_data(as_text=True)
    assert closed_page.count("Evening safeguarding meeting") == 3


def test_closing_flags_needs_a_note_and_a_choice(app, school, clock):
    clock(TUESDAY_EVENING)
    people.get_child(school["dsl"], school["children"][0].id)
    _raise()
    client = _client(app, make_user(make_org(OrgKind.mace_host), Role.dpo))
    page = client.get("/audit/flags").get_data(as_text=True)
    flag_id = re.search(r'name="flag_id" type="checkbox" value="(\d+)"', page).group(1)
    no_note = client.post("/audit/flags/close", data={"csrf_token": csrf_token(page), "flag_id": [flag_id],
                                                      "note": ""}, follow_redirects=True).get_data(as_text=True)
    assert "There is a problem" in no_note and "Write what you found" in no_note
    no_choice = client.post("/audit/flags/close", data={"csrf_token": csrf_token(page), "note": "Fine"},
                            follow_redirects=True).get_data(as_text=True)
    assert "Select the flags to close" in no_choice
    assert db.session().scalar(select(AuditFlag.status)) == "open"


def test_an_organisations_hours_change_what_counts_as_out_of_hours(app, school, clock):
    late_school = make_org(OrgKind.school)
    enrol(school["children"][0], late_school)
    late_dsl, _ = make_user(late_school, Role.dsl)
    admin = _client(app, make_user(make_org(OrgKind.mace_host), Role.hub_admin))
    form = admin.get(f"/admin/organisations/{late_school.id}").get_data(as_text=True)
    assert 'name="working_hours_start"' in form and 'value="08:00"' in form
    response = admin.post(f"/admin/organisations/{late_school.id}", data={
        "csrf_token": csrf_token(form), "name": late_school.name, "code": late_school.code, "kind": "school",
        "identifier": late_school.identifier, "local_authority_id": 0,
        "working_hours_start": "07:00", "working_hours_end": "22:00"})
    assert response.status_code == 302
    assert (db.session().get(Organisation, late_school.id).working_hours_end) == "22:00"

    clock(TUESDAY_EVENING)  # 21:00: after the first school's hours, within the second's
    people.get_child(school["dsl"], school["children"][0].id)
    people.get_child(late_dsl, school["children"][0].id)
    clock(TUESDAY_EVENING - timedelta(hours=14, minutes=30))  # 06:30: before both
    people.get_child(late_dsl, school["children"][0].id)
    _raise()
    flagged = db.session().execute(select(AuditFlag.actor_user_id, AuditFlag.event_count, AuditFlag.reason).where(
        AuditFlag.kind == "out-of-hours")).all()
    assert {(u, n) for u, n, _ in flagged} == {(school["dsl"].id, 1), (late_dsl.id, 1)}
    assert any("07:00 to 22:00" in reason for _, _, reason in flagged)


def test_an_organisations_dpo_sees_names_only_of_their_organisations_children(app, school, clock):
    held = school["children"][0]
    elsewhere = make_child("Elsewhere", "Learner")
    enrol(elsewhere, make_org(OrgKind.school))
    school_dpo = make_user(school["org"], Role.dpo)
    clock(TUESDAY_EVENING)
    people.get_child(school["dsl"], held.id)
    with db.unit_of_work():  # as a break-glass read would be recorded
        audit_service.record("read", actor=school["dsl"], object_type="child", object_id=elsewhere.id,
                             child_id=elsewhere.id, basis="break-glass")
    _raise()

    page = _client(app, school_dpo).get("/audit/flags").get_data(as_text=True)
    assert held.full_name in page and school["dsl"].name in page
    assert elsewhere.full_name not in page and "Elsewhere" not in page
    assert f"Child {elsewhere.id}" in page and "not held by your organisation" in page
    hub_page = _client(app, make_user(make_org(OrgKind.mace_host), Role.dpo)).get("/audit/flags").get_data(
        as_text=True)
    assert held.full_name in hub_page and elsewhere.full_name in hub_page
    named = db.session().scalars(select(AuditEvent.detail).where(
        AuditEvent.object_type == "audit-flags", AuditEvent.actor_user_id == school_dpo[0].id)).all()
    assert json.loads(named[-1])["children_named"] == [held.id]


def test_another_organisations_dpo_cannot_close_a_flag_they_do_not_see(app, school, clock):
    clock(TUESDAY_EVENING)
    people.get_child(school["dsl"], school["children"][0].id)
    _raise()
    other_dpo, _ = make_user(make_org(OrgKind.school), Role.dpo)
    with pytest.raises(NotFound):
        dpo_flags.close_flags(other_dpo, [db.session().scalar(select(AuditFlag.id))], "Not mine")
    assert db.session().scalar(select(AuditFlag.status)) == "open"


def _listing(user, children, moment, clock) -> None:
    """One page listing these children, as the children search writes it (one event naming them)."""
    clock(moment)
    with db.unit_of_work():
        audit_service.record("read", actor=user, object_type="child-list", children=[c.id for c in children],
                             detail={"searched": False})


def test_a_school_of_12_pupils_listed_again_and_again_raises_no_volume_flag(app, school, clock):
    """Repeat sights of the same list rows are the same children: 60 rows seen, 12 children."""
    pupils = school["children"] + [make_child("Flag", f"More{i}") for i in range(9)]
    for n in range(5):
        _listing(school["dsl"], pupils, TUESDAY_EVENING.replace(hour=10) + timedelta(minutes=n), clock)
    _raise()
    assert not db.session().scalars(select(AuditFlag).where(AuditFlag.kind == "volume")).all()


def test_more_than_50_different_children_raise_one_volume_flag_naming_no_child_as_its_subject(app, school, clock):
    many = [make_child("Flag", f"Many{i}") for i in range(51)]
    morning = TUESDAY_EVENING.replace(hour=10)
    _listing(school["dsl"], many[:25], morning, clock)
    _listing(school["dsl"], many[:25], morning + timedelta(minutes=1), clock)  # the same 25 again: still 25
    _listing(school["dsl"], many[25:50], morning + timedelta(minutes=2), clock)  # 50: not more than 50
    _raise()
    assert not db.session().scalars(select(AuditFlag).where(AuditFlag.kind == "volume")).all()
    _listing(school["dsl"], many[49:], morning + timedelta(minutes=3), clock)  # one new child: 51
    _raise()
    [flag] = db.session().scalars(select(AuditFlag).where(AuditFlag.kind == "volume")).all()
    assert flag.actor_user_id == school["dsl"].id and "51 different children" in flag.reason
    behind = db.session().scalars(select(AuditFlagEvent.child_id).where(AuditFlagEvent.flag_id == flag.id)).all()
    assert behind == [None]  # about the user's day, not about one of the 51
    page = _client(app, make_user(make_org(OrgKind.mace_host), Role.dpo)).get("/audit/flags").get_data(as_text=True)
    row = page.split(f'data-flag-id="{flag.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Not about one child" in row and not any(c.full_name in row for c in many)


def test_a_lost_scan_mark_looks_at_the_log_again_and_flags_nothing_twice(app, school, clock):
    """The scan mark's row deleted (or a restore without it): the next look starts from the
    beginning of the window, and every event already behind a flag stays behind that one flag."""
    clock(TUESDAY_EVENING)
    for child in school["children"]:
        people.get_child(school["dsl"], child.id)
    assert _raise() == 3
    with db.unit_of_work() as s:
        s.execute(delete(AuditFlagScan))
    assert _raise() == 0
    [flag] = db.session().scalars(select(AuditFlag).where(AuditFlag.kind == "out-of-hours")).all()
    assert flag.event_count == 3
    assert db.session().scalar(select(func.count()).select_from(AuditFlagEvent)) == 3
    assert db.session().scalar(select(AuditFlagScan.scanned_to_seq)) >= flag.last_event_seq  # marked again


def test_a_flag_already_closed_is_not_closed_again_and_nothing_is_recorded(app, school, clock):
    clock(TUESDAY_EVENING)
    people.get_child(school["dsl"], school["children"][0].id)
    _raise()
    flag_id = db.session().scalar(select(AuditFlag.id))
    dpo, _ = make_user(make_org(OrgKind.mace_host), Role.dpo)
    dpo_flags.close_flags(dpo, [flag_id], "Known late visit")
    with pytest.raises(Invalid) as refused:
        dpo_flags.close_flags(dpo, [flag_id], "Closing it twice")
    assert refused.value.errors == {"flag_id": f"Already closed: flag {flag_id}"}
    assert db.session().get(AuditFlag, flag_id, populate_existing=True).note == "Known late visit"
    assert db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "audit-flag")) == 1
    with pytest.raises(Invalid) as blank:  # a note of spaces is no note, whatever the form let through
        dpo_flags.close_flags(dpo, [], "   ")
    assert set(blank.value.errors) == {"flag_id", "note"}


def test_the_queue_pages_older_flags_and_says_when_there_are_none(app, school, clock, monkeypatch):
    client = _client(app, make_user(make_org(OrgKind.mace_host), Role.dpo))
    empty = client.get("/audit/flags").get_data(as_text=True)
    assert "0 open flags:" in empty and 'name="flag_id"' not in empty
    clock(TUESDAY_EVENING)
    for _ in range(3):
        people.get_child(make_user(school["org"], Role.dsl)[0], school["children"][0].id)  # a flag each
    _raise()
    monkeypatch.setattr(dpo_flags, "FLAG_PAGE_SIZE", 2)
    first = client.get("/audit/flags").get_data(as_text=True)
    older = re.search(r'href="(/audit/flags\?[^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    shown = [re.findall(r'name="flag_id" type="checkbox" value="(\d+)"', page) for page in (first, second)]
    ids = sorted(str(i) for i in db.session().scalars(select(AuditFlag.id)))
    assert [len(s) for s in shown] == [2, 1] and sorted(shown[0] + shown[1]) == ids
    assert "3 open flags:" in second and "Older flags" in first and "Older flags" not in second


def test_a_reader_whose_name_has_no_surname_is_not_flagged_for_a_same_surname(app, school, clock):
    reader = school["dsl"]
    admin.update_user(None, reader.id, admin.UserDetails(email=reader.email, name="—",
                                                         organisation_id=reader.organisation_id, roles={Role.dsl}))
    clock(TUESDAY_EVENING.replace(hour=11))  # in working hours: only the surname rule could flag
    people.get_child(db.session().get(type(reader), reader.id), school["children"][0].id)
    assert _raise(TUESDAY_EVENING.replace(hour=11)) == 0
    assert not db.session().scalars(select(AuditFlag)).all()
