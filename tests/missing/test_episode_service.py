"""Recording and updating missing episodes: permissions, validation, risk history, and the
notifications each change produces (in the same transaction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.db import utcnow
from hub.errors import Invalid, NotFound
from hub.missing import dashboard as missing_dashboard
from hub.missing import details as missing_details
from hub.missing import reading as episode_reading
from hub.missing import service
from hub.models.audit import AuditEvent
from hub.models.missing import EpisodeSource, MissingEpisode, RiskGrade, RiskGradeChange
from hub.models.notifications import Notification, OutboxMessage, RecipientReason
from hub.models.roles import OrgKind, Role
from tests.factories import episode_details, involve, make_child, make_org, make_user


def notifications(kind=None):
    query = select(Notification).order_by(Notification.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session().scalars(query))


def test_a_new_episode_notifies_each_key_adult_of_the_school_once(world):
    episode = service.record_episode(world.officer, world.child.id, episode_details())
    made = notifications()
    assert sorted(n.user_id for n in made) == sorted([world.dsl.id, world.deputy.id])
    assert {n.organisation_id for n in made} == {world.school.id}
    assert {n.reason for n in made} == {RecipientReason.key_adult}
    assert len({n.group_key for n in made}) == 1
    assert all(n.deadline_at > utcnow() for n in made)
    outbox = list(db.session().scalars(select(OutboxMessage)))
    assert sorted(m.to_address for m in outbox) == sorted([world.dsl.email, world.deputy.email])
    for message in outbox:
        assert "Test" not in message.body and "Child" not in message.body and "MP/26" not in message.body
        assert f"/notifications/{message.notification_id}" in message.body
    assert episode.police_org_id == world.police.id
    assert [c.grade for c in episode.risk_history] == [RiskGrade.medium]


def test_found_and_a_rise_in_risk_notify_again_but_other_changes_do_not(world):
    episode = service.record_episode(world.officer, world.child.id, episode_details(risk_grade=RiskGrade.low))
    service.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(risk_grade=RiskGrade.high))
    assert len(notifications("risk_raised")) == 2
    service.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(risk_grade=RiskGrade.medium))
    service.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(missing_from_detail="park"))
    assert len(notifications("risk_raised")) == 2
    service.update_episode(world.officer, episode.id, missing_details.EpisodeChanges(found_at=utcnow()))
    assert len(notifications("found")) == 2
    grades = db.session().scalars(select(RiskGradeChange.grade).where(RiskGradeChange.episode_id == episode.id)
                                  .order_by(RiskGradeChange.id)).all()
    assert grades == [RiskGrade.low, RiskGrade.high, RiskGrade.medium]


def test_an_episode_recorded_after_the_child_was_found_tells_the_school_once_as_found(world):
    service.record_episode(world.officer, world.child.id, episode_details(found_at=utcnow() - timedelta(hours=1),
                                                                  found_where="At a friend's house"))
    made = notifications()
    assert {n.kind.value for n in made} == {"found"}
    assert sorted(n.user_id for n in made) == sorted([world.dsl.id, world.deputy.id])
    assert len({n.group_key for n in made}) == 1  # one acknowledgement answers for the school


def test_no_key_adult_routes_to_the_authority_education_contact(world):
    with db.unit_of_work():
        for user in (world.dsl, world.deputy):
            db.session().merge(user).active = False
    service.record_episode(world.officer, world.child.id, episode_details())
    made = notifications()
    assert [n.user_id for n in made] == [world.la_contact.id]
    assert made[0].reason == RecipientReason.la_contact


def test_a_child_with_no_school_routes_by_the_responsible_authority(world, app):
    edu = make_org(OrgKind.la_education)
    csc = make_org(OrgKind.childrens_social_care)
    with db.unit_of_work():
        db.session().get(type(csc), csc.id).identifier = edu.identifier
    contact, _ = make_user(edu, Role.dsl)
    child = make_child(responsible_authority_id=csc.id)
    involve(child, world.police)
    service.record_episode(world.officer, child.id, episode_details(police_reference="MP/2"))
    assert [n.user_id for n in notifications()] == [contact.id]


def test_refused_without_a_relationship_or_the_role_and_audited(world):
    stranger = make_child()
    with pytest.raises(NotFound):
        service.record_episode(world.officer, stranger.id, episode_details())
    with pytest.raises(NotFound):
        service.record_episode(world.dsl, world.child.id, episode_details())
    assert db.session().scalar(select(func.count()).select_from(MissingEpisode)) == 0
    refused = db.session().scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.outcome == "refused"))
    assert refused == 2


@pytest.mark.parametrize("bad, field", [
    (dict(police_reference=" "), "police_reference"),
    (dict(reported_start=utcnow() + timedelta(hours=2)), "reported_start"),
    (dict(found_at=utcnow() - timedelta(hours=5)), "found_at"),
])
def test_bad_input_is_refused_and_nothing_is_stored(world, bad, field):
    with pytest.raises(Invalid) as caught:
        service.record_episode(world.officer, world.child.id, episode_details(**bad))
    assert field in caught.value.errors
    assert db.session().scalar(select(func.count()).select_from(MissingEpisode)) == 0
    assert notifications() == []


def test_a_social_worker_must_name_the_force_and_a_duplicate_reference_is_refused(world):
    with pytest.raises(Invalid) as caught:
        service.record_episode(world.worker, world.child.id, episode_details())
    assert "police_org_id" in caught.value.errors
    service.record_episode(world.worker, world.child.id, episode_details(police_org_id=world.police.id))
    with pytest.raises(Invalid) as caught:
        service.record_episode(world.officer, world.child.id, episode_details())
    assert "police_reference" in caught.value.errors


def test_the_police_record_is_applied_once_and_updated_by_a_later_row(world):
    start = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    row = episode_details(reported_start=start)
    with db.unit_of_work():
        first = service.apply_police_record(world.officer, world.police.id, world.child.id, row,
                                            EpisodeSource.police_download)
    with db.unit_of_work():
        again = service.apply_police_record(world.officer, world.police.id, world.child.id, row,
                                            EpisodeSource.police_download)
    assert (first.outcome, again.outcome) == ("created", "unchanged")
    assert len(notifications()) == 2
    later = episode_details(reported_start=start, found_at=start + timedelta(hours=20), risk_grade=RiskGrade.high)
    with db.unit_of_work():
        update = service.apply_police_record(world.officer, world.police.id, world.child.id, later,
                                             EpisodeSource.police_download)
    assert update.outcome == "updated" and set(update.changed) == {"found_at", "risk_grade"}
    assert len(notifications("found")) == 2 and notifications("risk_raised") == []


def test_the_other_school_and_its_dsl_get_nothing(world):
    service.record_episode(world.officer, world.child.id, episode_details())
    assert world.other_dsl.id not in {n.user_id for n in notifications()}
    with pytest.raises(NotFound):
        episode_reading.get_episode(world.other_dsl, 1)


def test_the_missing_teams_list_is_empty_for_a_school_and_for_a_team_with_no_episodes(team):
    """A school never reads episodes (it hears through its notifications); a team with nothing open
    or lately found sees an empty list, and nothing is audited as read."""
    reads = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "read")
    before = db.session().scalar(reads)
    assert missing_dashboard.dashboard(team.officer) == []
    service.record_episode(team.officer, team.child.id, episode_details())
    assert missing_dashboard.dashboard(team.dsl) == []
    assert db.session().scalar(reads) == before
    [row] = missing_dashboard.dashboard(team.officer)
    assert row.child.id == team.child.id
