"""Demo data: the fictional locality of Northbridge. Every name, number and place is made up.

NHS numbers come from the 999 range the NHS keeps for testing; school URNs, force and authority
codes are unused ones. Running this twice changes nothing: each item is looked up by its code,
e-mail or demo reference first.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from hub import db, retention_demo
from hub.admin import service as admin
from hub.api import service as api
from hub.audit import service as audit
from hub.auth import organisations as auth_organisations
from hub.auth import second_factor as auth_second_factor
from hub.db import unit_of_work, utcnow
from hub.mace import demo as mace_demo
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.auth import Organisation, User
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.people import AgencyInvolvement, Enrolment, Gender, IdentifierKind
from hub.models.roles import OrgKind, Role
from hub.people import service as people

# bandit B105: fictional demo accounts only, printed for people trying the hub; never in production.
DEMO_PASSWORD = "demo-password-not-secret"  # nosec B105
#: The fictional force's case system, to try the API with (printed by demo-data, like the passwords).
DEMO_API_CLIENT = ("demo-nbpol-case-system", "demo-api-secret-not-secret")
DOMAIN = "northbridge.example"

ORGANISATIONS = [
    # code, name, kind, identifier
    ("NBPOL", "Northbridge Police (fictional)", OrgKind.police, "98"),
    ("NBCSC", "Northbridge Council Children's Social Care (fictional)", OrgKind.childrens_social_care, "990"),
    ("NBEDU", "Northbridge Council Education Safeguarding (fictional)", OrgKind.la_education, "990"),
    ("WMCSC", "Westmere Council Children's Social Care (fictional)", OrgKind.childrens_social_care, "991"),
    ("NBNHS", "Northbridge Community Health NHS Trust (fictional)", OrgKind.health, "RZ9"),
    ("NBSP", "Northbridge Safeguarding Partnership (fictional)", OrgKind.mace_host, "NBSP"),
    ("NBYPP", "Northbridge Young People's Project (fictional)", OrgKind.voluntary, "9900001"),
]
SCHOOLS = [
    ("HILLSIDE-PRI", "Hillside Primary School", "990001"),
    ("MEADOW-PRI", "Meadow Lane Primary School", "990002"),
    ("RIVERSIDE-PRI", "Riverside Primary School", "990003"),
    ("OAKFIELD-PRI", "Oakfield Primary School", "990004"),
    ("NORTHBRIDGE-ACAD", "Northbridge Academy", "990005"),
    ("ST-AIDANS", "St Aidan's High School", "990006"),
    ("CASTLE-HIGH", "Castle Hill High School", "990007"),
    ("VALLEY-COLL", "Valley Community College", "990008"),
]
STAFF = [
    # e-mail local part, name, organisation code, roles
    ("admin", "Ada Admin", "NBSP", {Role.hub_admin}),
    ("dpo", "Dev Protection", "NBSP", {Role.dpo}),
    ("social.worker", "Sam Social", "NBCSC", {Role.social_worker}),
    ("missing.team", "Mo Missing-Team", "NBCSC", {Role.social_worker}),
    ("police.coordinator", "Pat Police", "NBPOL", {Role.police_officer}),
    ("school.nurse", "Nia Nurse", "NBNHS", {Role.health_practitioner}),
    ("camhs", "Cam Hughes", "NBNHS", {Role.health_practitioner}),
    ("mace.chair", "Mel Chair", "NBCSC", {Role.mace_chair}),
    ("mace.member", "Max Member", "NBPOL", {Role.mace_member}),
    ("education.safeguarding", "Eve Education", "NBEDU", {Role.dsl}),
    ("westmere.sw", "Wes Westmere", "WMCSC", {Role.social_worker}),
    ("analyst", "Ana Lyst", "NBSP", {Role.analyst}),
    # The agencies' own DPOs: each reviews its own records for retention (hub/retention/).
    ("council.dpo", "Cass Council-DPO", "NBCSC", {Role.dpo}),
    ("police.dpo", "Dee Police-DPO", "NBPOL", {Role.dpo}),
]
GIVEN = ["Aiden", "Bella", "Caleb", "Daisy", "Ethan", "Freya", "Gabriel", "Hana", "Isaac", "Jade", "Kai", "Lena",
         "Milo", "Nadia", "Oscar", "Priya", "Quinn", "Ruby", "Sami", "Tilly", "Umar", "Violet", "Wren", "Yusuf", "Zara"]
FAMILY = ["Ashdown", "Brookfield", "Carraway", "Dunmore", "Ellery", "Fairbairn", "Greystone", "Hollins", "Ingleby",
          "Jessop", "Kettering", "Lowther", "Marchbank", "Northcote", "Oakley", "Pennick", "Quarrie", "Rushworth",
          "Stanier", "Thackray", "Underhill", "Varley", "Westwood", "Yardley"]
CHILDREN = 80


@dataclass
class DemoLogin:
    email: str
    name: str
    roles: str
    organisation: str
    password: str
    totp_secret: str
    otpauth_uri: str


def run() -> list[DemoLogin]:
    orgs = _organisations()
    logins = _staff(orgs)
    children = _children(orgs)
    _mace(orgs, children)
    _episodes(orgs, children)
    retention_demo.load(orgs, children, DOMAIN)
    _api_client()
    return logins


def _api_client() -> None:
    client_id, secret = DEMO_API_CLIENT
    if api.client_by_id(client_id) is None:
        api.create_client("NBPOL", "Northbridge Police case system (fictional)", "episodes:read episodes:write",
                          client_id=client_id, secret=secret)


def _organisations() -> dict[str, Organisation]:
    orgs: dict[str, Organisation] = {}
    for code, name, kind, ident in ORGANISATIONS:
        orgs[code] = auth_organisations.organisation_by_code(code) or admin.create_organisation(
            None, admin.OrganisationDetails(code=code, name=name, kind=kind, identifier=ident))
    for code, name, urn in SCHOOLS:
        orgs[code] = auth_organisations.organisation_by_code(code) or admin.create_organisation(
            None, admin.OrganisationDetails(code=code, name=f"{name} (fictional)", kind=OrgKind.school, identifier=urn,
                                            local_authority_id=orgs["NBEDU"].id, school_day_start="08:30"))
    return orgs


def _staff(orgs: dict[str, Organisation]) -> list[DemoLogin]:
    people_ = list(STAFF)
    for code, name, _urn in SCHOOLS:
        slug = code.lower().split("-")[0]
        people_.append((f"dsl.{slug}", f"{name.split()[0]} DSL", code, {Role.dsl}))
        people_.append((f"deputy.{slug}", f"{name.split()[0]} Deputy", code, {Role.deputy_dsl}))
    logins = []
    for local, name, org_code, roles in people_:
        email = f"{local}@{DOMAIN}"
        user = db.session().scalar(select(User).where(User.email == email))
        if user is None:
            user = admin.create_user(None, admin.UserDetails(
                email=email, name=name, organisation_id=orgs[org_code].id, roles=roles, password=DEMO_PASSWORD))
        if not user.totp_secret:
            _enrol_demo_totp(user)
        logins.append(DemoLogin(
            email=email, name=name, roles=", ".join(sorted(r.label for r in user.roles)),
            organisation=orgs[org_code].name, password=DEMO_PASSWORD, totp_secret=user.totp_secret,
            otpauth_uri=auth_second_factor.totp_uri(user, user.totp_secret),
        ))
    return logins


def _enrol_demo_totp(user: User) -> None:
    with unit_of_work():
        user.totp_secret = auth_second_factor.new_totp_secret()
        user.totp_confirmed_at = utcnow()
        audit.record("update", object_type="user", object_id=user.id, detail={"change": "demo-totp-enrolled"})


def _nhs_test_number(rng: random.Random) -> str:
    """A valid NHS number from the 999 test range (never issued to a real person)."""
    while True:
        digits = "999" + "".join(str(rng.randint(0, 9)) for _ in range(6))
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            return digits + str(check)


def _children(orgs: dict[str, Organisation]) -> list[int]:
    # Not for security (bandit B311): a fixed seed, so the same fictional children every time.
    rng = random.Random(20261122)  # nosec B311
    ids = []
    primaries = [c for c, *_ in SCHOOLS[:4]]
    secondaries = [c for c, *_ in SCHOOLS[4:]]
    today = date.today()
    for n in range(1, CHILDREN + 1):
        ref = f"DEMO-{n:04d}"
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        age_days = rng.randint(5 * 365, 17 * 365)
        dob = today - timedelta(days=age_days)
        nhs = _nhs_test_number(rng)
        looked_after = n % 5 == 0
        placed_from_westmere = n % 10 == 0
        existing = people.child_ids_by_identifier(IdentifierKind.la_id, ref)
        if existing:
            ids.append(existing[0])
            continue
        home = orgs["WMCSC"] if placed_from_westmere else orgs["NBCSC"]
        child = people.create_child(None, people.ChildDetails(
            given_name=given, family_name=family, date_of_birth=dob, gender=rng.choice(list(Gender)[:2]),
            looked_after=looked_after,
            # Looked after for a year or two already, so their past episodes fall in care (the 903 file).
            looked_after_since=today - timedelta(days=400 + 7 * n) if looked_after else None,
            responsible_authority_id=home.id if looked_after or n % 3 == 0 else None,
            placing_authority_id=home.id if looked_after else None,
            identifiers={IdentifierKind.nhs_number: nhs, IdentifierKind.la_id: ref,
                         IdentifierKind.police_id: f"NBP-{n:05d}" if n % 4 == 0 else ""},
            is_demo=True,
        ))
        ids.append(child.id)
        if not looked_after and n % 3 == 0 and n % 7 == 0:
            # Some children of the authority left care two months ago: their in-care episodes stay
            # in the SSDA903 missing file of the year (a looked-after period with an end).
            people.record_looked_after_period(None, child.id, today - timedelta(days=700), today - timedelta(days=60))
        school = rng.choice(primaries if age_days < 11 * 365 else secondaries)
        with unit_of_work() as s:
            s.add(Enrolment(child_id=child.id, school_id=orgs[school].id,
                            start_date=today - timedelta(days=rng.randint(30, 900))))
            if n % 4 == 0:
                s.add(AgencyInvolvement(child_id=child.id, organisation_id=orgs["NBPOL"].id,
                                        reason="missing-person record", started_on=today - timedelta(days=60)))
            if n % 6 == 0:
                s.add(AgencyInvolvement(child_id=child.id, organisation_id=orgs["NBNHS"].id,
                                        reason="CAMHS referral", started_on=today - timedelta(days=90)))
            if placed_from_westmere:
                s.add(AgencyInvolvement(child_id=child.id, organisation_id=orgs["NBCSC"].id,
                                        reason="placed in area by another authority",
                                        started_on=today - timedelta(days=200)))
            audit.record("create", object_type="enrolment", child_id=child.id, basis="system",
                         detail={"demo": True, "school": orgs[school].id})
    return ids


def _mace(orgs: dict[str, Organisation], children: list[int]) -> None:
    """Northbridge Central MACE, with members, meetings, places, people, actions and outcomes."""
    mace_demo.load(orgs, children, DOMAIN)


def _episodes(orgs: dict[str, Organisation], children: list[int]) -> None:
    """Three fictional missing episodes from the police download: one child still missing, one
    found yesterday (return interview due), one found last week with everything done. The school
    notifications they produce wait in the outbox until a delivery worker runs."""
    officer = db.session().scalar(select(User).where(User.email == f"police.coordinator@{DOMAIN}"))
    now = utcnow().replace(second=0, microsecond=0)
    plans = [  # (child index: police-involved children are every 4th, start hours ago, found hours ago, grade)
        (3, 5, None, RiskGrade.high),
        (7, 40, 20, RiskGrade.medium),
        (11, 200, 180, RiskGrade.low),
    ]
    for number, (index, started, found, grade) in enumerate(plans, start=1):
        if db.session().scalar(select(MissingEpisode.id).where(
                MissingEpisode.police_reference == f"DEMO-MP-{number:04d}")):
            continue  # loaded before: the times stay as they were, so running twice changes nothing
        details = missing_details.EpisodeDetails(
            police_reference=f"DEMO-MP-{number:04d}", reported_start=now - timedelta(hours=started),
            classification=Classification.missing, risk_grade=grade, missing_from=MissingFrom.home,
            found_at=now - timedelta(hours=found) if found else None)
        with unit_of_work():
            outcome = missing.apply_police_record(officer, orgs["NBPOL"].id, children[index], details,
                                                  EpisodeSource.police_download)
        if outcome.outcome == "created" and found and found > 100:
            missing.update_episode(officer, outcome.episode.id, missing_details.EpisodeChanges(
                prevention_check_at=now - timedelta(hours=found - 2), prevention_check_by="PC 0000 (fictional)"))
