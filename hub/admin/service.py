"""Administration: organisations, users, roles and single sign-on settings.

Only hub administrators change these. Deactivating a user or changing their roles ends all of
their sessions at once, so a copied cookie does not outlive the decision. An administrator never
chooses anyone's password: the hub generates an initial one (hub/auth/initial_passwords.py), shows
it to them once to pass on, and keeps only its hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from hub import db, outbound
from hub.audit import service as audit
from hub.audit.flag_rules import DEFAULT_HOURS, valid_hours
from hub.auth import initial_passwords, passwords
from hub.auth import service as auth_service
from hub.auth import sessions as auth_sessions
from hub.db import unit_of_work, utcnow
from hub.errors import Forbidden, Invalid, NotFound
from hub.models.auth import Organisation, SsoProvider, User, UserRole
from hub.models.roles import ROLES_FOR_KIND, OrgKind, Role
from hub.permissions import may_administer
from hub.validators import organisation_identifier


def _require_admin(actor: User | None, object_type: str, object_id=None) -> None:
    """Administrators only; the command line (actor None) is trusted as the operator."""
    if actor is not None and not may_administer(actor):
        audit.record_refusal(actor, object_type, object_id, action="update")
        raise Forbidden("Only a hub administrator can do this")


# --- organisations ------------------------------------------------------------------------------

@dataclass
class OrganisationDetails:
    code: str
    name: str
    kind: OrgKind
    identifier: str
    local_authority_id: int | None = None
    school_day_start: str | None = None
    #: London time, Monday to Friday; reads of a child's record outside them are flagged.
    working_hours_start: str = DEFAULT_HOURS[0]
    working_hours_end: str = DEFAULT_HOURS[1]


def _clean_org(details: OrganisationDetails, existing_id: int | None) -> dict:
    errors: dict[str, str] = {}
    code = (details.code or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9\-]{1,19}", code):
        errors["code"] = "Enter a code of 2 to 20 capital letters, digits or -"
    if not (details.name or "").strip():
        errors["name"] = "Enter the organisation's name"
    try:
        identifier = organisation_identifier(details.kind, details.identifier)
    except ValueError as exc:
        errors["identifier"] = str(exc)
        identifier = ""
    start = (details.school_day_start or "").strip() or None
    if start and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", start):
        errors["school_day_start"] = "Enter the school day start as HH:MM, like 08:30"
    hours = ((details.working_hours_start or "").strip() or DEFAULT_HOURS[0],
             (details.working_hours_end or "").strip() or DEFAULT_HOURS[1])
    if not valid_hours(*hours):
        errors["working_hours_start"] = "Enter working hours as HH:MM, like 08:00 and 18:00, the start before the end"
    s = db.session()
    if code and s.scalar(select(Organisation.id).where(Organisation.code == code,
                                                       Organisation.id != (existing_id or 0))):
        errors["code"] = "Another organisation already has this code"
    if identifier and s.scalar(select(Organisation.id).where(
            Organisation.kind == details.kind, Organisation.identifier == identifier,
            Organisation.id != (existing_id or 0))):
        errors["identifier"] = "Another organisation of this kind already has this identifier"
    if errors:
        raise Invalid(errors)
    return dict(code=code, name=details.name.strip(), kind=details.kind, identifier=identifier,
                local_authority_id=details.local_authority_id, school_day_start=start,
                working_hours_start=hours[0], working_hours_end=hours[1])


def create_organisation(actor: User | None, details: OrganisationDetails) -> Organisation:
    _require_admin(actor, "organisation")
    with unit_of_work() as s:
        org = Organisation(**_clean_org(details, None))
        s.add(org)
        s.flush()
        audit.record("create", actor=actor, object_type="organisation", object_id=org.id,
                     detail={"kind": org.kind.value})
    return org


def update_organisation(actor: User, org_id: int, details: OrganisationDetails) -> Organisation:
    _require_admin(actor, "organisation", org_id)
    with unit_of_work() as s:
        org = s.get(Organisation, org_id)
        if org is None:
            raise NotFound("organisation not found")
        for key, value in _clean_org(details, org_id).items():
            setattr(org, key, value)
        audit.record("update", actor=actor, object_type="organisation", object_id=org.id)
    return org


# --- users --------------------------------------------------------------------------------------

@dataclass
class UserDetails:
    email: str
    name: str
    organisation_id: int
    roles: set[Role] = field(default_factory=set)
    #: A known password of the person's own, at creation by the operator only (the command line,
    #: the demo data, tests); an administrator has the hub issue an initial one instead.
    password: str | None = None


@dataclass(frozen=True)
class IssuedPassword:
    """An initial password the hub generated: shown once to the administrator, never stored."""

    user: User
    password: str
    expires_at: datetime


#: ASVS V6.4.1: an administrator does not choose people's passwords.
GENERATED_NOT_TYPED = "The hub generates initial passwords: an administrator does not type one"


def _clean_user(details: UserDetails, existing_id: int | None) -> dict:
    errors: dict[str, str] = {}
    try:
        email = validate_email(details.email or "", check_deliverability=False,
                               test_environment=True).normalized.lower()
    except EmailNotValidError:
        errors["email"] = "Enter an e-mail address in the correct format, like name@example.org"
        email = ""
    if not (details.name or "").strip():
        errors["name"] = "Enter the person's name"
    org = db.session().get(Organisation, details.organisation_id) if details.organisation_id else None
    if org is None:
        errors["organisation_id"] = "Choose the person's organisation"
    elif not details.roles:
        errors["roles"] = "Choose at least one role"
    else:
        wrong = {r for r in details.roles if r not in ROLES_FOR_KIND[org.kind]}
        if wrong:
            errors["roles"] = (f"{', '.join(sorted(r.label for r in wrong))} cannot be given to someone in "
                               f"a {org.kind.label.lower()} organisation")
    if details.password is not None and (weak := passwords.problem(details.password,
                                                                    passwords.context_words(email or details.email))):
        errors["password"] = weak
    if email and db.session().scalar(select(User.id).where(User.email == email, User.id != (existing_id or 0))):
        errors["email"] = "Another account already uses this e-mail address"
    if errors:
        raise Invalid(errors)
    return dict(email=email, name=details.name.strip(), organisation_id=details.organisation_id)


def create_user(actor: User | None, details: UserDetails) -> User:
    """A new account with the operator's known password, or none (single sign-on only)."""
    _require_admin(actor, "user")
    if actor is not None and details.password is not None:
        raise Invalid({"password": GENERATED_NOT_TYPED})
    with unit_of_work():
        return _add_user(actor, details)


def create_user_with_initial_password(actor: User, details: UserDetails) -> IssuedPassword:
    """A new account and its initial password, in one transaction: the administrator is shown the
    password once, and the person chooses their own at their first sign-in."""
    _require_admin(actor, "user")
    if details.password is not None:
        raise Invalid({"password": GENERATED_NOT_TYPED})
    with unit_of_work():
        return _issue_initial_password(actor, _add_user(actor, details), "account-created")


def _add_user(actor: User | None, details: UserDetails) -> User:
    s = db.session()
    user = User(**_clean_user(details, None))
    if details.password:
        user.password_hash = auth_service.hash_password(details.password)
    user.role_rows = [UserRole(role=r) for r in sorted(details.roles)]
    s.add(user)
    s.flush()
    audit.record("create", actor=actor, object_type="user", object_id=user.id,
                 detail={"roles": sorted(r.value for r in details.roles), "organisation": user.organisation_id})
    return user


def _issue_initial_password(actor: User | None, user: User, reason: str) -> IssuedPassword:
    """Generate, keep only the hash, start its time limit; the audit event says so, without it."""
    password = initial_passwords.generate(user.email)
    user.password_hash = auth_service.hash_password(password)
    user.initial_password_expires_at = initial_passwords.expiry()
    user.failed_sign_ins = 0
    audit.record("update", actor=actor, object_type="user", object_id=user.id,
                 detail={"change": "initial-password-issued", "reason": reason,
                         "expires_at": user.initial_password_expires_at.isoformat()})
    return IssuedPassword(user, password, user.initial_password_expires_at)


#: How recently an administrator must have signed in to change how someone else signs in.
REAUTHENTICATE_WITHIN = timedelta(minutes=10)
SIGN_IN_AGAIN = ("Sign out and sign in again to change how someone signs in (their e-mail, password or "
                 "two-factor sign-in): you signed in more than 10 minutes ago")


def _existing_user(s, user_id: int) -> User:
    """The account an administrator acts on, in the unit of work; NotFound (a 404) if none."""
    user = s.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def _require_recent_sign_in(actor: User | None) -> None:
    """ASVS V7.5.1: what lets someone sign in (their e-mail, a temporary password, their second
    factor) is changed only by an administrator who proved who they are in the last 10 minutes,
    so a session left open, or a stolen cookie, cannot take over other people's accounts. The
    operator's commands (no session) are not asked."""
    session = getattr(actor, "current_session", None)
    if session is None:
        return
    if utcnow() - auth_service._aware(session.created_at) > REAUTHENTICATE_WITHIN:
        raise Invalid(SIGN_IN_AGAIN)


def update_user(actor: User, user_id: int, details: UserDetails) -> User:
    """Edit a user; a change of organisation or roles signs them out everywhere. The password is
    not theirs to edit here: a forgotten one is `reset_password`."""
    _require_admin(actor, "user", user_id)
    if details.password is not None:
        raise Invalid({"password": GENERATED_NOT_TYPED})
    with unit_of_work() as s:
        user = _existing_user(s, user_id)
        clean = _clean_user(details, user_id)
        if clean["email"] != user.email:
            _require_recent_sign_in(actor)
        before = (user.organisation_id, user.roles)
        for key, value in clean.items():
            setattr(user, key, value)
        if user.roles != details.roles:
            user.role_rows = [UserRole(role=r) for r in sorted(details.roles)]
        audit.record("update", actor=actor, object_type="user", object_id=user.id,
                     detail={"roles": sorted(r.value for r in details.roles), "organisation": user.organisation_id})
        if (user.organisation_id, set(details.roles)) != before:
            s.flush()
            auth_sessions.end_all_sessions(user, "roles-changed", actor=actor)
    return user


def reset_password(actor: User, user_id: int) -> IssuedPassword:
    """A forgotten password: the hub issues a new initial one, which signs the person out
    everywhere; their second factor stays (ASVS V6.4.3), so the password alone opens nothing."""
    _require_admin(actor, "user", user_id)
    _require_recent_sign_in(actor)
    with unit_of_work() as s:
        user = _existing_user(s, user_id)
        issued = _issue_initial_password(actor, user, "password-reset")
        s.flush()
        auth_sessions.end_all_sessions(user, "password-reset", actor=actor)
    return issued


def set_user_active(actor: User, user_id: int, active: bool) -> User:
    _require_admin(actor, "user", user_id)
    with unit_of_work() as s:
        user = _existing_user(s, user_id)
        if actor is not None and user.id == actor.id and not active:
            raise Invalid("You cannot deactivate your own account")
        user.active = active
        audit.record("update", actor=actor, object_type="user", object_id=user.id,
                     detail={"change": "activated" if active else "deactivated"})
        if not active:
            auth_sessions.end_all_sessions(user, "deactivated", actor=actor)
    return user


def reset_second_factor(actor: User, user_id: int) -> None:
    """For a lost authenticator: the user enrols again at their next sign-in."""
    _require_admin(actor, "user", user_id)
    _require_recent_sign_in(actor)
    with unit_of_work() as s:
        user = _existing_user(s, user_id)
        user.totp_secret = None
        user.totp_confirmed_at = None
        audit.record("update", actor=actor, object_type="user", object_id=user.id, detail={"change": "totp-reset"})
        auth_sessions.end_all_sessions(user, "totp-reset", actor=actor)


def users(actor: User, organisation_id: int | None = None) -> list[User]:
    """Staff accounts (names and e-mails are personal data too: the read is audited)."""
    _require_admin(actor, "user-list")
    query = select(User).order_by(User.name)
    if organisation_id:
        query = query.where(User.organisation_id == organisation_id)
    found = list(db.session().scalars(query))
    with unit_of_work():
        audit.record("read", actor=actor, object_type="user-list", basis="role:hub-admin",
                     detail={"organisation": organisation_id, "shown": len(found)})
    return found


def get_user(actor: User, user_id: int) -> User:
    _require_admin(actor, "user", user_id)
    user = _existing_user(db.session(), user_id)
    with unit_of_work():
        audit.record("read", actor=actor, object_type="user", object_id=user_id, basis="role:hub-admin")
    return user


# --- single sign-on settings --------------------------------------------------------------------

def set_sso(actor: User | None, org_id: int, issuer: str, client_id: str, client_secret: str | None,
            enabled: bool = True) -> SsoProvider:
    """Set an organisation's OpenID Connect provider. An empty secret keeps the stored one."""
    _require_admin(actor, "sso-provider", org_id)
    errors: dict[str, str] = {}
    issuer = (issuer or "").strip().rstrip("/")
    if not re.fullmatch(r"https://[^\s/$.?#].[^\s]*|http://(localhost|127\.0\.0\.1)(:\d+)?(/[^\s]*)?", issuer):
        errors["issuer"] = "Enter the provider's issuer URL, starting https://"
    elif not outbound.allowlist().permits_url(issuer):
        # An issuer is a host the hub will call: only one the operator has allowed (SSRF, V1.3.6).
        errors["issuer"] = (f"The hub may not call {urlsplit(issuer).netloc.rpartition('@')[2]}: ask the hub's "
                            "operator to add it to HUB_OUTBOUND_HOSTS, or enter another issuer")
    if not (client_id or "").strip():
        errors["client_id"] = "Enter the client ID the provider gave the hub"
    with unit_of_work() as s:
        row = s.scalar(select(SsoProvider).where(SsoProvider.organisation_id == org_id))
        if row is None and not client_secret:
            # bandit B105 takes the message for a secret.
            errors["client_secret"] = "Enter the client secret the provider gave the hub"  # nosec B105
        if s.get(Organisation, org_id) is None:
            raise NotFound("organisation not found")
        if errors:
            raise Invalid(errors)
        if row is None:
            row = SsoProvider(organisation_id=org_id)
            s.add(row)
        row.issuer, row.client_id, row.enabled = issuer, client_id.strip(), enabled
        if client_secret:
            row.client_secret = client_secret
        s.flush()
        # The secret itself never reaches the log.
        audit.record("update", actor=actor, object_type="sso-provider", object_id=row.id,
                     detail={"organisation": org_id, "issuer": issuer, "enabled": enabled})
    return row


# --- the school day's start (hub.notifications.calendar reads it) ---------------------------------

SCHOOL_DAY_START = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def set_school_day_start(actor: User, org_id: int, value: str | None) -> Organisation:
    """An administrator sets when a school's day starts (empty: the default, 08:30)."""
    _require_admin(actor, "organisation", org_id)
    org = db.session().get(Organisation, org_id)
    if org is None or org.kind != OrgKind.school:
        raise Invalid({"school_day_start": "Choose a school to set its start time"})
    start = (value or "").strip() or None
    if start and not SCHOOL_DAY_START.fullmatch(start):
        raise Invalid({"school_day_start": "Enter the school day start as HH:MM, like 08:30"})
    with unit_of_work():
        org.school_day_start = start
        audit.record("update", actor=actor, object_type="organisation", object_id=org.id,
                     detail={"school_day_start": start})
    return org
