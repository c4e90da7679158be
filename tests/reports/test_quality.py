"""The data-quality page: each check finds what it should (and not its near misses), counts only
what the viewer's reports count, and links to a record only for someone who may change it."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub import db
from hub.db import unit_of_work, utcnow
from hub.errors import NotFound
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.mace import (
    Attendance,
    MaceAgendaItem,
    MaceAttendance,
    MaceGroup,
    MaceMeeting,
    MaceOutcome,
    MeetingStatus,
)
from hub.models.missing import EpisodeSource, ImportBatch, ImportReviewItem, ImportStatus, ReviewStatus
from hub.models.roles import OrgKind, Role
from hub.reports import quality
from tests.factories import make_child, make_org, make_user, sign_in
from tests.reports.world import add_episode
from tests.support.mace import name_member

NOW = utcnow()


def ago(**delta) -> object:
    return NOW - timedelta(**delta)


@pytest.fixture
def world(app):
    w = type("World", (), {})()
    w.host, w.authority, w.other = (make_org(OrgKind.mace_host), make_org(OrgKind.childrens_social_care),
                                    make_org(OrgKind.childrens_social_care))
    w.police, w.other_police, w.health = make_org(OrgKind.police), make_org(OrgKind.police), make_org(OrgKind.health)
    kids = [make_child(f"Kid{n}", "Quality", date(2011, 1, n + 1), responsible_authority_id=w.authority.id)
            for n in range(9)]
    w.kids = kids
    # Open, and a prevention check five days ago: listed.
    w.stale = add_episode(kids[0], w.police, ago(days=6), prevention_check_at=ago(days=5))
    # Open, checked an hour ago: not yet.
    w.fresh = add_episode(kids[1], w.police, ago(days=2), prevention_check_at=ago(hours=1))
    # Open with nothing to show the child is back: not listed.
    w.unknown = add_episode(kids[2], w.police, ago(days=10))
    # Open, but the same child went missing again four days ago: listed.
    w.superseded = add_episode(kids[3], w.police, ago(days=10))
    add_episode(kids[3], w.police, ago(days=4), ago(days=3))
    # An interview held with no findings shared: listed; one not held: not.
    w.no_findings = add_episode(kids[4], w.police, ago(days=9), ago(days=8), return_interview_at=ago(days=7))
    add_episode(kids[4], w.police, ago(days=30), ago(days=29))
    w.worker, w.worker_secret = make_user(w.authority, Role.social_worker)
    w.officer, w.officer_secret = make_user(w.police, Role.police_officer)
    w.analyst, w.analyst_secret = make_user(w.authority, Role.analyst)
    w.other_worker, _ = make_user(w.other, Role.social_worker)
    w.other_officer, _ = make_user(w.other_police, Role.police_officer)
    w.admin, w.admin_secret = make_user(w.host, Role.hub_admin)
    w.nurse, w.nurse_secret = make_user(w.health, Role.health_practitioner)
    w.dpo, _ = make_user(w.host, Role.dpo)
    _starts(w, kids)
    _review_rows(w)
    _mace(w, kids[0])
    return w


def _starts(w, kids) -> None:
    """Starts changed by hand after the force's record (listed), by hand on an episode the force
    never had (not), and by the download after a hand change (not)."""
    w.hand_changed = add_episode(kids[5], w.police, ago(days=3), source=EpisodeSource.police_download)
    missing.update_episode(w.worker, w.hand_changed.id,
                           missing_details.EpisodeChanges(reported_start=ago(days=3, hours=2)))
    manual = add_episode(kids[6], w.police, ago(days=3))
    missing.update_episode(w.worker, manual.id, missing_details.EpisodeChanges(reported_start=ago(days=3, hours=2)))
    restored = add_episode(kids[7], w.police, ago(days=3), source=EpisodeSource.police_download)
    missing.update_episode(w.worker, restored.id, missing_details.EpisodeChanges(reported_start=ago(days=3, hours=2)))
    missing.update_episode(w.officer, restored.id, missing_details.EpisodeChanges(reported_start=ago(days=3)),
                           source=EpisodeSource.police_download)


def _review_rows(w) -> None:
    with unit_of_work() as s:
        batch = ImportBatch(police_org_id=w.police.id, filename="download.xlsx", sha256="0" * 64,
                            status=ImportStatus.done)
        s.add(batch)
        s.flush()
        w.waiting = ImportReviewItem(batch_id=batch.id, row_number=3, police_org_id=w.police.id,
                                     police_reference="MP/Q/1", row_data="{}")
        s.add(w.waiting)
        s.add(ImportReviewItem(batch_id=batch.id, row_number=4, police_org_id=w.police.id, police_reference="MP/Q/2",
                               row_data="{}", status=ReviewStatus.dismissed))


def _mace(w, child) -> None:
    """A meeting held a month ago: the police confirmed their outcome, health did not."""
    with unit_of_work() as s:
        group = MaceGroup(code="MACE-Q", name="Quality MACE", host_organisation_id=w.host.id)
        s.add(group)
    name_member(group, w.nurse)
    name_member(group, w.officer)
    with unit_of_work() as s:
        w.meeting = MaceMeeting(group_id=group.id, scheduled_for=ago(days=30), status=MeetingStatus.held,
                                held_at=ago(days=30), created_by_user_id=w.officer.id)
        s.add(w.meeting)
        s.flush()
        s.add_all([MaceAttendance(meeting_id=w.meeting.id, user_id=u.id, organisation_id=u.organisation_id,
                                  attendance=Attendance.present) for u in (w.nurse, w.officer)])
        s.add(MaceAgendaItem(meeting_id=w.meeting.id, child_id=child.id, reason="test", added_by_user_id=w.officer.id))
        s.add(MaceOutcome(meeting_id=w.meeting.id, organisation_id=w.police.id, child_id=child.id, outcome="done",
                          system_name="Niche", system_reference="OCC/1", confirmed_at=ago(days=29)))


def checks(user) -> dict[str, quality.Check]:
    return {c.key: c for c in quality.quality_report(user, NOW).checks}


def linked(check: quality.Check) -> list[tuple[str, dict]]:
    return [(i.endpoint, i.args) for i in check.items]


def test_the_missing_team_sees_each_episode_check_with_links_to_its_records(world):
    found = checks(world.worker)
    assert set(found) == {"open-after-return", "start-differs", "interview-without-findings"}
    assert linked(found["open-after-return"]) == [("missing.show", {"episode_id": world.superseded.id}),
                                                  ("missing.show", {"episode_id": world.stale.id})]
    assert linked(found["start-differs"]) == [("missing.show", {"episode_id": world.hand_changed.id})]
    assert linked(found["interview-without-findings"]) == [("missing.show", {"episode_id": world.no_findings.id})]
    assert [c.count for c in found.values()] == [2, 1, 1]


def test_the_police_see_their_forces_episodes_and_their_waiting_download_rows(world):
    found = checks(world.officer)
    assert found["open-after-return"].count == 2 and len(found["open-after-return"].items) == 2
    assert linked(found["waiting-download-rows"]) == [("missing_import.item", {"item_id": world.waiting.id})]
    assert found["waiting-download-rows"].count == 1  # the dismissed row is done with
    # Their force's outcome was confirmed; health's is not theirs to record: counted, not linked.
    assert found["unconfirmed-mace-outcomes"].count == 1 and found["unconfirmed-mace-outcomes"].items == []


def test_another_force_and_another_authority_count_none_of_these(world):
    theirs = checks(world.other_officer)
    assert {k: c.count for k, c in theirs.items()} == {
        "open-after-return": 0, "start-differs": 0, "interview-without-findings": 0, "waiting-download-rows": 0}
    assert all(c.count == 0 for c in checks(world.other_worker).values())


def test_the_analyst_sees_the_whole_areas_counts_and_no_link_to_any_record(world):
    found = checks(world.analyst)
    assert {k: c.count for k, c in found.items()} == {
        "open-after-return": 2, "start-differs": 1, "interview-without-findings": 1, "waiting-download-rows": 1,
        "unconfirmed-mace-outcomes": 1}
    assert all(c.items == [] for c in found.values())


def test_health_is_linked_to_the_meeting_whose_outcome_it_has_not_confirmed(world):
    found = checks(world.nurse)
    assert set(found) == {"unconfirmed-mace-outcomes"}
    assert linked(found["unconfirmed-mace-outcomes"]) == [("mace_actions.meeting_outcomes",
                                                           {"meeting_id": world.meeting.id})]
    assert found["unconfirmed-mace-outcomes"].items[0].text.startswith(world.health.name)


def test_someone_with_no_part_in_any_check_is_refused_and_the_refusal_audited(world):
    with pytest.raises(NotFound):
        quality.quality_report(world.dpo, NOW)
    refusal = db.session().scalar(select(AuditEvent).where(AuditEvent.actor_user_id == world.dpo.id))
    assert (refusal.outcome, refusal.object_type) == ("refused", "data-quality")


def test_each_view_is_one_audit_event_with_counts_and_the_children_linked(world):
    checks(world.worker)
    checks(world.analyst)
    events = list(db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "data-quality")
                                       .order_by(AuditEvent.id)))
    worker, analyst = (json.loads(e.detail) for e in events)
    assert worker["counts"] == {"open-after-return": 2, "start-differs": 1, "interview-without-findings": 1}
    kids = world.kids
    assert worker["children"] == sorted([kids[0].id, kids[3].id, kids[5].id, kids[4].id])
    assert analyst["children"] == []


# --- the page ----------------------------------------------------------------------------------------

def test_the_page_links_for_the_officer_and_only_counts_for_the_analyst(world, app):
    officer = app.test_client()
    sign_in(officer, world.officer, world.officer_secret)
    html = officer.get("/reports/quality").get_data(as_text=True)
    assert f'href="/missing/{world.stale.id}"' in html
    assert f'href="/missing/import/review/{world.waiting.id}"' in html
    assert world.waiting.police_reference in html
    analyst = app.test_client()
    sign_in(analyst, world.analyst, world.analyst_secret)
    response = analyst.get("/reports/quality")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/missing/' not in html and world.waiting.police_reference not in html
    assert "they are counted only" in html and "whole area" in html


def test_the_page_is_a_404_for_someone_with_no_part_in_it(world, app):
    client = app.test_client()
    dpo, secret = make_user(world.host, Role.dpo)
    sign_in(client, dpo, secret)
    assert client.get("/reports/quality").status_code == 404
