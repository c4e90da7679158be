"""What every page shares: secure-by-default routing, security headers, errors (the home page and
the menu's counts are hub.home's, which stands above the features it counts).

Every route needs a signed-in user unless its view is marked `@public`; a test walks the URL map
to prove it. Every response gets strict security headers and `Cache-Control: no-store`.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import wraps
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from hub import db, request_text
from hub.audit.context import Origin, current_origin, new_request_id, set_origin
from hub.audit.service import record_refusal
from hub.errors import HubError
from hub.models.auth import User
from hub.permissions import Capabilities

bp = Blueprint("core", __name__)
LONDON = ZoneInfo("Europe/London")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def public(view):
    """Mark a view as reachable without signing in (sign-in pages, health, public key)."""
    view.hub_public = True
    return view


def personal_data(view):
    """Mark a page that shows personal data. Its service calls must write an audit event for the
    read; tests/test_audit_coverage.py requests every marked page and fails if none is written,
    and fails on any GET page that is neither marked nor listed as showing no personal data."""
    view.hub_personal_data = True
    return view


def requires(may: Callable[[User | None], bool]):
    """Page-level guard: the user must have the capability (a `may_*` answer of hub.permissions,
    never a role test written here), else a 403 and the refusal audited. Services still check
    the object."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not may(actor()):
                record_refusal(actor(), "page", request.endpoint)
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def init_app(app: Flask) -> None:
    app.before_request(_start_request)
    app.before_request(_refuse_control_characters)
    app.before_request(_require_sign_in)
    app.after_request(_security_headers)
    app.register_error_handler(HubError, _hub_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.context_processor(_template_globals)
    app.add_template_filter(lambda data: __import__("base64").b64encode(data).decode(), "b64")
    app.add_template_filter(london, "london")
    app.add_template_filter(long_date, "long_date")


#: The one way the hub shows a moment: London time (BST or GMT as it was), "7 Dec 2026 01:50".
LONDON_FORMAT = "%-d %b %Y %H:%M"


def london(moment: datetime | str | None, fmt: str = LONDON_FORMAT) -> str:
    """A stored (UTC) time as people in England read it: Europe/London, BST or GMT as it was. Takes
    the ISO 8601 text some records keep (a signed tree head's "2026-12-07T01:50:34Z") as well."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LONDON).strftime(fmt)


def long_date(day) -> str:
    """A calendar date (a date of birth, a closure day) as people write it: 27 March 2012."""
    return f"{day:%-d %B %Y}" if day is not None else ""


def _start_request() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)
    # Anyone can send an X-Request-Id: only a trusted proxy's is written to the audit log and echoed.
    offered = request.headers.get("X-Request-Id", "")[:64] if _from_trusted_proxy() else ""
    g.request_id = offered if _REQUEST_ID.fullmatch(offered) else new_request_id()
    g.client_address = _client_address()
    set_origin(Origin(
        request_id=g.request_id,
        client_address=g.client_address,
        user_agent=request.headers.get("User-Agent"),
        channel="web",
    ))


def _refuse_control_characters():
    """One place, before any view: a request holding NUL or another control character anywhere
    the hub reads text (path, query, form fields, file names, headers) is refused with a 400 and
    the refusal audited with the endpoint and never the value (hub.request_text says what is
    refused where). JSON bodies are checked where the API parses them (hub.api.views)."""
    place = request_text.refused_place(request)
    if place is None:
        return None
    if place == "header":  # the refusal's own audit event must not carry the header either
        set_origin(replace(current_origin(), user_agent=None))
    refuse_request_text()
    return _render_error(
        400, "Your request could not be read",
        f"{_TEXT_PLACES[place]} holds a control character (one can come along when text is pasted), which the "
        "hub cannot take. Go back, type that text again and send it again.")


_TEXT_PLACES = {"path": "The web address", "query": "The web address", "header": "A header of the request",
                "form": "Something you typed in the form", "file name": "The name of a file you sent"}


def refuse_request_text(who=None) -> None:
    """Audit a request refused for its characters: the endpoint, and nothing it held. `who`: the
    API's client when it is known; else the signed-in user, if any."""
    if who is None and current_user.is_authenticated and not request.path.startswith("/api/"):
        who = actor()  # the API never takes the session cookie, so it names no user
    record_refusal(who, "control-characters", request.endpoint,
                   action="read" if request.method in ("GET", "HEAD") else "update")


def _trusted_proxies() -> frozenset[str]:
    return current_app.config["HUB"].trusted_proxies


def _from_trusted_proxy() -> bool:
    return _canonical(request.remote_addr) in _trusted_proxies()


def _client_address() -> str | None:
    """The address that sent the request: the peer itself, or, when the peer is a trusted proxy,
    the nearest address in X-Forwarded-For that is not one of our proxies (those further left
    are whatever the client chose to write)."""
    address = request.remote_addr
    if not _from_trusted_proxy():
        return address
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = _canonical(hop.strip())
        if hop is None:
            break
        address = hop
        if hop not in _trusted_proxies():
            break
    return address


def _canonical(address: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None


def client_address() -> str | None:
    """The client's address for this request (throttling, audit)."""
    return g.get("client_address", request.remote_addr)


def _is_public(endpoint: str | None, app: Flask) -> bool:
    if endpoint is None or endpoint == "static":
        return True
    view = app.view_functions.get(endpoint)
    # An API view authenticates its own caller by bearer token (hub.api.oauth.api_auth), not
    # by session: it is not public, and tests/test_security.py proves it refuses no token.
    return bool(getattr(view, "hub_public", False) or getattr(view, "hub_api_auth", False))


def _require_sign_in():
    if _is_public(request.endpoint, current_app):
        return None
    if current_user.is_authenticated:
        return None
    if request.path.startswith("/api/"):
        return _render_error(401, "Sign-in required", "Send an access token: Authorization: Bearer <token>",
                             {"WWW-Authenticate": 'Bearer realm="hub-api"'})
    return redirect(url_for("auth.sign_in", next=request.full_path if request.query_string else request.path))


def _security_headers(response):
    nonce = g.get("csp_nonce", "")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint != "static":
        # Pages may show a child's details: no browser or proxy may keep a copy.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    if g.get("request_id"):
        response.headers["X-Request-Id"] = g.request_id
    return response


def _template_globals() -> dict:
    return {
        "csp_nonce": g.get("csp_nonce", ""),
        "demo_mode": current_app.config["HUB"].demo,
        "may": _capabilities,
    }


def _capabilities() -> Capabilities:
    """What the signed-in user's roles let them do (hub.permissions), once a request: the menu and
    pages ask this, never a role."""
    if "capabilities" not in g:
        g.capabilities = Capabilities.of(actor() if current_user.is_authenticated else None)
    return g.capabilities


def _render_error(status: int, title: str, message: str, headers: dict[str, str] | None = None):
    if request.path.startswith("/api/"):
        # RFC 9457 problem details: an agency system never gets an HTML page.
        body = {"type": "about:blank", "title": title, "status": status, "detail": message,
                "instance": request.path}
        return jsonify(body), status, {**(headers or {}), "Content-Type": "application/problem+json"}
    return render_template("error.html", status=status, title=title, message=message), status


def _hub_error(exc: HubError):
    titles = {404: "Page not found", 403: "You cannot do this", 400: "There is a problem"}
    messages = {
        404: "The page or record was not found, or you do not have a reason to see it. "
             "If you think you should, ask your organisation's hub administrator.",
    }
    return _render_error(exc.status, titles.get(exc.status, "There is a problem"), messages.get(exc.status, str(exc)))


def _csrf_error(exc: CSRFError):
    # Like every refusal, on record: the form's endpoint only, never what the form carried.
    record_refusal(actor() if current_user.is_authenticated else None, "csrf", request.endpoint, action="update")
    return _render_error(
        400, "Your form could not be sent",
        "The page was open too long or was sent from somewhere else. Go back, reload the page and try again.",
    )


def _http_error(exc: HTTPException):
    messages = {
        404: "If you typed the web address, check it is correct.",
        403: "Your role does not let you see this page.",
        413: "The file or form you sent is too large.",
        405: "That action is not available here.",
    }
    # Keep what the protocol needs (Allow on a 405, WWW-Authenticate on a 401).
    headers = {k: v for k, v in exc.get_headers() if k in ("Allow", "WWW-Authenticate")}
    return _render_error(exc.code or 500, exc.name, messages.get(exc.code, exc.description or ""), headers)


def _unexpected_error(exc: Exception):
    # Logged with the request id only; hide_parameters keeps SQL values out of the message.
    current_app.logger.exception("unexpected error in request %s", g.get("request_id"))
    # Only a failed change can say nothing was saved: a page that fails to open (often the one a
    # saved change redirects to, whose "Saved" message shows above this) changed nothing itself.
    if request.method in ("GET", "HEAD", "OPTIONS"):
        message = "This page could not be shown. Try again later."
    else:
        message = "Nothing you sent has been saved. Try again later."
    title, message = "Sorry, there is a problem with the service", f"{message} Reference: {g.get('request_id', '')}"
    # A database restarted or a connection ended leaves the session's transaction unusable, and
    # the page's menu reads the user's counts: roll back first, so the menu reads on a fresh
    # connection (proof.faults found the server's bare "Internal Server Error" instead).
    _roll_back()
    try:
        return _render_error(500, title, message)
    except Exception:  # noqa: BLE001 - the database is still out of reach: the page without the menu
        current_app.logger.warning("error page without its menu in request %s", g.get("request_id"))
        _roll_back()
        # Nor the user: flask-login's template context loads them from the database when the
        # failure came before they were read (signing the session in is the first query).
        if "_login_user" not in g:
            g._login_user = current_app.login_manager.anonymous_user()
        return render_template("error.html", status=500, title=title, message=message, without_menu=True), 500


def _roll_back() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - nothing to roll back on a connection already gone
        current_app.logger.warning("rollback failed in request %s", g.get("request_id"))


@bp.route("/health")
@public
def health():
    db.session().execute(text("SELECT 1"))
    return jsonify(status="ok")


def apply_errors(form, exc) -> None:
    """Show a service's Invalid errors against the form's fields (or the whole form)."""
    for name, message in exc.errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors or []) + [message]
        else:
            form.form_errors.append(message)


def actor():
    """The signed-in user as a plain object, to hand to services."""
    return current_user._get_current_object()
