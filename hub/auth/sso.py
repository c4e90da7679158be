"""Single sign-on with OpenID Connect, one provider per organisation (authlib).

Authorization code flow with PKCE (S256), state bound to the session and a nonce, all handled
by authlib's Flask client; the provider's discovery document supplies the endpoints and its
`issuer` must equal the configured one. Each organisation has its own redirect URI
(/auth/sso/<code>/callback), so a response can only be taken for the provider it was sent to.
"""

from __future__ import annotations

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from authlib.integrations.flask_client.integration import FlaskIntegration
from joserfc.errors import JoseError
from flask import Blueprint, current_app, render_template, request, session, url_for
from requests import RequestException

from hub.admin import service as admin_service
from hub.auth import service
from hub.auth.models import SsoProvider
from hub.auth.views import complete_sign_in, safe_next
from hub.web import public

bp = Blueprint("sso", __name__, url_prefix="/auth/sso")

ID_TOKEN_LEEWAY = 60  # seconds of clock skew allowed on exp / iat


class SsoRefused(Exception):
    """Sign-in refused; the message is safe to show the person. The reason (a short code) and
    the issuer and subject offered, when known, are for the audit log."""

    def __init__(self, message: str, reason: str, issuer: str | None = None, subject: str | None = None,
                 **detail: str):
        super().__init__(message)
        self.reason, self.issuer, self.subject, self.detail = reason, issuer, subject, detail


def _client(provider: SsoProvider) -> FlaskOAuth2App:
    name = f"org{provider.organisation_id}"
    return FlaskOAuth2App(
        FlaskIntegration(name),
        name=name,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "timeout": 10},
    )


def _redirect_uri(org_code: str) -> str:
    settings = current_app.config["HUB"]
    if settings.production:  # never trust the Host header to build the redirect URI
        return settings.base_url + url_for("sso.callback", org_code=org_code)
    return url_for("sso.callback", org_code=org_code, _external=True)


def _provider(org_code: str) -> SsoProvider:
    org = admin_service.organisation_by_code(org_code)
    provider = admin_service.sso_provider_for(org.id) if org else None
    if provider is None or not provider.enabled:
        raise SsoRefused("Single sign-on is not set up for this organisation.", "sso-not-set-up")
    return provider


def _checked_metadata(client: FlaskOAuth2App, provider: SsoProvider) -> dict:
    metadata = client.load_server_metadata()
    if metadata.get("issuer", "").rstrip("/") != provider.issuer:
        # A discovery document for another issuer: refuse rather than trust its endpoints.
        raise SsoRefused("The sign-in provider's settings do not match this organisation's.",
                         "sso-discovery-issuer-mismatch", provider.issuer,
                         issuer_offered=str(metadata.get("issuer", ""))[:300])
    return metadata


@bp.route("/<org_code>/start")
@public
def start(org_code: str):
    try:
        provider = _provider(org_code)
        client = _client(provider)
        _checked_metadata(client, provider)
        session["sso_next"] = safe_next(request.args.get("next"))
        hint = {"login_hint": request.args["login_hint"][:254]} if request.args.get("login_hint") else {}
        return client.authorize_redirect(_redirect_uri(org_code), **hint)
    except SsoRefused as exc:
        return _refused(str(exc))
    except (OAuthError, RequestException, ValueError):
        return _refused("The sign-in provider could not be reached. Try again, or sign in with a password.")


@bp.route("/<org_code>/callback")
@public
def callback(org_code: str):
    next_url = session.get("sso_next")
    provider = None
    try:
        provider = _provider(org_code)
        client = _client(provider)
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
            raise SsoRefused("The sign-in provider did not send an ID token.", "sso-no-id-token", provider.issuer)
        claims = _with_email(client, token, dict(claims))
        user = service.sso_user(provider, claims)
    except SsoRefused as exc:
        service.record_sso_refusal(org_code, exc.reason, exc.issuer, exc.subject, **exc.detail)
        return _refused(str(exc))
    except (AuthlibBaseError, JoseError, RequestException, ValueError, KeyError) as exc:  # state, nonce, aud, exp...
        current_app.logger.info("sso sign-in failed for org %s: %s", org_code, type(exc).__name__)
        service.record_sso_failure(org_code, type(exc).__name__, provider.issuer if provider else None)
        return _refused("Sign-in could not be completed. Start again from the sign-in page.")
    if user is None:
        return _refused(
            "Your account has not been set up in the hub. Ask your organisation's hub administrator to add you."
        )
    return complete_sign_in(user.id, "sso", next_url)


def _with_email(client: FlaskOAuth2App, token: dict, claims: dict) -> dict:
    """Providers may keep e-mail out of the ID token (OIDC Core 5.4); then ask the UserInfo
    endpoint, and accept its answer only for the same subject (OIDC Core 5.3.2)."""
    if "email" in claims:
        return claims
    info = client.userinfo(token=token)
    if str(info.get("sub")) != str(claims.get("sub")):
        raise SsoRefused("The sign-in provider's answers did not match.", "sso-userinfo-subject-mismatch",
                         client.server_metadata.get("issuer"), str(claims.get("sub") or "")[:255])
    return {**claims, "email": info.get("email"), "email_verified": info.get("email_verified")}


def _refused(message: str):
    session.pop("sso_next", None)
    return render_template("auth/sso_refused.html", message=message), 403
