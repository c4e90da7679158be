"""POST and PATCH /api/v1/episodes: the same rules and notifications as the pages, tenant
scoping, idempotency, and problem details for every kind of bad request."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub import db
from hub.db import utcnow
from hub.models.api import IdempotencyRecord
from hub.models.audit import AuditEvent
from hub.models.missing import EpisodeSource, MissingEpisode, RiskGradeChange
from hub.models.notifications import Notification, OutboxMessage
from hub.models.people import Child
from tests.support.api import bearer, episode_body, get_token


@pytest.fixture
def token(world, client) -> str:
    return get_token(client, world.client)


def _count(model, *where) -> int:
    db.session().expire_all()
    return db.session().scalar(select(func.count()).select_from(model).where(*where))


def _post(client, token, body=None, **headers):
    return client.post("/api/v1/episodes", json=episode_body() if body is None else body,
                       headers={**bearer(token), **headers})


def _patch(client, token, episode_id, body, content_type="application/merge-patch+json", **headers):
    return client.patch(f"/api/v1/episodes/{episode_id}", data=json.dumps(body), content_type=content_type,
                        headers={**bearer(token), **headers})


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.json


def test_post_records_the_episode_and_notifies_the_school_like_the_page(world, client, token):
    response = _post(client, token)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.json
    assert response.headers["Location"] == f"/api/v1/episodes/{body['id']}"
    assert body["child_id"] == world.child.id and body["police_reference"] == "MP/26/API/1"
    assert body["source"] == "api" and body["risk_grade"] == "medium" and body["found_at"] is None
    assert "Api" not in response.get_data(as_text=True)  # the child's name is never echoed
    episode = db.session().get(MissingEpisode, body["id"])
    assert episode.police_org_id == world.police.id and episode.source == EpisodeSource.api
    assert episode.created_by_user_id is None
    notes = db.session().scalars(select(Notification)).all()
    assert sorted(n.user_id for n in notes) == sorted([world.dsl.id, world.deputy.id])
    assert {n.kind.value for n in notes} == {"missing"}
    assert _count(OutboxMessage) == 2
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "create",
                                                         AuditEvent.object_type == "missing-episode"))
    assert event.auth_method == f"api:{world.client.client.client_id}"
    assert event.actor_org_id == world.police.id and event.actor_roles == "police_officer"
    assert event.child_id == world.child.id and event.access_basis == "police-report"


@pytest.mark.parametrize("child", [
    {"nhs_number": "NHS"},
    {"given_name": "Api", "family_name": "Child", "date_of_birth": "2012-03-27"},
])
def test_the_child_is_matched_by_nhs_number_or_name_and_date_of_birth(world, client, token, child):
    if child.get("nhs_number"):
        child = {"nhs_number": world.nhs_number}
    response = _post(client, token, episode_body(child=child))
    assert response.status_code == 201 and response.json["child_id"] == world.child.id


def test_an_unknown_child_is_a_422_and_no_child_is_created(world, client, token):
    children = _count(Child)
    body = _problem(_post(client, token, episode_body(child={"police_id": "NOBODY"})), 422)
    assert "child" in body["errors"] and "No child" in body["errors"]["child"]
    assert _count(Child) == children and _count(MissingEpisode) == 0


def test_a_found_time_on_post_notifies_missing_and_found(world, client, token):
    response = _post(client, token, episode_body(found_at=(utcnow() - timedelta(minutes=5)).isoformat()))
    assert response.status_code == 201
    assert _count(Notification, Notification.kind == "found") == 2


def test_a_repeated_police_reference_is_a_409(world, client, token):
    first = _post(client, token)
    body = _problem(_post(client, token), 409)
    assert f"/api/v1/episodes/{first.json['id']}" in body["detail"]
    assert _count(MissingEpisode) == 1


def test_patch_found_at_notifies_the_school_that_the_child_is_found(world, client, token):
    episode_id = _post(client, token).json["id"]
    found = (utcnow() - timedelta(minutes=10)).isoformat()
    response = _patch(client, token, episode_id, {"found_at": found, "found_where": "At a friend's house"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["found_at"] is not None and response.json["found_where"] == "At a friend's house"
    found_notes = db.session().scalars(select(Notification).where(Notification.kind == "found")).all()
    assert sorted(n.user_id for n in found_notes) == sorted([world.dsl.id, world.deputy.id])
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "update"))
    assert event.auth_method == f"api:{world.client.client.client_id}"
    assert "found_at" in event.detail and "api" in event.detail


def test_patch_a_rise_in_risk_keeps_the_history_and_accepts_application_json(world, client, token):
    episode_id = _post(client, token).json["id"]
    response = _patch(client, token, episode_id, {"risk_grade": "high", "police_requested_meeting": True},
                      content_type="application/json")
    assert response.status_code == 200 and response.json["risk_grade"] == "high"
    assert [c.source for c in db.session().scalars(select(RiskGradeChange).order_by(RiskGradeChange.id))] == [
        EpisodeSource.api, EpisodeSource.api]
    assert _count(Notification, Notification.kind == "risk_raised") == 2


def test_get_reads_back_an_episode_and_is_audited(world, client, token):
    episode_id = _post(client, token).json["id"]
    reader = get_token(client, world.reader)
    response = client.get(f"/api/v1/episodes/{episode_id}", headers=bearer(reader))
    assert response.status_code == 200 and response.json["id"] == episode_id
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "read",
                                                         AuditEvent.object_type == "missing-episode"))
    assert event.auth_method == f"api:{world.reader.client.client_id}"


def test_another_organisations_episode_is_a_404_like_a_missing_one_and_the_refusal_is_audited(world, client, token):
    episode_id = _post(client, token).json["id"]
    other = get_token(client, world.other)
    patched = _problem(_patch(client, other, episode_id, {"risk_grade": "low"}), 404)
    missing = _problem(_patch(client, other, 999999, {"risk_grade": "low"}), 404)
    read = _problem(client.get(f"/api/v1/episodes/{episode_id}", headers=bearer(other)), 404)
    assert patched["detail"] == missing["detail"] == read["detail"]
    assert db.session().get(MissingEpisode, episode_id).risk_grade.value == "medium"
    refusals = db.session().scalars(select(AuditEvent).where(AuditEvent.outcome == "refused",
                                                             AuditEvent.object_type == "missing-episode")).all()
    assert {(e.action, e.object_id) for e in refusals} == {
        ("update", str(episode_id)), ("update", "999999"), ("read", str(episode_id))}
    assert all(e.auth_method == f"api:{world.other.client.client_id}" for e in refusals)
    assert all(e.actor_org_id == world.other_police.id for e in refusals)


def test_a_repeated_idempotency_key_replays_the_first_response_and_changes_nothing(world, client, token):
    body = episode_body()
    first = _post(client, token, body, **{"Idempotency-Key": "key-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    events = _count(AuditEvent)
    again = _post(client, token, body, **{"Idempotency-Key": "key-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert _count(MissingEpisode) == 1
    assert _count(Notification) == 2 and _count(OutboxMessage) == 2
    assert _count(AuditEvent) == events
    assert _count(IdempotencyRecord) == 1


def test_a_repeated_patch_key_replays(world, client, token):
    episode_id = _post(client, token).json["id"]
    found = (utcnow() - timedelta(minutes=10)).isoformat()
    first = _patch(client, token, episode_id, {"found_at": found}, **{"Idempotency-Key": "p-1"})
    again = _patch(client, token, episode_id, {"found_at": found}, **{"Idempotency-Key": "p-1"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert _count(Notification, Notification.kind == "found") == 2


def test_the_same_key_with_a_different_request_is_refused(world, client, token):
    _post(client, token, **{"Idempotency-Key": "key-2"})
    body = _problem(_post(client, token, episode_body(police_reference="MP/26/API/2"), **{"Idempotency-Key": "key-2"}),
                    422)
    assert "different request" in body["detail"]
    assert _count(MissingEpisode) == 1


def test_keys_belong_to_their_client(world, client, token):
    _post(client, token, **{"Idempotency-Key": "shared"})
    other = get_token(client, world.other)
    # The other force's client has its own key space: its request is new (and its child unknown).
    response = _post(client, other, episode_body(child={"police_id": "NOBODY"}), **{"Idempotency-Key": "shared"})
    assert response.status_code == 422 and "child" in response.json["errors"]


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "tab\tkey"])
def test_a_malformed_idempotency_key_is_a_400(world, client, token, key):
    _problem(_post(client, token, **{"Idempotency-Key": key}), 400)
    assert _count(MissingEpisode) == 0


def test_a_failed_request_stores_no_key(world, client, token):
    body = episode_body()
    _problem(_post(client, token, {**body, "risk_grade": "extreme"}, **{"Idempotency-Key": "k"}), 422)
    assert _count(IdempotencyRecord) == 0
    assert _post(client, token, body, **{"Idempotency-Key": "k"}).status_code == 201


def test_concurrent_duplicates_make_one_episode(world, app, token):
    """Two requests with one key at once: the unique constraint lets one through; the other
    replays its response (or, if it lost the race before the first committed, still no second
    episode is made)."""
    results = []
    body = episode_body()

    def send():
        results.append(_post(app.test_client(), token, body, **{"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 4
    assert len({r.json["id"] for r in results}) == 1
    assert sum(1 for r in results if r.headers.get("Idempotent-Replayed")) == 3
    assert _count(MissingEpisode) == 1 and _count(Notification) == 2


def test_malformed_json_is_a_400(world, client, token):
    for raw in (b"{", b"{'a': 1}", b"NaN", b"\xff\xfe", b"[" * 100000):
        response = client.post("/api/v1/episodes", data=raw, content_type="application/json",
                               headers=bearer(token))
        assert _problem(response, 400)["title"] == "Malformed JSON"


def test_a_wrong_content_type_is_a_415(world, client, token):
    response = client.post("/api/v1/episodes", data="police_reference=x", headers=bearer(token),
                           content_type="application/x-www-form-urlencoded")
    _problem(response, 415)
    episode_id = _post(client, token).json["id"]
    _problem(_patch(client, token, episode_id, {"risk_grade": "low"}, content_type="text/plain"), 415)


def test_unknown_fields_and_bad_values_are_422_with_errors_per_field(world, client, token):
    body = _problem(_post(client, token, episode_body(colour="blue", risk_grade="extreme",
                                                      reported_start="yesterday", police_reference="x" * 41,
                                                      missing_from_detail="a" * 5000)), 422)
    assert set(body["errors"]) == {"colour", "risk_grade", "reported_start", "police_reference",
                                   "missing_from_detail"}
    assert body["errors"]["colour"] == "Unknown field"
    body = _problem(_post(client, token, episode_body(child={"police_id": "PID-API-1", "shoe_size": 3})), 422)
    assert "child.shoe_size" in body["errors"]
    body = _problem(_post(client, token, [1, 2]), 422)
    assert body["errors"] == {"": "Must be a JSON object"}
    body = _problem(_post(client, token, {"child": {}}), 422)
    assert {"child", "police_reference", "reported_start"} <= set(body["errors"])


def test_the_service_rules_are_422_with_errors(world, client, token):
    future = (utcnow() + timedelta(days=1)).isoformat()
    body = _problem(_post(client, token, episode_body(reported_start=future)), 422)
    assert "future" in body["errors"]["reported_start"]
    body = _problem(_post(client, token, episode_body(reported_start="2026-01-01T10:00:00")), 422)
    assert "offset" in body["errors"]["reported_start"]
    episode_id = _post(client, token).json["id"]
    early = (utcnow() - timedelta(days=3)).isoformat()
    body = _problem(_patch(client, token, episode_id, {"found_at": early}), 422)
    assert "found_at" in body["errors"]
    body = _problem(_patch(client, token, episode_id, {"found_at": None, "risk_factors": ["not-a-code"],
                                                      "police_requested_meeting": 1}), 422)
    assert set(body["errors"]) == {"found_at", "risk_factors", "police_requested_meeting"}
    _problem(_patch(client, token, episode_id, {}), 422)
    assert db.session().get(MissingEpisode, episode_id).found_at is None


def test_errors_under_the_api_are_problems_never_pages(world, client, token):
    _problem(client.get("/api/v1/no-such-thing", headers=bearer(token)), 404)
    response = client.put("/api/v1/episodes", headers=bearer(token))
    _problem(response, 405)
    assert "POST" in response.headers["Allow"]
    _problem(client.get("/api/v1/episodes/0", headers=bearer(token)), 404)
    _problem(client.get("/api/v1/episodes/99999999999", headers=bearer(token)), 404)


def test_concurrent_posts_of_one_police_reference_make_one_episode_and_conflicts(world, app, token):
    results = []
    body = episode_body()

    def send():
        results.append(_post(app.test_client(), token, body))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
    assert all(r.mimetype == "application/problem+json" for r in results if r.status_code == 409)
    assert _count(MissingEpisode) == 1 and _count(Notification) == 2
