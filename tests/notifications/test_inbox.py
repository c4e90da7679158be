"""The school's inbox: only the school's own key adults see a notification, it shows only what the
school needs, opening is recorded, one acknowledgement answers for the school, and the missing
team sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub import db
from hub.errors import Invalid
from hub.missing import reading as episode_reading
from hub.missing import service as missing
from hub.models.audit import AuditEvent
from hub.models.auth import User
from hub.models.notifications import Notification
from hub.notifications.inbox import acknowledge, status_for_episode
from tests.factories import episode_details, post_form, signed_in_client


@pytest.fixture
def episode(world):
    return missing.record_episode(world.officer, world.child.id, episode_details(missing_from_detail="the bus station"))


def test_the_dsl_sees_opens_and_acknowledges_for_the_whole_school(app, world, episode):
    mine = db.session().scalar(select(Notification).where(Notification.user_id == world.dsl.id))
    client = signed_in_client(app, world.dsl.id)
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "Test Child" in inbox and "Reported missing" in inbox and "New" in inbox
    page = client.get(f"/notifications/{mine.id}").get_data(as_text=True)
    assert "MP/26/0001" in page and "27 March 2012" in page and world.police.name in page
    assert "the bus station" not in page  # only what the school needs
    assert db.session().get(Notification, mine.id).opened_at is not None
    response = post_form(client, f"/notifications/{mine.id}", {"school_action": "In school today"})
    assert response.status_code == 302
    copies = db.session().scalars(select(Notification).where(Notification.group_key == mine.group_key)).all()
    assert len(copies) == 2 and all(c.acknowledged_at is not None for c in copies)
    assert 'data-testid="acknowledged"' in client.get(f"/notifications/{mine.id}").get_data(as_text=True)
    with pytest.raises(Invalid):
        acknowledge(db.session().get(User, world.deputy.id), mine.id, "again")
    officer = db.session().get(User, world.officer.id)
    statuses = status_for_episode(officer, episode_reading.get_episode(officer, episode.id))
    assert statuses[0].acknowledged_at is not None and statuses[0].school_action == "In school today"


def test_another_school_gets_404_and_the_refusal_is_audited(app, world, episode):
    notification = db.session().scalar(select(Notification))
    client = signed_in_client(app, world.other_dsl.id)
    assert client.get(f"/notifications/{notification.id}").status_code == 404
    assert "Test Child" not in client.get("/notifications").get_data(as_text=True)
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.outcome == "refused",
                                                            AuditEvent.object_type == "notification")).all()
    assert len(refused) == 1


def test_a_social_worker_cannot_open_a_schools_notification(app, world, episode):
    notification = db.session().scalar(select(Notification))
    client = signed_in_client(app, world.worker.id)
    assert client.get(f"/notifications/{notification.id}").status_code == 404
