"""Single sign-on's accounts: which hub user a provider's verified claims are (the OpenID Connect
flow itself is hub/auth/sso.py), and the refusals it records."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from hub import crypto, db
from hub.audit import service as audit
from hub.db import unit_of_work
from hub.models.auth import SsoIdentity, SsoProvider, User

# --- single sign-on -----------------------------------------------------------------------------

SSO_NOT_SET_UP = "not-set-up"


SSO_DEACTIVATED = "deactivated"


@dataclass
class SsoOutcome:
    """A validated ID token's answer: the user to sign in, or why not. `refusal` is
    SSO_DEACTIVATED only when the provider has vouched for the person as the holder of a hub
    account of its own organisation (a linked subject, or a verified e-mail): only they learn it."""

    user: User | None
    refusal: str | None = None


def email_key(email: str) -> str:
    """Keyed hash of an e-mail address as offered (trimmed, lower-cased): the same for a password
    sign-in's attempt counter and a single sign-on refusal, so a reviewer holding the hub's key
    can match either to an account without the log ever holding the address."""
    return crypto.blind_index("sign-in", (email or "").strip().lower())


def enabled_sso_providers() -> list[SsoProvider]:
    """The organisations' single sign-on providers that are switched on (the sign-in page offers each)."""
    return list(db.session().scalars(select(SsoProvider).where(SsoProvider.enabled.is_(True))))


def sso_user(provider: SsoProvider, claims: dict) -> SsoOutcome:
    """The provisioned user for a validated ID token, or why not (refused, and audited with the
    issuer, the subject offered and the true reason).

    Once a user is linked, only (issuer, subject) finds them. The first sign-in links by e-mail,
    and only when the provider says the address is verified and the account is in the
    provider's own organisation: one organisation's provider cannot sign in another's staff."""
    s = db.session()
    issuer, subject = provider.issuer, str(claims["sub"])
    offered = {"issuer": issuer, "subject": subject, "organisation": provider.organisation_id}
    with unit_of_work():
        identity = s.scalar(select(SsoIdentity).where(SsoIdentity.issuer == issuer, SsoIdentity.subject == subject))
        if identity is not None:
            user = s.get(User, identity.user_id)
            if user.active and user.organisation_id == provider.organisation_id:
                return SsoOutcome(user)
            # A shared issuer can serve several organisations: say which refusal this was.
            own = user.organisation_id == provider.organisation_id
            audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                         detail={"reason": "sso-user-inactive" if own else "sso-identity-of-another-organisation",
                                 **offered})
            return SsoOutcome(None, SSO_DEACTIVATED if own else SSO_NOT_SET_UP)
        email = str(claims.get("email") or "").strip().lower()
        verified = bool(email) and claims.get("email_verified") is True
        user = s.scalar(select(User).where(User.email == email)) if verified else None
        if user is not None and user.organisation_id == provider.organisation_id:
            if not user.active:
                audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                             detail={"reason": "sso-user-inactive", **offered})
                return SsoOutcome(None, SSO_DEACTIVATED)
            if s.scalar(select(SsoIdentity.id).where(SsoIdentity.user_id == user.id, SsoIdentity.issuer == issuer)):
                audit.record("sign-in", outcome=audit.REFUSED, actor=user, object_type="user", object_id=user.id,
                             detail={"reason": "sso-another-subject-linked", **offered})
                return SsoOutcome(None, SSO_NOT_SET_UP)
            s.add(SsoIdentity(user_id=user.id, issuer=issuer, subject=subject))
            audit.record("update", actor=user, object_type="user", object_id=user.id,
                         detail={"change": "sso-linked", **offered})
            return SsoOutcome(user)
        audit.record("sign-in", outcome=audit.REFUSED, detail={
            "reason": "sso-not-provisioned", **offered, "email_standing": _email_standing(email, verified, user),
            **({"email_key": email_key(email)} if email else {})})
        return SsoOutcome(None, SSO_NOT_SET_UP)


def _email_standing(email: str, verified: bool, user: User | None) -> str:
    """What the offered e-mail is to the hub, as a category for the log (never the address)."""
    if not email:
        return "none"
    if not verified:
        return "unverified"
    return "account-in-another-organisation" if user is not None else "no-account"


def record_sso_refusal(org_code: str, reason: str, issuer: str | None = None, subject: str | None = None,
                       **detail: str) -> None:
    """A single sign-on refused before any account was found: what was offered, and why."""
    offered = {"issuer": issuer, "subject": subject, **detail}
    with unit_of_work():
        audit.record("sign-in", outcome=audit.REFUSED, detail={
            "reason": reason, "organisation_code": org_code[:40],
            **{k: v for k, v in offered.items() if v is not None}})
