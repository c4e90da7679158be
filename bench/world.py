"""What several benchmarks build their worlds with, through the services as the hub does: a user
who can sign in, a child's school and agencies, and a Flask test client signed in as a user (the
benchmarks that count a page's statements in process).

The benchmarks' own module, not tests/factories.py: a benchmark runs without pytest and its
fixtures, and the tests' helpers change with the tests. Import it only after
`bench._util.environment` has set the hub's environment, as every benchmark imports the hub."""

from __future__ import annotations

import re
import time
from datetime import date

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from bench._util import PASSWORD
from hub import db
from hub.admin import service as admin
from hub.models.auth import Organisation, User
from hub.models.people import AgencyInvolvement, Child, Enrolment
from hub.models.roles import Role


def make_user(org: Organisation, role: Role, email: str, password: str = PASSWORD) -> tuple[User, str]:
    """A user with a confirmed TOTP secret: (user, secret)."""
    user = admin.create_user(None, admin.UserDetails(email=email, name=f"Bench {email.split('@')[0]}",
                                                     organisation_id=org.id, roles={role}, password=password))
    secret = pyotp.random_base32()
    with db.unit_of_work():
        user.totp_secret, user.totp_confirmed_at = secret, db.utcnow()
    return user, secret


def enrol(child: Child, school_id: int, start: date = date(2024, 9, 1)) -> None:
    """The child on the school's roll, as the schools' own systems record it."""
    with db.unit_of_work() as s:
        s.add(Enrolment(child_id=child.id, school_id=school_id, start_date=start))


def involve(child: Child, org: Organisation, reason: str = "open case") -> None:
    """The agency working with the child, as its own systems record it."""
    with db.unit_of_work() as s:
        s.add(AgencyInvolvement(child_id=child.id, organisation_id=org.id, reason=reason,
                                started_on=date(2025, 1, 1)))


def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def signed_in_client(app: Flask, user: User, secret: str, password: str = PASSWORD) -> FlaskClient:
    """A test client through the sign-in pages (password, then a TOTP code newer than the last
    one the hub accepted for the user)."""
    client = app.test_client()
    page = client.get("/auth/sign-in")
    response = client.post("/auth/sign-in", data={
        "csrf_token": _csrf_token(page.get_data(as_text=True)), "email": user.email, "password": password})
    assert response.status_code == 302, "the password was refused"
    fresh = db.session().get(User, user.id)
    db.session().refresh(fresh)
    step = max(int(time.time() // 30), (fresh.totp_last_step or 0) + 1)
    page = client.get("/auth/two-factor")
    response = client.post("/auth/two-factor", data={
        "csrf_token": _csrf_token(page.get_data(as_text=True)), "code": pyotp.TOTP(secret).generate_otp(step)})
    assert response.status_code == 302, "the security code was refused"
    return client
