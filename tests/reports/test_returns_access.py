"""Who makes the statutory returns, and who is offered them: the authority's children's social
care staff (social workers) only; never everyone else in the authority.

The near-insiders are the authority's own people in other roles: its MACE chair (`chair` of the
picture works for authority A), its data protection officer and its administrator.
"""

from __future__ import annotations

import pytest

from hub.auth.roles import Role
from hub.errors import Forbidden
from hub.permissions import may_export_returns
from hub.reports import returns
from tests.factories import make_user, sign_in

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
