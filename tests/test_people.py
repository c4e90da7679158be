"""Children: identifiers validated, personal fields encrypted at rest, found by keyed hashes,
and reachable only through a legitimate relationship (the permission matrix)."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, event, func, select, text

from hub import crypto, db, validators
from hub.admin import service as admin
from hub.audit import integrator as audit_integrator
from hub.crypto import blind_index, name_tokens
from hub.dpo import flags as dpo_flags
from hub.errors import Invalid, NotFound
from hub.models.audit import AuditEvent, AuditFlag
from hub.models.auth import Organisation, User
from hub.models.mace import MaceAgendaChild, MaceGroup, MaceMember, MaceMembership, MemberRole
from hub.models.people import (
    BreakGlassCategory,
    BreakGlassGrant,
    Child,
    ChildIdentifier,
    ChildNameToken,
    Enrolment,
    Gender,
    IdentifierKind,
    LookedAfterPeriod,
)
from hub.models.roles import OrgKind, Role
from hub.people import service as people
from hub.permissions import child_access
from tests.factories import enrol, involve, make_child, make_org, make_user, post_form, sign_in


@pytest.mark.parametrize("number", ["9434765919", "943 476 5919", "943-476-5919"])
def test_a_valid_nhs_number_is_accepted_and_normalised(number):
    assert validators.nhs_number(number) == "9434765919"


@pytest.mark.parametrize("number", ["9434765918", "943476591", "94347659199", "abcdefghij", "", "1000000010"])
def test_an_invalid_nhs_number_is_refused(number):
    with pytest.raises(ValueError):
        validators.nhs_number(number)


def test_a_child_with_a_bad_nhs_number_is_refused_and_nothing_is_stored(app):
    before = db.session().scalar(text("SELECT count(*) FROM child"))
    with pytest.raises(Invalid) as info:
        make_child(identifiers={IdentifierKind.nhs_number: "9434765918"})
    assert "not valid" in info.value.errors["nhs_number"]
    assert db.session().scalar(text("SELECT count(*) FROM child")) == before


def test_a_date_of_birth_in_the_future_is_refused(app):
    with pytest.raises(Invalid) as info:
        make_child(dob=date(2999, 1, 1))
    assert "date_of_birth" in info.value.errors


def test_the_raw_database_never_holds_a_name_dob_or_identifier_in_clear(app):
    make_child("Zephyrine", "Quillfeather", dob=date(2013, 7, 14),
               identifiers={IdentifierKind.nhs_number: "9434765919", IdentifierKind.police_id: "XP-77123"})
    dump = []
    for table in ("child", "child_identifier", "child_name_token", "audit_event"):
        rows = db.session().execute(text(f"SELECT * FROM {table}")).all()
        dump.extend(str(value) for row in rows for value in row)
    blob = " ".join(dump).lower()
    for secret in ("zephyrine", "quillfeather", "2013-07-14", "9434765919", "xp-77123"):
        assert secret not in blob, f"{secret} found in clear"


def test_a_child_is_found_by_identifier_and_by_name_and_date_of_birth(app):
    child = make_child("Zoë", "O'Brien-Smith", dob=date(2011, 2, 3),
                       identifiers={IdentifierKind.nhs_number: "9434765919"})
    make_child("Zoe", "Other", dob=date(2011, 2, 3))
    assert people.child_ids_by_identifier(IdentifierKind.nhs_number, "943 476 5919") == [child.id]
    assert people.child_ids_by_name("zoe", "obrien smith", date(2011, 2, 3)) == [child.id]
    assert people.child_ids_by_name("Zoe", "O'Brien-Smith", date(2011, 2, 4)) == []


def test_a_duplicate_identifier_is_refused(app):
    make_child(identifiers={IdentifierKind.nhs_number: "9434765919"})
    with pytest.raises(Invalid):
        make_child(identifiers={IdentifierKind.nhs_number: "9434765919"})


def test_keys_rotate_and_old_data_stays_readable(app, monkeypatch):
    child = make_child("Rotate", "Me")
    user, totp_secret = make_user(make_org(OrgKind.school), Role.dsl)  # a secret of the hub's, under the field keys
    old_key = app.config["HUB"].field_keys[0]
    new_key = Fernet.generate_key().decode()
    blind_index_key = app.config["HUB"].blind_index_key
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key, old_key], blind_index_key)
    # The child's fields are under the child's data key: rotation re-wraps that key, not the fields.
    assert people.rotate_keys() >= 1
    app.extensions["hub_crypto"] = crypto.Keyring.of([new_key], blind_index_key)  # the old key is gone now
    db.session.remove()  # and so are the unwrapped data keys the session had
    assert db.session().get(Child, child.id).given_name == "Rotate"
    assert db.session().get(User, user.id).totp_secret == totp_secret


# --- the permission matrix ----------------------------------------------------------------------

@pytest.fixture
def locality(app):
    """Two of everything, so each role has a related child and an unrelated one."""
    la = make_org(OrgKind.childrens_social_care)
    other_la = make_org(OrgKind.childrens_social_care)
    edu = make_org(OrgKind.la_education)
    school = make_org(OrgKind.school, local_authority_id=edu.id)
    other_school = make_org(OrgKind.school)
    police = make_org(OrgKind.police)
    health = make_org(OrgKind.health)
    host = make_org(OrgKind.mace_host)
    related = make_child("Related", "Child", responsible_authority_id=la.id)
    unrelated = make_child("Unrelated", "Child", responsible_authority_id=other_la.id)
    enrol(related, school)
    enrol(unrelated, other_school)
    involve(related, police, "missing-person record")
    involve(related, health, "CAMHS referral")
    with db.unit_of_work() as s:
        group = MaceGroup(code="MACE-T", name="Test MACE", host_organisation_id=host.id)
        s.add(group)
        s.flush()
        s.add(MaceMembership(group_id=group.id, organisation_id=police.id))
        s.add(MaceAgendaChild(group_id=group.id, child_id=related.id))
    users = {
        Role.dsl: make_user(school, Role.dsl),
        Role.deputy_dsl: make_user(school, Role.deputy_dsl),
        "la_education_dsl": make_user(edu, Role.dsl),
        Role.social_worker: make_user(la, Role.social_worker),
        Role.police_officer: make_user(police, Role.police_officer),
        Role.health_practitioner: make_user(health, Role.health_practitioner),
        Role.mace_chair: make_user(host, Role.mace_chair),
        Role.mace_member: make_user(police, Role.mace_member),
        Role.dpo: make_user(host, Role.dpo),
        Role.hub_admin: make_user(host, Role.hub_admin),
    }
    # Named membership, not the MACE role, is what reaches the group's children.
    with db.unit_of_work() as s:
        for who, member_role in ((Role.mace_chair, MemberRole.chair), (Role.mace_member, MemberRole.member)):
            user = users[who][0]
            s.add(MaceMember(group_id=group.id, user_id=user.id, organisation_id=user.organisation_id,
                             role=member_role, start_date=date(2024, 1, 1)))
    return {"related": related, "unrelated": unrelated, "users": users}


EXPECTED_BASIS = {
    Role.dsl: "enrolment", Role.deputy_dsl: "enrolment", "la_education_dsl": "la-education",
    Role.social_worker: "responsible-authority", Role.police_officer: "agency-involvement",
    Role.health_practitioner: "agency-involvement", Role.mace_chair: "mace-member",
    Role.mace_member: "mace-member", Role.dpo: "role:dpo", Role.hub_admin: "role:hub-admin",
}
ROLE_GRANTS = {Role.dpo, Role.hub_admin}


@pytest.mark.parametrize("who", list(EXPECTED_BASIS), ids=lambda r: getattr(r, "value", r))
def test_permission_matrix_each_role_reaches_its_related_child_and_not_another(locality, who):
    user, _ = locality["users"][who]
    related, unrelated = locality["related"], locality["unrelated"]
    assert child_access(user, related.id).basis == EXPECTED_BASIS[who]
    unrelated_access = child_access(user, unrelated.id)
    if who in ROLE_GRANTS:
        assert unrelated_access.basis == EXPECTED_BASIS[who]  # a role grant, and audited as such
    else:
        assert not unrelated_access
        with pytest.raises(NotFound):
            people.get_child(user, unrelated.id)
        refused = db.session().scalars(select(AuditEvent).where(
            AuditEvent.outcome == "refused", AuditEvent.child_id == unrelated.id)).all()
        assert [e.actor_user_id for e in refused] == [user.id]


def test_a_pupil_who_left_is_out_of_the_old_schools_reach(locality):
    user, _ = locality["users"][Role.dsl]
    related = locality["related"]
    row = db.session().scalar(select(Enrolment).where(Enrolment.child_id == related.id))
    with db.unit_of_work():
        row.end_date = date.today()
    assert not child_access(user, related.id)


def test_a_deactivated_user_reaches_nothing(locality):
    user, _ = locality["users"][Role.dsl]
    admin.set_user_active(None, user.id, False)
    db.session().refresh(user)
    assert not child_access(user, locality["related"].id)


def test_reading_a_child_writes_an_audit_event_with_its_basis(locality):
    user, _ = locality["users"][Role.dsl]
    people.get_child(user, locality["related"].id, purpose="view record")
    audit_integrator.integrate_all()  # the leaf is written by the integrator
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "read", AuditEvent.child_id ==
                                                          locality["related"].id)).one()
    assert (event.actor_user_id, event.access_basis, event.outcome) == (user.id, "enrolment", "done")
    assert "Related" not in event.leaf.decode()  # no personal content in the log


def test_another_schools_dsl_gets_a_404_page_for_the_child(app, locality):
    client = app.test_client()
    other_school = make_org(OrgKind.school)
    user, secret = make_user(other_school, Role.dsl)
    sign_in(client, user, secret)
    response = client.get(f"/children/{locality['related'].id}")
    assert response.status_code == 404
    assert "Related" not in response.get_data(as_text=True)


def test_the_schools_dsl_sees_the_child_page_and_only_their_pupils_in_the_list(app, locality):
    client = app.test_client()
    user, secret = locality["users"][Role.dsl]
    sign_in(client, user, secret)
    page = client.get(f"/children/{locality['related'].id}").get_data(as_text=True)
    assert "Related Child" in page
    listing = client.get("/children").get_data(as_text=True)
    assert "Related Child" in listing and "Unrelated Child" not in listing
    search = client.get("/children?name=unrelated").get_data(as_text=True)
    assert "Unrelated Child" not in search
    listed = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "child-list")).all()
    # One event per page shown, naming the children listed (none, for a search that found none).
    assert {(tuple(json.loads(e.detail).get("children", [])), e.access_basis) for e in listed} == {
        ((locality["related"].id,), "enrolment"), ((), None)}


def test_a_search_with_an_impossible_date_shows_an_error_not_a_crash(app, locality):
    client = app.test_client()
    user, secret = locality["users"][Role.dsl]
    sign_in(client, user, secret)
    response = client.get("/children?date_of_birth=31&date_of_birth=2&date_of_birth=2012")
    assert response.status_code == 200
    assert "Enter a real date" in response.get_data(as_text=True)


def test_the_children_page_loads_schools_in_one_query_however_many_children(app, locality):
    user, secret = locality["users"][Role.dsl]
    client = app.test_client()
    sign_in(client, user, secret)
    engine = db.session().get_bind()

    def enrolment_queries() -> int:
        statements = []

        def keep(_conn, _cursor, statement, *_rest):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", keep)
        try:
            assert client.get("/children").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        return sum("FROM enrolment" in s and s.lstrip().startswith("SELECT") for s in statements)

    school_id = db.session().scalar(select(Enrolment.school_id).where(Enrolment.child_id == locality["related"].id))
    few = enrolment_queries()
    for i in range(10):
        extra = make_child(f"Extra{i}", "Pupil")
        with db.unit_of_work() as s:
            s.add(Enrolment(child_id=extra.id, school_id=school_id, start_date=date(2024, 9, 1)))
    assert enrolment_queries() == few  # no query per child shown (N+1)


def test_break_glass_gives_an_hour_of_audited_flagged_access_with_a_typed_reason(app, locality):
    client = app.test_client()
    stranger_school = make_org(OrgKind.school)
    user, secret = make_user(stranger_school, Role.dsl)
    sign_in(client, user, secret)
    child_id = locality["related"].id
    refused = client.get(f"/children/{child_id}")
    assert refused.status_code == 404 and "ask for emergency access" in refused.get_data(as_text=True)
    short = post_form(client, f"/children/{child_id}/break-glass", {"reason": "need it"}).get_data(as_text=True)
    assert "at least 10 characters" in short and "Choose what kind of emergency this is" in short
    reason = "Found injured at the station; need health needs now"
    response = post_form(client, f"/children/{child_id}/break-glass",
                         {"category": "injured_or_unwell", "reason": reason})
    assert response.status_code == 302
    assert "Related Child" in client.get(f"/children/{child_id}").get_data(as_text=True)
    events = db.session().scalars(select(AuditEvent).where(AuditEvent.actor_user_id == user.id,
                                                           AuditEvent.child_id == child_id)).all()
    assert {(e.action, e.access_basis) for e in events if e.outcome == "done"} == {
        ("break-glass", "break-glass"), ("read", "break-glass")}
    assert [e.purpose for e in events if e.action == "break-glass"] == ["injured_or_unwell"]
    dpo_flags.raise_flags()
    assert db.session().scalar(select(AuditFlag).where(AuditFlag.kind == "break-glass",
                                                       AuditFlag.actor_user_id == user.id)) is not None
    with db.unit_of_work() as s:  # an hour later
        for grant in s.scalars(select(BreakGlassGrant)):
            grant.expires_at = db.utcnow()
    assert client.get(f"/children/{child_id}").status_code == 404


def test_the_audit_log_keeps_the_break_glass_category_and_no_trace_of_the_typed_reason(app, locality):
    """The reason is about people (issue 19 item 21): the grant keeps it, encrypted; the log's
    leaves, the bytes its Merkle tree commits to for good, hold only the category and the grant."""

    user, _ = make_user(make_org(OrgKind.school), Role.dsl)
    reason = "Mr Kowalski at 14 Mill Lane says she left with Jayden Price, aged 19"
    people.break_glass(user, locality["related"].id, BreakGlassCategory.missing_at_risk, reason)
    audit_integrator.integrate_all()
    event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "break-glass"))
    assert (event.purpose, event.access_basis) == ("missing_at_risk", "break-glass")
    grant = db.session().scalar(select(BreakGlassGrant))
    assert (grant.category, grant.reason) == (BreakGlassCategory.missing_at_risk, reason)
    assert json.loads(event.detail) == {"grant": grant.id}
    leaves = b"".join(e.leaf for e in db.session().scalars(select(AuditEvent)))
    columns = " ".join(str(v) for e in db.session().scalars(select(AuditEvent)) for v in vars(e).values())
    for word in ("Kowalski", "Mill Lane", "Jayden", "Price", "aged 19", reason[:20]):
        assert word.encode() not in leaves and word not in columns, word
    stored = db.session().execute(text("SELECT reason, category FROM break_glass_grant")).one()
    assert stored[0].startswith(("gAAAA", "ck1.")) and "Kowalski" not in stored[0] and stored[1] == "missing_at_risk"


def test_the_dpos_reviewing_break_glass_read_the_typed_reason_on_the_grant_and_nobody_else_does(app, locality):
    school = make_org(OrgKind.school)
    user, user_secret = make_user(school, Role.dsl)
    reason = "Mr Kowalski says she left with Jayden Price"
    people.break_glass(user, locality["related"].id, BreakGlassCategory.missing_at_risk, reason)
    hub_dpo = make_user(make_org(OrgKind.mace_host), Role.dpo)
    school_dpo = make_user(school, Role.dpo)
    url = f"/children/emergency-access/{user.id}"
    for reader in (hub_dpo, school_dpo):
        client = app.test_client()
        sign_in(client, *reader)
        if reader is hub_dpo:
            assert url in client.get("/audit/flags").get_data(as_text=True)
        page = client.get(url).get_data(as_text=True)
        assert reason in page and "The child is missing now and may be at risk" in page
        # The hub's DPO sees whose record it was by name; the school's DPO, whose school does
        # not hold the child, is not told the name (break glass gives the DPO no scope).
        named = f"Who has seen {locality['related'].full_name}&#39;s record"
        assert (named in page) is (reader is hub_dpo) and f"Who has seen child {locality['related'].id}" not in page
    read = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "break-glass-grants",
                                                         AuditEvent.outcome == "done")).all()
    assert [json.loads(e.detail)["children"] for e in read] == [[locality["related"].id]] * 2
    assert not any("Kowalski" in (e.detail or "") for e in read)
    for outsider in (make_user(make_org(OrgKind.school), Role.dpo), (user, user_secret)):
        client = app.test_client()
        sign_in(client, *outsider)
        response = client.get(url)
        assert response.status_code == 404 and "Kowalski" not in response.get_data(as_text=True)
    refused = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "break-glass-grants",
                                                            AuditEvent.outcome == "refused")).all()
    assert len(refused) == 2


def test_break_glass_for_a_child_that_does_not_exist_is_a_404_and_recorded(app, locality):
    user, _ = locality["users"][Role.dsl]
    with pytest.raises(NotFound):
        people.break_glass(user, 999999, BreakGlassCategory.other, "A reason long enough to pass")
    refused = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "break-glass"))
    assert refused.outcome == "refused"


def test_an_organisations_dpo_reaches_only_the_children_their_organisation_holds(locality):
    school = db.session().scalar(select(Enrolment.school_id).where(Enrolment.child_id == locality["related"].id))
    school_dpo, _ = make_user(db.session().get(Organisation, school), Role.dpo)
    assert child_access(school_dpo, locality["related"].id).basis == "role:dpo"
    assert not child_access(school_dpo, locality["unrelated"].id)


# --- search: part of a name, a sound-alike, a date of birth or an identifier in one box -------------

@pytest.fixture
def pupils(app):
    """A school's DSL with two pupils, and a Violet at another school the DSL may not see."""
    school, other_school = make_org(OrgKind.school), make_org(OrgKind.school)
    violet = make_child("Violet", "Ashworth", dob=date(2013, 7, 14),
                        identifiers={IdentifierKind.nhs_number: "9434765919", IdentifierKind.police_id: "XP-77123"})
    zara = make_child("Zara", "Okafor", dob=date(2012, 1, 5))
    hidden = make_child("Violet", "Hidden", dob=date(2013, 7, 14))
    enrol(violet, school)
    enrol(zara, school)
    enrol(hidden, other_school)
    dsl, secret = make_user(school, Role.dsl)
    return {"violet": violet, "zara": zara, "hidden": hidden, "dsl": dsl, "secret": secret}


def _found(pupils, text: str) -> set[int]:
    return {c.id for c in people.find_children(pupils["dsl"], people.ChildSearch(name=text)).children}


@pytest.mark.parametrize("text", ["Vio", "vi", "Ash", "viol ashw"])
def test_the_start_of_a_first_or_last_name_finds_the_child(pupils, text):
    assert _found(pupils, text) == {pupils["violet"].id}


@pytest.mark.parametrize("text", ["Violett", "Vilet", "Fiolet", "Ashwerth", "Violette Ashwurth"])
def test_a_misspelt_name_finds_the_child_by_how_it_sounds(pupils, text):
    assert _found(pupils, text) == {pupils["violet"].id}


@pytest.mark.parametrize("text", ["Vio", "Vilet", "Violet Hidden", "Hid", "14/7/2013"])
def test_a_child_the_user_may_not_see_is_never_found(pupils, text):
    assert pupils["hidden"].id not in _found(pupils, text)


@pytest.mark.parametrize("text", ["14/7/2013", "2013-07-14", "943 476 5919", "9434765919", "xp-77123", "Vio 14/7/2013"])
def test_the_search_box_finds_a_child_by_date_of_birth_nhs_number_or_police_id(pupils, text):
    assert _found(pupils, text) == {pupils["violet"].id}


def test_a_name_that_neither_starts_nor_sounds_like_the_childs_finds_nothing(pupils):
    assert _found(pupils, "Zeb") == set() and _found(pupils, "Violet Okafor") == set()


def test_the_children_page_finds_a_child_by_part_of_a_name_and_refuses_one_letter(app, pupils):
    client = app.test_client()
    sign_in(client, pupils["dsl"], pupils["secret"])
    page = client.get("/children?name=Vio").get_data(as_text=True)
    assert "Violet Ashworth" in page and "Zara Okafor" not in page and "Violet Hidden" not in page
    assert "Enter at least 2 letters of a name" in client.get("/children?name=V").get_data(as_text=True)


def test_a_childs_search_rows_are_keyed_hashes_padded_so_their_number_hides_the_names_length(app):
    short, long = make_child("Al", "Li"), make_child("Maximiliana", "Featherstonehaugh")
    counts = {child.id: db.session().scalar(select(func.count()).select_from(ChildNameToken)
                                            .where(ChildNameToken.child_id == child.id)) for child in (short, long)}
    assert all(n % 16 == 0 for n in counts.values())
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in db.session().scalars(select(ChildNameToken.token_hash)))


def test_keys_reindex_makes_children_indexed_before_this_search_findable(app, pupils, runner):
    with db.unit_of_work() as s:  # as a child was indexed before: whole words only
        s.execute(delete(ChildNameToken))
        for child in (pupils["violet"], pupils["zara"], pupils["hidden"]):
            for token in name_tokens(child.given_name, child.family_name):
                s.add(ChildNameToken(child_id=child.id, token_hash=blind_index("name", token)))
    assert _found(pupils, "Vio") == set() and people.search_index_stale()
    result = runner.invoke(args=["keys", "reindex"])
    assert result.exit_code == 0 and "Reindexed 3 children" in result.output
    assert _found(pupils, "Vio") == {pupils["violet"].id} and not people.search_index_stale()
    assert people.child_ids_by_name("violet", "ashworth", date(2013, 7, 14)) == [pupils["violet"].id]


def test_a_childs_page_says_when_no_nhs_number_is_recorded(app):
    school = make_org(OrgKind.school)
    without, with_one = make_child("No", "Number", identifiers={}), make_child("Has", "Number")
    for child in (without, with_one):
        enrol(child, school)
    client = app.test_client()
    sign_in(client, *make_user(school, Role.dsl))
    page = client.get(f"/children/{without.id}").get_data(as_text=True)
    warning = page.split('data-testid="no-nhs-number"', 1)[1].split("</div>", 1)[0]
    assert "No NHS number is recorded" in warning and "section 16LC" in warning
    assert 'data-testid="no-nhs-number"' not in client.get(f"/children/{with_one.id}").get_data(as_text=True)


# --- each refusal of a child's record (issue 24, "every rule executed") ------------------------------------

@pytest.mark.parametrize("changes, field, message", [
    ({"given_name": " "}, "given_name", "Enter the child's first name"),
    ({"family_name": ""}, "family_name", "Enter the child's last name"),
    ({"date_of_birth": date(date.today().year + 1, 1, 1)}, "date_of_birth",
     "Date of birth must be today or in the past"),
    ({"date_of_birth": date(date.today().year - 27, 1, 1)}, "date_of_birth",
     "Date of birth is too long ago for a child or care leaver"),
], ids=["no-first-name", "no-last-name", "born-next-year", "too-old"])
def test_a_childs_record_needs_names_and_a_date_of_birth_a_child_can_have(app, changes, field, message):
    details = dict(given_name="Ada", family_name="Brook", date_of_birth=date(2014, 2, 3), gender=Gender.female)
    with pytest.raises(Invalid) as info:
        people.create_child(None, people.ChildDetails(**(details | changes)))
    assert info.value.errors[field] == message
    assert db.session().scalar(select(func.count()).select_from(Child)) == 0


def test_break_glass_needs_the_kind_of_emergency_and_a_reason(app):
    user = make_user(make_org(OrgKind.police), Role.police_officer)[0]
    child = make_child("Glass", "Child")
    with pytest.raises(Invalid) as info:
        people.break_glass(user, child.id, None, "short")
    assert set(info.value.errors) == {"category", "reason"}
    assert info.value.errors["category"] == "Choose what kind of emergency this is"
    assert db.session().scalar(select(func.count()).select_from(BreakGlassGrant)) == 0


# --- who may create and change records, and the rules of periods and enrolments -------------------

def _refusals(user) -> list[tuple[str, str]]:
    return [(e.action, e.object_type) for e in db.session().scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == user.id, AuditEvent.outcome == "refused").order_by(AuditEvent.id))]


def test_an_analyst_cannot_break_glass_and_the_refusal_is_recorded_with_no_grant(app, locality):
    analyst, _ = make_user(make_org(OrgKind.childrens_social_care), Role.analyst)
    with pytest.raises(NotFound):
        people.break_glass(analyst, locality["related"].id, BreakGlassCategory.other, "A reason long enough to pass")
    assert _refusals(analyst) == [("break-glass", "child")]
    assert db.session().scalar(select(func.count()).select_from(BreakGlassGrant)) == 0


def test_only_an_administrator_creates_a_child_or_records_a_looked_after_period(app):
    la = make_org(OrgKind.childrens_social_care)
    social_worker, _ = make_user(la, Role.social_worker)
    child = make_child()
    with pytest.raises(NotFound):
        people.create_child(social_worker, people.ChildDetails("New", "Child", date(2014, 5, 1), Gender.male))
    with pytest.raises(NotFound):
        people.record_looked_after_period(social_worker, child.id, date(2025, 1, 6))
    assert _refusals(social_worker) == [("create", "child"), ("update", "child")]
    assert db.session().scalar(select(func.count()).select_from(Child)) == 1
    assert db.session().scalar(select(func.count()).select_from(LookedAfterPeriod)) == 0


def test_an_identifier_left_blank_is_not_recorded(app):
    child = make_child(identifiers={IdentifierKind.nhs_number: "", IdentifierKind.upn: ""})
    assert db.session().scalar(select(func.count()).select_from(ChildIdentifier)
                               .where(ChildIdentifier.child_id == child.id)) == 0


def test_a_looked_after_period_is_opened_closed_and_never_overlaps_another(app):
    host = make_org(OrgKind.mace_host)
    administrator, _ = make_user(host, Role.hub_admin)
    child = make_child()
    with pytest.raises(Invalid) as backwards:
        people.record_looked_after_period(administrator, child.id, date(2025, 3, 1), date(2025, 2, 1))
    assert backwards.value.errors == {"ended_on": "The last day must be on or after the first day"}
    with pytest.raises(NotFound):
        people.record_looked_after_period(administrator, 999999, date(2025, 1, 6))
    people.record_looked_after_period(administrator, child.id, date(2025, 1, 6))
    assert db.session().get(Child, child.id).looked_after
    with pytest.raises(Invalid) as overlapping:  # starts inside the open period
        people.record_looked_after_period(administrator, child.id, date(2025, 4, 1), date(2025, 5, 1))
    assert overlapping.value.errors == {"started_on": "The child is already looked after on some of those days"}
    closed = people.record_looked_after_period(administrator, child.id, date(2025, 1, 6), date(2025, 6, 30))
    db.session().expire_all()
    assert not db.session().get(Child, child.id).looked_after
    assert [(p.started_on, p.ended_on) for p in db.session().scalars(select(LookedAfterPeriod))] == [
        (date(2025, 1, 6), date(2025, 6, 30))]
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "child", AuditEvent.action ==
                                                          "update").order_by(AuditEvent.id.desc())).first()
    assert (event.actor_user_id, json.loads(event.detail)) == (administrator.id, {"looked_after_period": closed.id,
                                                                                   "open": False})


def test_enrolments_follow_the_roll_rules_and_only_an_administrator_changes_them(app):
    host = make_org(OrgKind.mace_host)
    administrator, _ = make_user(host, Role.hub_admin)
    first, second, police = make_org(OrgKind.school), make_org(OrgKind.school), make_org(OrgKind.police)
    dsl, _ = make_user(first, Role.dsl)
    child = make_child()
    with pytest.raises(NotFound):
        people.add_enrolment(dsl, child.id, first.id, date(2024, 9, 1))
    with pytest.raises(NotFound):
        people.add_enrolment(administrator, 999999, first.id, date(2024, 9, 1))
    with pytest.raises(Invalid) as not_a_school:
        people.add_enrolment(administrator, child.id, police.id, date(2024, 9, 1))
    assert not_a_school.value.errors == {"school_id": "Choose a school"}
    old = people.add_enrolment(administrator, child.id, first.id, date(2023, 9, 1))
    with pytest.raises(Invalid) as already:
        people.add_enrolment(administrator, child.id, first.id, date(2024, 1, 8))
    assert already.value.errors == {"school_id": "The child is already on this school's roll"}
    with pytest.raises(Invalid) as before_start:
        people.end_enrolment(administrator, old.id, date(2023, 8, 31))
    assert before_start.value.errors == {"end_date": "End date must be between the start date and today"}
    with pytest.raises(NotFound):
        people.end_enrolment(dsl, old.id, date(2024, 7, 19))
    people.end_enrolment(administrator, old.id, date(2024, 7, 19))
    people.add_enrolment(administrator, child.id, second.id, date(2024, 9, 2))
    people.add_enrolment(administrator, child.id, first.id, date(2025, 1, 6))  # back to the first school
    db.session().expire_all()
    rows = db.session().scalars(select(Enrolment).where(Enrolment.child_id == child.id).order_by(Enrolment.id))
    assert [(r.school_id, r.start_date, r.end_date) for r in rows] == [
        (first.id, date(2023, 9, 1), date(2024, 7, 19)),  # ended before: left as it was
        (second.id, date(2024, 9, 2), date(2025, 1, 6)),
        (first.id, date(2025, 1, 6), None)]
    assert _refusals(dsl) == [("create", "enrolment"), ("update", "enrolment")]
    with pytest.raises(NotFound):
        people.end_enrolment(administrator, 999999, date(2024, 7, 19))


def test_an_administrator_ends_an_enrolment_today_from_the_childs_enrolments_page(app):
    host = make_org(OrgKind.mace_host)
    administrator, secret = make_user(host, Role.hub_admin)
    school = make_org(OrgKind.school)
    child = make_child()
    enrolment = people.add_enrolment(administrator, child.id, school.id, date(2024, 9, 1))
    client = app.test_client()
    sign_in(client, administrator, secret)
    response = post_form(client, f"/admin/children/{child.id}/enrolments/{enrolment.id}/end", {},
                         form_page=f"/admin/children/{child.id}/enrolments")
    assert response.status_code == 302
    db.session().expire_all()
    assert db.session().get(Enrolment, enrolment.id).end_date == date.today()
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.object_type == "enrolment")
                                 .order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.child_id, json.loads(event.detail)) == ("update", child.id,
                                                                        {"ended": date.today().isoformat()})


def test_a_row_without_a_name_matches_no_child_and_one_without_a_date_of_birth_matches_on_the_name(app):
    older = make_child("Oliver", "Quist", dob=date(2011, 2, 3))
    younger = make_child("Oliver", "Quist", dob=date(2013, 4, 5))
    assert people.child_ids_by_name("", " - ", date(2011, 2, 3)) == []
    assert people.child_ids_by_name("oliver", "quist", date(2011, 2, 3)) == [older.id]
    assert sorted(people.child_ids_by_name("oliver", "quist", None)) == [older.id, younger.id]


def test_an_empty_hub_has_no_search_index_to_rebuild(app):
    assert not people.search_index_stale()
    make_child()
    assert not people.search_index_stale()
