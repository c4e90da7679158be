"""Administration: only administrators, clear errors on bad input, nothing half-saved."""

from __future__ import annotations

import json
from html import unescape

import pytest
from sqlalchemy import func, select

from hub import db
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.auth import organisations as auth_organisations
from hub.auth import service as auth_service
from hub.errors import Forbidden, Invalid, NotFound
from hub.models.audit import AuditEvent
from hub.models.auth import Organisation, SsoProvider, User
from hub.models.people import Enrolment
from hub.models.roles import OrgKind, Role
from tests.factories import (
    PASSWORD,
    csrf_token,
    initial_password_shown,
    make_child,
    make_org,
    make_user,
    post_form,
    sign_in,
)


@pytest.fixture(autouse=True)
def _outbound_hosts(monkeypatch):
    """The issuers these tests save are hosts the operator has listed (hub/outbound.py); the
    loopback of the testing default is not. Autouse: set before the app reads its settings."""
    monkeypatch.setenv("HUB_OUTBOUND_HOSTS", "login.police.example.test:443, idp.example.test, idp.police.example.test")


@pytest.fixture
def admin_client(app):
    host = make_org(OrgKind.mace_host)
    user, secret = make_user(host, Role.hub_admin)
    client = app.test_client()
    sign_in(client, user, secret)
    return client, user


@pytest.mark.parametrize("role", [Role.dsl, Role.dpo, Role.social_worker])
def test_a_non_administrator_cannot_reach_the_admin_pages(app, role):
    org = make_org(OrgKind.childrens_social_care if role == Role.social_worker else OrgKind.school)
    user, secret = make_user(org, role)
    client = app.test_client()
    sign_in(client, user, secret)
    assert client.get("/admin").status_code == 403
    assert client.get("/admin/users").status_code == 403
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.outcome == "refused",
                                                            AuditEvent.actor_user_id == user.id)).all()
    assert {e.object_id for e in refused} == {"admin.index", "admin.users"}


def test_a_non_administrator_is_refused_by_the_service_too_and_it_is_audited(app):
    school = make_org(OrgKind.school)
    user, _ = make_user(school, Role.dsl)
    with pytest.raises(Forbidden):
        admin.create_organisation(user, admin.OrganisationDetails("X1", "X", OrgKind.school, "123456"))


def test_an_administrator_creates_a_user_and_the_audit_records_it(admin_client):
    client, actor = admin_client
    school = make_org(OrgKind.school)
    response = post_form(client, "/admin/users/new", {
        "name": "New Person", "email": "New.Person@School.example.test", "organisation_id": school.id,
        "roles": ["dsl"]})
    assert response.status_code == 200 and "Account created for New Person" in response.get_data(as_text=True)
    user = db.session().scalar(select(User).where(User.email == "new.person@school.example.test"))
    assert user.roles == {Role.dsl}
    created = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "create",
                                                           AuditEvent.object_type == "user",
                                                           AuditEvent.object_id == str(user.id)))
    assert created.actor_user_id == actor.id


def test_an_account_for_single_sign_on_only_has_no_password(admin_client):
    client, _ = admin_client
    school = make_org(OrgKind.school)
    response = post_form(client, "/admin/users/new", {
        "name": "Provider Person", "email": "provider@school.example.test", "organisation_id": school.id,
        "roles": ["dsl"], "sso_only": "y"})
    assert response.status_code == 302
    user = db.session().scalar(select(User).where(User.email == "provider@school.example.test"))
    assert (user.password_hash, user.initial_password_expires_at) == (None, None)


@pytest.mark.parametrize("data, message", [
    ({"email": "not-an-email"}, "Enter an e-mail address in the correct format"),
    ({"roles": ["police_officer"]}, "cannot be given to someone in a school organisation"),
    ({"roles": []}, "Choose at least one role"),
])
def test_bad_user_details_show_a_clear_error_and_store_nothing(admin_client, data, message):
    client, _ = admin_client
    school = make_org(OrgKind.school)
    before = db.session().scalar(select(func.count()).select_from(User))
    form = {"name": "Someone", "email": "someone@example.test", "organisation_id": school.id, "roles": ["dsl"],
            **data}
    response = post_form(client, "/admin/users/new", form)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in body and message in body
    assert db.session().scalar(select(func.count()).select_from(User)) == before


@pytest.mark.parametrize("kind, identifier, message", [
    ("school", "12345", "school URN of 6 digits"),
    ("police", "ABC", "police force code of 2 digits"),
    ("health", "R1", "NHS ODS code"),
])
def test_an_organisation_identifier_is_validated_for_its_kind(admin_client, kind, identifier, message):
    client, _ = admin_client
    before = db.session().scalar(select(func.count()).select_from(Organisation))
    response = post_form(client, "/admin/organisations/new", {
        "name": "Somewhere", "code": "SOMEWHERE", "kind": kind, "identifier": identifier, "local_authority_id": 0})
    assert message in response.get_data(as_text=True)
    assert db.session().scalar(select(func.count()).select_from(Organisation)) == before


def test_an_administrator_sets_sso_and_the_secret_never_reaches_the_log(admin_client):
    client, _ = admin_client
    org = make_org(OrgKind.police)
    response = post_form(client, f"/admin/organisations/{org.id}/sso", {
        "issuer": "https://login.police.example.test", "client_id": "hub", "client_secret": "s3cret-value"})
    assert response.status_code == 302
    assert auth_organisations.sso_provider_for(org.id).client_secret == "s3cret-value"
    audit_integrator.integrate_all()  # the leaves are written by the integrator
    leaves = b" ".join(e.leaf for e in db.session().scalars(select(AuditEvent)))
    assert b"s3cret-value" not in leaves


@pytest.mark.parametrize("issuer", ["https://login.county.example.test", "https://169.254.169.254",
                                    "https://login.police.example.test:8443", "http://127.0.0.1:5101"])
def test_an_issuer_on_a_host_the_operator_has_not_listed_is_refused_and_nothing_is_stored(admin_client, issuer):
    client, _ = admin_client
    org = make_org(OrgKind.police)
    response = post_form(client, f"/admin/organisations/{org.id}/sso", {
        "issuer": issuer, "client_id": "hub", "client_secret": "s3cret-value"})
    assert response.status_code == 200
    assert "ask the hub&#39;s operator to add it to HUB_OUTBOUND_HOSTS" in response.get_data(as_text=True)
    assert auth_organisations.sso_provider_for(org.id) is None
    assert db.session().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "sso-provider", AuditEvent.action == "update")) == 0


def test_the_sso_command_sets_an_organisations_provider(runner, app):
    org = make_org(OrgKind.police, code="POLX")
    result = runner.invoke(args=["sso", "set", "POLX", "--issuer", "https://idp.example.test",
                                 "--client-id", "hub", "--client-secret", "x"])
    assert result.exit_code == 0, result.output
    assert auth_organisations.sso_provider_for(org.id).issuer == "https://idp.example.test"
    bad = runner.invoke(args=["sso", "set", "NOPE", "--issuer", "https://x", "--client-id", "a",
                              "--client-secret", "b"])
    assert bad.exit_code != 0 and "No organisation" in bad.output
    unlisted = runner.invoke(args=["sso", "set", "POLX", "--issuer", "https://intranet.example.test",
                                   "--client-id", "hub", "--client-secret", "x"])
    assert unlisted.exit_code != 0 and "HUB_OUTBOUND_HOSTS" in unlisted.output
    assert auth_organisations.sso_provider_for(org.id).issuer == "https://idp.example.test"


def test_an_administrator_manages_a_childs_enrolment(admin_client):
    client, _ = admin_client
    child = make_child()
    first, second = make_org(OrgKind.school), make_org(OrgKind.school)
    url = f"/admin/children/{child.id}/enrolments"
    post_form(client, url, {"school_id": first.id, "start_date": ["1", "9", "2024"]})
    post_form(client, url, {"school_id": second.id, "start_date": ["1", "1", "2025"]})
    rows = db.session().scalars(select(Enrolment).where(Enrolment.child_id == child.id).order_by(Enrolment.id)).all()
    assert [(r.school_id, r.end_date is None) for r in rows] == [(first.id, False), (second.id, True)]
    response = post_form(client, url, {"school_id": second.id, "start_date": ["1", "1", "2999"]})
    assert "Start date must be today or in the past" in response.get_data(as_text=True)


def test_an_administrator_cannot_deactivate_themselves(app):
    host = make_org(OrgKind.mace_host)
    user, _ = make_user(host, Role.hub_admin)
    with pytest.raises(Invalid):
        admin.set_user_active(user, user.id, False)


@pytest.mark.parametrize("start, end", [("18:00", "08:00"), ("8am", "18:00"), ("08:00", "24:30")])
def test_working_hours_that_are_not_times_or_end_before_they_start_are_refused(admin_client, start, end):
    client, _ = admin_client
    org = make_org(OrgKind.police)
    response = post_form(client, f"/admin/organisations/{org.id}", {
        "name": org.name, "code": org.code, "kind": "police", "identifier": org.identifier, "local_authority_id": 0,
        "working_hours_start": start, "working_hours_end": end})
    assert "Enter working hours as HH:MM" in response.get_data(as_text=True)
    assert db.session().get(Organisation, org.id).working_hours_start == "08:00"


def test_an_administrator_resets_a_forgotten_password_and_the_person_is_signed_out(admin_client, app):
    """The hub issues the new password (shown once); the old one stops working and every session ends."""
    client, actor = admin_client
    school = make_org(OrgKind.school)
    person, secret = make_user(school, Role.dsl, email="forgot@school.example.test")
    theirs = app.test_client()
    sign_in(theirs, person, secret)
    assert theirs.get("/").status_code == 200
    response = post_form(client, f"/admin/users/{person.id}/reset-password", {}, form_page=f"/admin/users/{person.id}")
    assert response.status_code == 200
    issued = initial_password_shown(response)
    assert auth_service.check_password("forgot@school.example.test", issued, None).status == "ok"
    assert auth_service.check_password("forgot@school.example.test", PASSWORD, None).status == "wrong"
    assert theirs.get("/").status_code == 302  # signed out everywhere
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "user",
                                                           AuditEvent.object_id == str(person.id))).all()
    assert any('"initial-password-issued"' in (e.detail or "") and '"password-reset"' in e.detail
               and e.actor_user_id == actor.id for e in events)
    assert not any(issued in (e.detail or "") for e in events)


def test_editing_a_user_without_a_password_keeps_theirs(admin_client):
    client, _actor = admin_client
    school = make_org(OrgKind.school)
    person, _ = make_user(school, Role.dsl, email="keeps@school.example.test")
    before = db.session().get(User, person.id).password_hash
    post_form(client, f"/admin/users/{person.id}", {
        "name": "Renamed", "email": person.email, "organisation_id": school.id, "roles": ["dsl"]})
    db.session().expire_all()
    assert db.session().get(User, person.id).password_hash == before


def _audit_count() -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent))


def _last_event(object_type: str) -> AuditEvent:
    return db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == object_type)
                                .order_by(AuditEvent.id.desc())).first()


@pytest.mark.parametrize("field, value, message", [
    ("code", "x", "Enter a code of 2 to 20 capital letters, digits or -"),
    ("name", "   ", "Enter the organisation's name"),
    ("school_day_start", "9am", "Enter the school day start as HH:MM, like 08:30"),
    ("code", "TAKEN", "Another organisation already has this code"),
    ("identifier", "TAKEN", "Another organisation of this kind already has this identifier"),
], ids=["bad-code", "blank-name", "bad-school-day-start", "code-taken", "identifier-taken"])
def test_bad_organisation_details_show_a_clear_error_and_store_nothing(admin_client, field, value, message):
    client, _ = admin_client
    taken = make_org(OrgKind.school, code="TAKEN-SCHOOL")
    value = {"code": taken.code, "identifier": taken.identifier}[field] if value == "TAKEN" else value
    before = db.session().scalar(select(func.count()).select_from(Organisation))
    form = {"name": "Hillside Primary", "code": "HILLSIDE-PRI", "kind": "school", "identifier": "654321",
            "local_authority_id": 0, field: value}
    response = post_form(client, "/admin/organisations/new", form)
    assert response.status_code == 200 and message in unescape(response.get_data(as_text=True))
    assert db.session().scalar(select(func.count()).select_from(Organisation)) == before


def test_an_administrator_edits_an_organisation_and_the_audit_records_it(admin_client):
    client, actor = admin_client
    org = make_org(OrgKind.police)
    response = post_form(client, f"/admin/organisations/{org.id}", {
        "name": "Renamed Constabulary", "code": org.code, "kind": "police", "identifier": org.identifier,
        "local_authority_id": 0, "working_hours_start": "07:00", "working_hours_end": "19:00"})
    assert response.status_code == 302
    db.session().expire_all()
    saved = db.session().get(Organisation, org.id)
    assert (saved.name, saved.working_hours_start, saved.working_hours_end) == ("Renamed Constabulary", "07:00",
                                                                                 "19:00")
    event = _last_event("organisation")
    assert (event.action, event.object_id, event.actor_user_id) == ("update", str(org.id), actor.id)


def test_a_blank_name_or_an_e_mail_another_account_uses_is_refused_and_nothing_is_stored(admin_client):
    client, actor = admin_client
    school = make_org(OrgKind.school)
    before = db.session().scalar(select(func.count()).select_from(User))
    for data, message in (({"name": "   "}, "Enter the person's name"),
                          ({"email": actor.email.upper()}, "Another account already uses this e-mail address")):
        response = post_form(client, "/admin/users/new", {
            "name": "Someone", "email": "someone@example.test", "organisation_id": school.id, "roles": ["dsl"],
            **data})
        assert response.status_code == 200 and message in unescape(response.get_data(as_text=True))
    assert db.session().scalar(select(func.count()).select_from(User)) == before


def test_a_user_in_an_organisation_that_does_not_exist_is_refused_by_the_service(app):
    before = db.session().scalar(select(func.count()).select_from(User))
    with pytest.raises(Invalid) as refused:
        admin.create_user(None, admin.UserDetails(email="nobody@example.test", name="Nobody", organisation_id=999999,
                                                  roles={Role.dsl}))
    assert refused.value.errors == {"organisation_id": "Choose the person's organisation"}
    assert db.session().scalar(select(func.count()).select_from(User)) == before


@pytest.mark.parametrize("url", ["/admin/users/999999", "/admin/users/999999/deactivate",
                                 "/admin/users/999999/reset-two-factor"])
def test_an_account_that_does_not_exist_is_a_404_page_and_nothing_is_written(admin_client, url):
    client, actor = admin_client
    token = csrf_token(client.get(f"/admin/users/{actor.id}").get_data(as_text=True))
    before = _audit_count()
    response = client.post(url, data={"csrf_token": token}) if url.count("/") == 4 else client.get(url)
    assert response.status_code == 404
    assert _audit_count() == before


@pytest.mark.parametrize("change", [
    lambda actor: admin.update_user(actor, 999999, admin.UserDetails("x@example.test", "X", actor.organisation_id,
                                                                     {Role.hub_admin})),
    lambda actor: admin.update_organisation(actor, 999999, admin.OrganisationDetails("NOPE", "Nope", OrgKind.police,
                                                                                     "99")),
    lambda actor: admin.set_sso(actor, 999999, "https://idp.example.test", "hub", "secret"),
], ids=["user", "organisation", "sso"])
def test_the_services_answer_not_found_for_what_does_not_exist_and_write_nothing(app, change):
    host = make_org(OrgKind.mace_host)
    actor, _ = make_user(host, Role.hub_admin)
    before = _audit_count()
    with pytest.raises(NotFound):
        change(actor)
    assert _audit_count() == before
    assert db.session().scalar(select(func.count()).select_from(SsoProvider)) == 0


def test_a_deactivated_account_made_active_again_can_sign_in(admin_client, app):
    client, actor = admin_client
    school = make_org(OrgKind.school)
    person, secret = make_user(school, Role.dsl)
    for change in ("deactivate", "activate"):
        response = post_form(client, f"/admin/users/{person.id}/{change}", {}, form_page=f"/admin/users/{person.id}")
        assert response.status_code == 302
    sign_in(app.test_client(), db.session().get(User, person.id), secret)  # asserts the sign-in got through
    event = _last_event("user")
    assert (event.action, json.loads(event.detail)) == ("update", {"change": "activated"})


def test_the_list_of_users_narrowed_to_an_organisation_shows_its_staff_only_and_is_one_audited_read(admin_client):
    client, actor = admin_client
    school, other = make_org(OrgKind.school), make_org(OrgKind.school)
    ours, _ = make_user(school, Role.dsl)
    theirs, _ = make_user(other, Role.dsl)
    page = client.get(f"/admin/users?organisation={school.id}").get_data(as_text=True)
    assert ours.email in page and theirs.email not in page and actor.email not in page
    event = _last_event("user-list")
    assert (event.action, event.actor_user_id, event.access_basis) == ("read", actor.id, "role:hub-admin")
    assert json.loads(event.detail) == {"organisation": school.id, "shown": 1}


@pytest.mark.parametrize("data, message", [
    ({"issuer": "ftp://login.police.example.test"}, "Enter the provider's issuer URL, starting https://"),
    ({"client_id": "   "}, "Enter the client ID the provider gave the hub"),
    ({"client_secret": ""}, "Enter the client secret the provider gave the hub"),
])
def test_bad_sso_settings_show_a_clear_error_and_store_nothing(admin_client, data, message):
    client, _ = admin_client
    org = make_org(OrgKind.police)
    response = post_form(client, f"/admin/organisations/{org.id}/sso", {
        "issuer": "https://login.police.example.test", "client_id": "hub", "client_secret": "s3cret-value", **data})
    assert response.status_code == 200 and message in unescape(response.get_data(as_text=True))
    assert auth_organisations.sso_provider_for(org.id) is None


def test_saving_sso_settings_again_with_an_empty_secret_keeps_the_stored_one(admin_client):
    client, _ = admin_client
    org = make_org(OrgKind.police)
    url = f"/admin/organisations/{org.id}/sso"
    post_form(client, url, {"issuer": "https://login.police.example.test", "client_id": "hub",
                            "client_secret": "s3cret-value"})
    response = post_form(client, url, {"issuer": "https://idp.police.example.test/", "client_id": "hub-2",
                                       "client_secret": ""})
    assert response.status_code == 302
    db.session().expire_all()
    provider = auth_organisations.sso_provider_for(org.id)
    assert (provider.issuer, provider.client_id, provider.client_secret) == (
        "https://idp.police.example.test", "hub-2", "s3cret-value")
    assert db.session().scalar(select(func.count()).select_from(SsoProvider)) == 1
