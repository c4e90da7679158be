"""NUL and other control characters are refused in one place, before any view: every route of the
URL map answers 400 (a page, or problem+json under /api/), never 500, and the refusal is audited
with the endpoint and never the value. File bodies are binary and still upload. Run it on
PostgreSQL too (HUB_TEST_DATABASE_URL): there a NUL that reached a query was a 500."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from hub import db, request_text
from hub.models.audit import AuditEvent
from hub.models.roles import OrgKind, Role
from tests.factories import csrf_token, make_org, make_user, post_form, sign_in
from tests.support.api import ApiWorld, api_world, bearer, episode_body, get_token
from tests.support.routes import sample_url


@pytest.fixture
def world(app) -> ApiWorld:
    """The API tests' world (a force's system posts episodes)."""
    return api_world()

MARK = "Child A said\x00"
REFUSAL_TITLE = "Your request could not be read"


@pytest.fixture
def admin_client(app, client):
    user, secret = make_user(make_org(OrgKind.childrens_social_care), Role.hub_admin, Role.dpo, Role.social_worker)
    sign_in(client, user, secret)
    return client, user


def _refusals() -> list[AuditEvent]:
    return list(db.session().scalars(select(AuditEvent).where(
        AuditEvent.outcome == "refused", AuditEvent.object_type == "control-characters").order_by(AuditEvent.id)))


def _assert_refused(response, endpoint: str, url: str, actor_id: int | None) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 400, f"{url} answered {response.status_code}: {body[:300]}"
    if url.startswith("/api/"):
        assert response.mimetype == "application/problem+json", url
        assert response.json["status"] == 400
    else:
        assert REFUSAL_TITLE in body, url
    event = _refusals()[-1]
    assert (event.object_id, event.actor_user_id) == (endpoint, actor_id), url
    assert "Child A" not in json.dumps([event.detail, event.purpose, event.user_agent])


def _rules(app, method: str):
    return [rule for rule in app.url_map.iter_rules() if method in rule.methods]


def test_a_nul_in_the_sign_in_e_mail_is_a_400_before_any_account_is_looked_up_and_is_audited(client, app):
    response = post_form(client, "/auth/sign-in", {"email": "someone\x00@example.test", "password": "whatever"})
    _assert_refused(response, "auth.sign_in", "/auth/sign-in", None)


def test_every_get_route_refuses_a_nul_in_a_query_parameter_signed_in(app, admin_client):
    client, user = admin_client
    checked = 0
    for rule in _rules(app, "GET"):
        url = sample_url(app, rule)
        response = client.get(url, query_string={"page": "1\x00", "q": MARK})
        _assert_refused(response, rule.endpoint, url, None if url.startswith("/api/") else user.id)
        checked += 1
    assert checked >= 100


def test_every_route_that_takes_a_form_refuses_a_nul_in_a_field_signed_in(app, admin_client):
    client, user = admin_client
    token = csrf_token(client.get("/auth/account").get_data(as_text=True))
    checked = 0
    for rule in app.url_map.iter_rules():
        url = sample_url(app, rule)
        for method in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            response = client.open(url, method=method, data={"csrf_token": token, "name": MARK, "reason": MARK})
            # The API never takes the session: its refusals name no user.
            _assert_refused(response, rule.endpoint, url, None if url.startswith("/api/") else user.id)
            checked += 1
    assert checked >= 50


@pytest.mark.parametrize("where", ["path", "field name", "user agent", "multipart field", "file name"])
def test_nul_is_refused_in_the_path_field_names_headers_and_multipart_parts(app, admin_client, where):
    client, user = admin_client
    token = csrf_token(client.get("/auth/account").get_data(as_text=True))
    if where == "path":
        response, endpoint = client.get("/auth/sso/POL\x0001/start"), "sso.start"
    elif where == "field name":
        response, endpoint = client.post("/auth/account", data={"csrf_token": token, "no\x00te": "x"}), "auth.account"
    elif where == "user agent":
        response, endpoint = client.get("/", headers={"User-Agent": "Mozilla\x00Child A"}), "core.home"
    elif where == "multipart field":
        response, endpoint = client.post("/auth/account", content_type="multipart/form-data", data={
            "csrf_token": token, "note": MARK, "file": (io.BytesIO(b"\x00\x01binary"), "ok.png")}), "auth.account"
    else:
        response, endpoint = client.post("/auth/account", content_type="multipart/form-data", data={
            "csrf_token": token, "file": (io.BytesIO(b"png"), "Child A\x00.png")}), "auth.account"
    _assert_refused(response, endpoint, "/", user.id)


def test_tab_cr_and_lf_pass_in_a_form_field_and_binary_file_bodies_still_upload(app, admin_client):
    client, _ = admin_client
    response = post_form(app.test_client(), "/auth/sign-in",
                         {"email": "a@example.test", "password": "line one\r\n\tline two"})
    assert "The e-mail address or password is not right" in response.get_data(as_text=True)
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 0)).save(png, format="PNG")  # a real file: full of NUL bytes
    assert b"\x00" in png.getvalue()
    token = csrf_token(client.get("/auth/account").get_data(as_text=True))
    response = client.post("/auth/account", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(png.getvalue()), "photo.png")})
    assert response.status_code == 302 and not _refusals()


def test_a_nul_or_control_character_in_an_api_json_body_is_a_problem_and_audited_with_the_client(
        app, client, world):
    token = get_token(client, world.client)
    for bad, pointer in (({"police_reference": "MP/26/\x00"}, "/police_reference"),
                         ({"police_reference": "MP\x1b[31m"}, "/police_reference"),
                         ({"child": {"police_id": "PID\ud800"}}, "/child/police_id"),
                         ({"extra\x00key": "x"}, "")):
        response = client.post("/api/v1/episodes", json=episode_body(**bad), headers=bearer(token))
        assert response.status_code == 400 and response.mimetype == "application/problem+json", bad
        assert (response.json["title"], response.json["pointer"]) == ("Control characters are not accepted", pointer)
        assert "MP/26" not in response.get_data(as_text=True)
        event = _refusals()[-1]
        assert (event.object_id, event.auth_method) == ("api.create_episode", f"api:{world.client.client.client_id}")
    response = client.post("/api/v1/episodes", json=episode_body(police_reference="MP/26/1\n(second line)"),
                           headers=bearer(token))
    assert response.status_code != 400 or "Control characters" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("text", "multi_line_refused", "single_line_refused"), [
    ("plain words, café", False, False),
    ("line\r\nnext\tcolumn", False, True),
    ("nul\x00", True, True),
    ("escape\x1b", True, True),
    ("delete\x7f", True, True),
    ("c1 control\x85", True, True),
    ("lone surrogate\ud800", True, True),
])
def test_what_counts_as_a_refused_character(text, multi_line_refused, single_line_refused):
    assert bool(request_text.MULTI_LINE_REFUSED.search(text)) is multi_line_refused
    assert bool(request_text.SINGLE_LINE_REFUSED.search(text)) is single_line_refused
    assert request_text.json_refused({"k": [{"k/~": text}]}) == ("/k/0/k~1~0" if multi_line_refused else None)
    assert request_text.json_refused({text: 1}) == ("" if single_line_refused else None)
