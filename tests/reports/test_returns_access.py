"""Who makes the statutory returns, and who is offered them: the authority's children's social
care staff (social workers) only; never everyone else in the authority.

The near-insiders are the authority's own people in other roles: its MACE chair (`chair` of the
picture works for authority A), its data protection officer and its administrator.
"""

from __future__ import annotations

from datetime import date

import pytest

from hub import db
from hub.errors import Forbidden
from hub.models.roles import OrgKind, Role
from hub.people import service as people
from hub.permissions import looked_after_return_child_ids, may_export_returns
from hub.reports import returns
from tests.factories import make_child, make_org, make_user, sign_in

MENU_RETURNS = 'service-navigation__link" href="/reports/returns"'
DASHBOARD_RETURNS = 'data-testid="returns-link"'


def _near_insider(picture, who: str):
    if who == "chair":
        return picture.users["chair"]
    role = {"authority_dpo": Role.dpo, "authority_admin": Role.hub_admin,
            "authority_member": Role.mace_member}[who]
    return make_user(picture.orgs["A"], role)


NEAR_INSIDERS = ["chair", "authority_dpo", "authority_admin", "authority_member"]


@pytest.mark.parametrize("who", NEAR_INSIDERS)
def test_someone_of_the_authority_in_another_role_is_refused_the_returns(picture, who):
    user, _secret = _near_insider(picture, who)
    assert user.organisation_id == picture.orgs["A"].id
    assert not may_export_returns(user)
    with pytest.raises(Forbidden):
        returns.ssd_missing(user)
    with pytest.raises(Forbidden):
        returns.check_may_export(user)


@pytest.mark.parametrize("who", NEAR_INSIDERS)
def test_their_returns_pages_answer_403(picture, client, who):
    user, secret = _near_insider(picture, who)
    sign_in(client, user, secret)
    for url in ("/reports/returns", "/reports/returns/ssd-missing.csv",
                "/reports/returns/ssda903-missing.csv?year=2026"):
        assert client.get(url).status_code == 403, url


def test_the_authoritys_social_worker_may_make_them(picture):
    assert may_export_returns(picture.user("sw_a"))
    assert returns.ssd_missing(picture.user("sw_a")).rows == 0  # the picture's children have no LA id


YEAR_ARGS = "date_from=1&date_from=1&date_from=2026&date_to=31&date_to=12&date_to=2026"


def test_the_menu_and_the_dashboard_link_the_returns_for_the_authoritys_social_worker(picture, client):
    sign_in(client, *picture.users["sw_a"])
    assert MENU_RETURNS in client.get("/").get_data(as_text=True)
    dashboard = client.get(f"/reports?{YEAR_ARGS}").get_data(as_text=True)
    assert DASHBOARD_RETURNS in dashboard and 'href="/reports/returns"' in dashboard
    assert client.get("/reports/returns").status_code == 200


@pytest.mark.parametrize("who", ["analyst", "officer_1", "dsl_1", "chair"])
def test_neither_the_menu_nor_the_dashboard_links_the_returns_for_anyone_else(picture, client, who):
    sign_in(client, *picture.users[who])
    assert MENU_RETURNS not in client.get("/").get_data(as_text=True)
    dashboard = client.get(f"/reports?{YEAR_ARGS}").get_data(as_text=True)
    assert 'href="/reports/returns"' not in dashboard


def test_the_903_covers_each_child_the_authority_looks_after_or_looked_after_and_no_other(app):
    """The placing authority answers for a placed child, the home authority for one it places
    itself (no placing authority recorded); a child who has left care stays in (their episodes
    while in care are the return's); a child never in care is not the 903's."""
    ours, theirs = make_org(OrgKind.childrens_social_care), make_org(OrgKind.childrens_social_care)
    placed_by_us = make_child("Placed", "Here", responsible_authority_id=theirs.id, placing_authority_id=ours.id,
                              looked_after=True)
    at_home = make_child("Kept", "Home", responsible_authority_id=ours.id, looked_after=True)
    left_care = make_child("Left", "Care", responsible_authority_id=ours.id, looked_after=True,
                           looked_after_since=date(2024, 1, 8))
    people.record_looked_after_period(None, left_care.id, date(2024, 1, 8), date(2025, 6, 30))
    never = make_child("Never", "Incare", responsible_authority_id=ours.id)
    placed_elsewhere = make_child("Placed", "Away", responsible_authority_id=ours.id, placing_authority_id=theirs.id,
                                  looked_after=True)
    ours_worker, _ = make_user(ours, Role.social_worker)
    theirs_worker, _ = make_user(theirs, Role.social_worker)

    def covered(user) -> set[int]:
        return set(db.session().scalars(looked_after_return_child_ids(user)))

    assert covered(ours_worker) == {placed_by_us.id, at_home.id, left_care.id}
    assert covered(theirs_worker) == {placed_elsewhere.id}
    assert never.id not in covered(ours_worker) | covered(theirs_worker)
