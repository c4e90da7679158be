"""Every MACE URL, walked by a former member, by a colleague in a member agency who was never
named, and by a DSL of a school outside the group: each is a 404 with the refusal audited, and the
chair (a current member) gets the page. The list of URLs comes from the app's own URL map, so a new
MACE page is covered the day it is added."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from hub import db
from hub.models.audit import AuditEvent
from hub.models.mace import MaceGroup
from hub.models.roles import OrgKind, Role
from tests.factories import enrol, make_child, make_org, make_user, sign_in
from tests.mace.samples import mace_samples
from tests.support.mace import name_member

# Pages of one's own across groups: they answer everyone signed in, listing only current groups.
OWN_LISTS = {"mace.index", "mace_actions.my_actions", "mace_actions.my_outcomes", "mace_actions.my_meetings"}


def _refusals(user_id: int) -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.actor_user_id == user_id, AuditEvent.outcome == "refused"))


@pytest.fixture
def walk(app):
    host, school = make_org(OrgKind.mace_host), make_org(OrgKind.school)
    chair, chair_secret = make_user(host, Role.mace_chair)
    child = make_child("Walk", "Child")
    enrol(child, school)
    samples = mace_samples(chair, child)
    group = db.session().get(MaceGroup, samples["group_id"])
    former, former_secret = make_user(host, Role.mace_member)
    name_member(group, former, start=date.today() - timedelta(days=90), end=date.today())
    colleague, colleague_secret = make_user(host, Role.mace_member)  # same agency, never named
    outsider, outsider_secret = make_user(make_org(OrgKind.school), Role.dsl)
    adapter = app.url_map.bind("localhost")
    urls = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("mace") and "GET" in rule.methods and rule.endpoint not in OWN_LISTS:
            urls[rule.endpoint] = adapter.build(rule.endpoint, {k: samples[k] for k in rule.arguments})
    users = {"former": (former, former_secret), "colleague": (colleague, colleague_secret),
             "outsider": (outsider, outsider_secret), "chair": (chair, chair_secret)}
    return urls, users, group


def test_every_mace_page_is_listed_here_and_has_a_sample(walk):
    urls, _users, _group = walk
    assert len(urls) >= 15, sorted(urls)


@pytest.mark.parametrize("who", ["former", "colleague", "outsider"])
def test_every_mace_url_is_a_404_for_anyone_not_a_current_member_and_each_refusal_is_audited(app, walk, who):
    urls, users, _group = walk
    user, secret = users[who]
    client = app.test_client()
    sign_in(client, user, secret)
    for endpoint, url in sorted(urls.items()):
        before = _refusals(user.id)
        response = client.get(url)
        assert response.status_code == 404, f"{who} got {response.status_code} on {url} ({endpoint})"
        assert "Walk Child" not in response.get_data(as_text=True)
        assert _refusals(user.id) > before, f"{url} refused {who} without an audit event"


def test_the_chair_opens_every_mace_url(app, walk):
    urls, users, _group = walk
    client = app.test_client()
    sign_in(client, *users["chair"])
    for endpoint, url in sorted(urls.items()):
        assert client.get(url).status_code == 200, f"{url} ({endpoint})"


@pytest.mark.parametrize("who", ["former", "outsider"])
def test_the_lists_of_ones_own_never_name_a_group_one_is_not_a_current_member_of(app, walk, who):
    _urls, users, group = walk
    client = app.test_client()
    sign_in(client, *users[who])
    for endpoint in sorted(OWN_LISTS):
        with app.test_request_context():
            url = url_for(endpoint)
        page = client.get(url)
        assert page.status_code == 200
        assert group.name not in page.get_data(as_text=True) and "Walk Child" not in page.get_data(as_text=True)
