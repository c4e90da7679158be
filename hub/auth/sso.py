"""Single sign-on with OpenID Connect, one provider per organisation (authlib).

Authorization code flow with PKCE (S256), state bound to the session and a nonce, all handled
by authlib's Flask client; the provider's discovery document supplies the endpoints and its
`issuer` must equal the configured one. Each organisation has its own redirect URI
(/auth/sso/<code>/callback), so a response can only be taken for the provider it was sent to.

The ID token's signing algorithm is the hub's choice, never the provider's: authlib would take the
list from the discovery document, and a document listing `none` (or HS256, keyed by the client
secret the hub shares with the provider) would get an unsigned or forgeable token accepted.

Every refusal is audited with the reason a reviewer needs: the claim at fault or the provider's
error code, the issuer the token named, and the subject only when the token's signature verified
(before that it is whatever the sender wrote). Never an e-mail address, never free text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from authlib.integrations.flask_client.integration import FlaskIntegration
from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, current_app, render_template, request, session, url_for
from joserfc import jws
from joserfc.errors import ClaimError, JoseError
from requests import RequestException

from hub import outbound, request_text
from hub.auth import organisations as auth_organisations
from hub.auth import sso_accounts as auth_sso_accounts
from hub.auth.views import complete_sign_in, safe_next
from hub.models.auth import SsoIdentity, SsoProvider
from hub.web import public

bp = Blueprint("sso", __name__, url_prefix="/auth/sso")

ID_TOKEN_LEEWAY = 60  # seconds of clock skew allowed on exp / iat
#: The only ID token signatures the hub accepts, whatever a discovery document lists: asymmetric
#: ones, verified with a key from the provider's JWKS (RFC 8725 3.1, 3.2). Never `none`; never
#: an HMAC, whose key would be the client secret the hub itself holds.
ID_TOKEN_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
SUBJECT_MAX = SsoIdentity.subject.type.length  # the column's: OIDC Core 2 allows 255 ASCII characters
EMAIL_MAX = 254  # RFC 5321's path limit, as User.email
#: What the flow needs from the discovery document (OIDC Discovery 3).
DISCOVERY_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")

FAILED = "Sign-in could not be completed. Start again from the sign-in page."
UNREACHABLE = "The sign-in provider could not be reached. Try again, or sign in with a password."
NOT_SET_UP = "Your account has not been set up in the hub. Ask your organisation's hub administrator to add you."
# Told only to someone whose own provider has just vouched for them as that account's holder.
DEACTIVATED = ("Your hub account has been deactivated. If you still need it, ask your organisation's hub "
               "administrator.")
_ERROR_CODE = re.compile(r"[^A-Za-z0-9_.:-]")


class SsoRefused(Exception):
    """Sign-in refused; the message is safe to show the person. The reason (a short code) and
    the issuer and subject offered, when known, are for the audit log."""

    def __init__(self, message: str, reason: str, issuer: str | None = None, subject: str | None = None,
                 **detail: str):
        super().__init__(message)
        self.reason, self.issuer, self.subject, self.detail = reason, issuer, subject, detail


class CheckedOAuth2Session(OAuth2Session):
    """authlib's HTTP session with every request (discovery, token, JWKS, UserInfo, and any
    redirect among them) through hub.outbound: a discovery document naming an endpoint on a host
    HUB_OUTBOUND_HOSTS does not list, or one resolving to an internal address, gets nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        outbound.guard(self)


class ProviderClient(FlaskOAuth2App):
    """authlib's Flask client for one organisation's provider, with the ID token's algorithms
    pinned and every way its validation fails turned into an explained refusal."""

    client_cls = CheckedOAuth2Session

    def __init__(self, provider: SsoProvider):
        name = f"org{provider.organisation_id}"
        super().__init__(
            FlaskIntegration(name), name=name, client_id=provider.client_id, client_secret=provider.client_secret,
            server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "timeout": 10},
        )
        self.issuer = provider.issuer

    def load_server_metadata(self) -> dict:
        metadata = super().load_server_metadata()
        # authlib decodes the ID token with the algorithms listed here: the hub's, not the provider's.
        metadata["id_token_signing_alg_values_supported"] = list(ID_TOKEN_ALGORITHMS)
        return metadata

    def parse_id_token(self, token, nonce, claims_options=None, claims_cls=None, leeway=120):
        header, offered = _unverified(token.get("id_token", ""))
        token_issuer = _loggable(offered.get("iss"), 300)
        algorithm = header.get("alg")
        if algorithm not in ID_TOKEN_ALGORITHMS:
            raise SsoRefused(FAILED, "sso-failed", self.issuer, error="unsupported_algorithm",
                             alg=_error_code(algorithm), **_present(token_issuer=token_issuer))
        try:
            claims = super().parse_id_token(token, nonce, claims_options=claims_options, claims_cls=claims_cls,
                                            leeway=leeway)
        except ClaimError as exc:
            # Claims are checked only after the signature verified: the subject is the provider's word.
            raise SsoRefused(FAILED, "sso-failed", self.issuer, _loggable_subject(offered.get("sub")),
                             error=exc.error, claim=exc.claim, **_present(token_issuer=token_issuer)) from exc
        except JoseError as exc:
            raise SsoRefused(FAILED, "sso-failed", self.issuer, error=exc.error,
                             **_present(token_issuer=token_issuer)) from exc
        problem = _subject_problem(claims.get("sub"))
        if problem:  # signed, but no identity the hub could store or show as it is
            raise SsoRefused(FAILED, "sso-failed", self.issuer, error="invalid_claim", claim="sub", problem=problem,
                             **_present(token_issuer=token_issuer))
        return claims


def _unverified(id_token: str) -> tuple[dict, dict]:
    """The token's header and claims as sent, before any check: only for choosing the algorithm
    and for the audit log, never for a decision about who this is."""
    try:
        compact = jws.extract_compact(id_token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        return {}, {}
    return dict(compact.headers()), claims if isinstance(claims, dict) else {}


def _loggable(value: Any, limit: int) -> str | None:
    """A value a token carried, fit for the audit log: a short string, or nothing."""
    if not isinstance(value, str) or not value or request_text.SINGLE_LINE_REFUSED.search(value):
        return None
    return value[:limit]


def _loggable_subject(value: Any) -> str | None:
    return value if _subject_problem(value) is None else None


def _present(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _error_code(value: Any) -> str:
    """An OAuth or JOSE error code, as a short plain token (the provider chose its characters)."""
    return _ERROR_CODE.sub("", str(value or ""))[:64] or "unrecognised"


def _subject_problem(subject: Any) -> str | None:
    """Why a `sub` cannot name an identity here, or None. OIDC Core 2: a locally unique string
    of at most 255 ASCII characters; anything else would be refused by the database (NUL), cut
    short, or shown to a reviewer as something it is not."""
    if not isinstance(subject, str) or not subject:
        return "empty"
    if len(subject) > SUBJECT_MAX:
        return "too-long"
    if request_text.SINGLE_LINE_REFUSED.search(subject):
        return "control-character"
    return None


def _checked_email(issuer: str, claims: dict) -> dict:
    """The e-mail the hub looks an account up by (from the ID token or UserInfo), refused through
    the audited path when no address could be it. The subject was checked with the token."""
    email = claims.get("email")
    if email is not None and (not isinstance(email, str) or len(email) > EMAIL_MAX
                              or request_text.SINGLE_LINE_REFUSED.search(email)):
        raise SsoRefused(FAILED, "sso-failed", issuer, claims["sub"], error="invalid_claim", claim="email")
    return claims


def _redirect_uri(org_code: str) -> str:
    settings = current_app.config["HUB"]
    if settings.production:  # never trust the Host header to build the redirect URI
        return settings.base_url + url_for("sso.callback", org_code=org_code)
    return url_for("sso.callback", org_code=org_code, _external=True)


def _provider(org_code: str) -> SsoProvider:
    org = auth_organisations.organisation_by_code(org_code)
    provider = auth_organisations.sso_provider_for(org.id) if org else None
    if provider is None or not provider.enabled:
        # The same words either way: the page does not say which organisation codes exist.
        raise SsoRefused("Single sign-on is not set up for this organisation.",
                         "sso-not-set-up" if org else "sso-unknown-organisation")
    return provider


def _checked_metadata(client: ProviderClient, provider: SsoProvider) -> dict:
    try:
        metadata = client.load_server_metadata()
    except (OAuthError, RequestException, ValueError) as exc:
        raise SsoRefused(UNREACHABLE, "sso-provider-unreachable", provider.issuer,
                         error=_error_code(getattr(exc, "error", None) or type(exc).__name__)) from exc
    if not all(isinstance(metadata.get(name), str) for name in DISCOVERY_ENDPOINTS):
        raise SsoRefused("The sign-in provider's settings do not match this organisation's.",
                         "sso-discovery-incomplete", provider.issuer)
    if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer:
        # A discovery document for another issuer: refuse rather than trust its endpoints.
        raise SsoRefused("The sign-in provider's settings do not match this organisation's.",
                         "sso-discovery-issuer-mismatch", provider.issuer,
                         **_present(issuer_offered=_loggable(metadata.get("issuer"), 300)))
    return metadata


@bp.route("/<org_code>/start")
@public
def start(org_code: str):
    try:
        provider = _provider(org_code)
        client = ProviderClient(provider)
        _checked_metadata(client, provider)
        session["sso_next"] = safe_next(request.args.get("next"))
        hint = {"login_hint": request.args["login_hint"][:254]} if request.args.get("login_hint") else {}
        return client.authorize_redirect(_redirect_uri(org_code), **hint)
    except SsoRefused as exc:
        auth_sso_accounts.record_sso_refusal(org_code, exc.reason, exc.issuer, exc.subject, step="start", **exc.detail)
        return _refused(str(exc))


@bp.route("/<org_code>/callback")
@public
def callback(org_code: str):
    next_url = session.get("sso_next")
    provider = None
    try:
        provider = _provider(org_code)
        client = ProviderClient(provider)
        _checked_metadata(client, provider)
        if request.args.get("iss") and request.args["iss"].rstrip("/") != provider.issuer:
            # RFC 9207: another provider's response sent to this organisation's callback.
            raise SsoRefused("The sign-in response came from another provider.", "idp-mix-up", provider.issuer,
                             issuer_offered=request.args["iss"][:300])
        token = client.authorize_access_token(
            leeway=ID_TOKEN_LEEWAY,
            claims_options={"iss": {"essential": True, "values": [provider.issuer]},
                            "aud": {"essential": True, "values": [provider.client_id]},
                            "sub": {"essential": True}},
        )
        claims = token.get("userinfo")
        if not claims:
            raise SsoRefused(FAILED, "sso-no-id-token", provider.issuer)
        claims = _checked_email(provider.issuer, _with_email(client, token, dict(claims)))
        outcome = auth_sso_accounts.sso_user(provider, claims)
    except SsoRefused as exc:
        auth_sso_accounts.record_sso_refusal(org_code, exc.reason, exc.issuer, exc.subject, **exc.detail)
        return _refused(str(exc))
    except (AuthlibBaseError, RequestException, ValueError, KeyError) as exc:  # state, the provider's error...
        auth_sso_accounts.record_sso_refusal(org_code, "sso-failed", provider.issuer if provider else None,
                                   error=_failure_code(exc))
        return _refused(FAILED)
    if outcome.user is None:
        return _refused(DEACTIVATED if outcome.refusal == auth_sso_accounts.SSO_DEACTIVATED else NOT_SET_UP)
    return complete_sign_in(outcome.user.id, "sso", next_url)


def _failure_code(exc: Exception) -> str:
    """The provider's OAuth error code (access_denied, invalid_grant...) or authlib's own
    (mismatching_state...); for anything else, what kind of failure it was."""
    if isinstance(exc, AuthlibBaseError) and exc.error:
        return _error_code(exc.error)
    if isinstance(exc, RequestException):
        return "provider-unreachable"
    return _error_code(type(exc).__name__)


def _with_email(client: ProviderClient, token: dict, claims: dict) -> dict:
    """Providers may keep e-mail out of the ID token (OIDC Core 5.4); then ask the UserInfo
    endpoint, and accept its answer only for the same subject (OIDC Core 5.3.2)."""
    if "email" in claims:
        return claims
    info = client.userinfo(token=token)
    if str(info.get("sub")) != str(claims.get("sub")):
        raise SsoRefused("The sign-in provider's answers did not match.", "sso-userinfo-subject-mismatch",
                         client.issuer, _loggable_subject(claims.get("sub")))
    return {**claims, "email": info.get("email"), "email_verified": info.get("email_verified")}


def _refused(message: str):
    session.pop("sso_next", None)
    return render_template("auth/sso_refused.html", message=message), 403
