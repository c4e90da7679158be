"""Plain factory functions with sensible defaults; they go through the services, like the hub: an
organisation, a user, a child, an episode (recorded, or reported by a force's download), a share,
the notifications of an episode. A test that needs a row no service writes (a bulk load, a past
the service would stamp with the present) says so beside its own insert."""

from __future__ import annotations

import itertools
import re
import time
from datetime import date, timedelta

import pyotp

from hub import db
from hub.admin import service as admin
from hub.db import unit_of_work, utcnow
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.auth import User
from hub.models.missing import Classification, EpisodeSource, MissingEpisode, MissingFrom, RiskGrade
from hub.models.notifications import Notification, NotificationKind
from hub.models.people import AgencyInvolvement, Child, Enrolment, Gender, IdentifierKind
from hub.models.roles import OrgKind, Role
from hub.models.sharing import ShareRecord
from hub.notifications import issuing
from hub.people import service as people
from hub.sharing import service as sharing

PASSWORD = "correct horse battery staple"
_n = itertools.count(1)

IDENTIFIERS = {
    OrgKind.school: lambda n: f"{900000 + n}",
    OrgKind.police: lambda n: f"{n % 90 + 10}",
    OrgKind.childrens_social_care: lambda n: f"{n % 900 + 100}",
    OrgKind.la_education: lambda n: f"{n % 900 + 100}",
    OrgKind.health: lambda n: f"R{n % 90 + 10}",
    OrgKind.mace_host: lambda n: f"HOST{n}",
    OrgKind.voluntary: lambda n: f"{1000000 + n}",
}


def make_org(kind: OrgKind = OrgKind.school, code: str | None = None, **extra):
    n = next(_n)
    return admin.create_organisation(None, admin.OrganisationDetails(
        code=code or f"{kind.value.replace('_', '')[:6].upper()}{n}", name=f"Test {kind.label} {n}", kind=kind,
        identifier=IDENTIFIERS[kind](n), **extra))


def make_user(org, *roles: Role, email: str | None = None, password: str | None = PASSWORD,
              totp: bool = True) -> tuple[User, str | None]:
    n = next(_n)
    user = admin.create_user(None, admin.UserDetails(
        email=email or f"user{n}@example.test", name=f"Test User {n}", organisation_id=org.id,
        roles=set(roles) or {Role.dsl}, password=password))
    secret = None
    if totp:
        secret = pyotp.random_base32()
        with unit_of_work():
            user.totp_secret = secret
            user.totp_confirmed_at = utcnow()
    return user, secret


def valid_nhs_number(seed: int) -> str:
    n = seed
    while True:
        digits = f"999{n % 1000000:06d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            return digits + str(check)
        n += 1


def make_child(given="Test", family="Child", dob=date(2012, 3, 27), **extra) -> Child:
    n = next(_n)
    identifiers = extra.pop("identifiers", {IdentifierKind.nhs_number: valid_nhs_number(n * 7919)})
    return people.create_child(None, people.ChildDetails(
        given_name=given, family_name=family, date_of_birth=dob, gender=Gender.female,
        identifiers=identifiers, **extra))


def enrol(child, school, start=date(2024, 9, 1)):
    with unit_of_work() as s:
        s.add(Enrolment(child_id=child.id, school_id=school.id, start_date=start))


def involve(child, org, reason="open case"):
    with unit_of_work() as s:
        s.add(AgencyInvolvement(child_id=child.id, organisation_id=org.id, reason=reason, started_on=date(2025, 1, 1)))


# --- episodes ------------------------------------------------------------------------------------

def episode_details(**overrides) -> missing_details.EpisodeDetails:
    """A medium-risk child missing from home, reported three hours ago."""
    values = dict(police_reference="MP/26/0001", reported_start=utcnow() - timedelta(hours=3),
                  classification=Classification.missing, risk_grade=RiskGrade.medium, missing_from=MissingFrom.home)
    values.update(overrides)
    return missing_details.EpisodeDetails(**values)


def make_episode(actor: User, child: Child, **details) -> MissingEpisode:
    """An episode recorded by a practitioner who holds the child (the school is told)."""
    return missing.record_episode(actor, child.id, episode_details(**details))


def report_episode(officer: User, child: Child, source: EpisodeSource = EpisodeSource.police_download,
                   **details) -> MissingEpisode:
    """A force's report as its download brings it (the force need not hold the child yet; the
    school is told), under a reference of its own unless `details` gives one."""
    details.setdefault("police_reference", f"MP/T/{next(_n)}")
    with unit_of_work():
        outcome = missing.apply_police_record(officer, officer.organisation_id, child.id, episode_details(**details),
                                              source)
    return db.session().get(MissingEpisode, outcome.episode.id)


def change_episode(actor: User, episode: MissingEpisode, **changes) -> MissingEpisode:
    """An episode changed as its page changes it (only the fields given)."""
    return missing.update_episode(actor, episode.id, missing_details.EpisodeChanges(**changes))


def notify_key_adults(episode: MissingEpisode, kind: NotificationKind = NotificationKind.missing) -> list[Notification]:
    """The child's school told of the episode again: a notification and an e-mail per key adult."""
    with unit_of_work():
        issued = issuing.notify_episodes([episode], kind)
    return [db.session().get(Notification, n) for n in issued.notification_ids[episode.id]]


# --- shares --------------------------------------------------------------------------------------

def make_share(sender: User, draft: sharing.ShareDraft) -> ShareRecord:
    """A share recorded to its recipients (refused, as the hub refuses it, when a rule fails)."""
    return sharing.create_share(sender, draft)


# --- driving the pages --------------------------------------------------------------------------

def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def next_code(user_id: int, secret: str) -> str:
    """A TOTP code the hub will accept now: newer than the last step it accepted."""
    user = db.session().get(User, user_id)
    db.session().refresh(user)
    totp = pyotp.TOTP(secret)
    step = max(int(time.time() // 30), (user.totp_last_step or 0) + 1)
    return totp.generate_otp(step)


def sign_in(client, user: User, secret: str | None, password: str = PASSWORD):
    page = client.get("/auth/sign-in")
    response = client.post("/auth/sign-in", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get("/auth/two-factor")
    response = client.post("/auth/two-factor", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "code": next_code(user.id, secret)})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def initial_password_shown(response) -> str:
    """The initial password on the page the hub shows an administrator once (hub/admin/views.py)."""
    match = re.search(r'data-testid="initial-password"><code>([^<]+)</code>', response.get_data(as_text=True))
    assert match, "no initial password on the page"
    return match.group(1)


def post_form(client, url: str, data: dict, form_page: str | None = None):
    page = client.get(form_page or url)
    return client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data})


def fail_sign_in_five_times(app, user) -> None:
    """Five wrong passwords for `user` from one stranger's browser: enough to raise the DPO's
    failed-sign-ins flag (hub.audit.flag_rules)."""
    stranger = app.test_client()
    for _ in range(5):
        post_form(stranger, "/auth/sign-in", {"email": user.email, "password": "wrong password!!"})


def signed_in_client(app, user_id: int):
    """A client signed in as a user made without a TOTP secret (one is set for them here)."""
    secret = pyotp.random_base32()
    with unit_of_work():
        db.session().get(User, user_id).totp_secret = secret
    client = app.test_client()
    sign_in(client, db.session().get(User, user_id), secret)
    return client
