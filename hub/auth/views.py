"""Sign-in pages: password, then a second factor (or enrolment of one), then a fresh session."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from hub.auth import initial_passwords, password_change, service
from hub.auth import organisations as auth_organisations
from hub.auth import second_factor as auth_second_factor
from hub.auth import sessions as auth_sessions
from hub.auth import sso_accounts as auth_sso_accounts
from hub.auth.forms import ChangePasswordForm, ConfirmForm, EnrolForm, SecondFactorForm, SignInForm
from hub.models.auth import User
from hub.web import client_address, public

bp = Blueprint("auth", __name__, url_prefix="/auth")

PENDING_SECONDS = 300  # between a correct password and the second factor
#: All that someone signed in with an initial password may open until they have chosen their own.
OPEN_BEFORE_OWN_PASSWORD = frozenset({"auth.change_password", "auth.sign_out", "static"})


def safe_next(target: str | None) -> str:
    """Only same-site paths: an attacker's link cannot bounce a user off-site after sign-in."""
    # No backslash: some browsers read "/\\host" as "//host", another site.
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not urlsplit(target).netloc):
        return target
    return url_for("core.home")


def complete_sign_in(user_id: int, method: str, next_url: str | None = None):
    """Clear everything from before sign-in (no session fixation), then start a new session."""
    session.clear()
    user, _row = auth_sessions.start_session(user_id, method)
    login_user(user, remember=False)
    return redirect(safe_next(next_url))


def _pending_user() -> User | None:
    user_id, since = session.get("pending_user"), session.get("pending_at", 0)
    if not user_id or time.time() - since > PENDING_SECONDS:
        return None
    return auth_second_factor.signing_in_user(user_id)


@bp.before_app_request
def _own_password_first():
    """ASVS V6.4.1: after their second factor (or setting one up), someone who signed in with the
    initial password the hub issued them is sent to choose their own, from every page of the hub,
    until they have. The API is not theirs: its callers are agency systems with tokens."""
    if request.endpoint in OPEN_BEFORE_OWN_PASSWORD or request.path.startswith("/api/"):
        return None
    if not current_user.is_authenticated:
        return None
    if initial_passwords.must_choose(current_user):
        return redirect(url_for("auth.change_password"))
    return None


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        result = service.check_password(form.email.data, form.password.data, client_address())
        if result.status == "ok":
            session.clear()
            session["pending_user"] = result.user.id
            session["pending_at"] = time.time()
            session["next"] = safe_next(request.args.get("next"))
            if result.user.totp_confirmed_at:
                return redirect(url_for("auth.second_factor"))
            return redirect(url_for("auth.enrol"))
        error = {
            "wrong": "The e-mail address or password is not right",
            # The same words whether or not the e-mail has an account (README, Signing in).
            "locked": "Too many wrong attempts for this e-mail address: wait 15 minutes and try again",
            "throttled": "Too many wrong attempts from this network: wait 15 minutes and try again",
            "expired": "This initial password has expired: ask your administrator for a new one",
        }[result.status]
        form.password.errors = [error]
    sso_orgs = [p.organisation for p in auth_sso_accounts.enabled_sso_providers()]
    return render_template("auth/sign_in.html", form=form, error=error, sso_orgs=sso_orgs)


@bp.route("/two-factor", methods=["GET", "POST"])
@public
def second_factor():
    user = _pending_user()
    if user is None:
        flash("Your sign-in took too long. Sign in again.", "info")
        return redirect(url_for("auth.sign_in"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        outcome = auth_second_factor.check_second_factor(user.id, form.code.data, client_address())
        if outcome in ("ok", "ok-recovery"):
            method = "password+totp" if outcome == "ok" else "password+recovery-code"
            return complete_sign_in(user.id, method, session.get("next"))
        if outcome == "locked":
            session.clear()
            flash("Too many wrong attempts: this account is locked for 15 minutes", "error")
            return redirect(url_for("auth.sign_in"))
        form.code.errors = [{
            "replayed": "That code has already been used: wait for the next code",
            "wrong": "The security code is not right",
        }[outcome]]
    return render_template("auth/second_factor.html", form=form)


@bp.route("/two-factor/set-up", methods=["GET", "POST"])
@public
def enrol():
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.sign_in"))
    if user.totp_confirmed_at:
        return redirect(url_for("auth.second_factor"))
    secret = auth_second_factor.opened_secret(session.get("enrol_secret")) or auth_second_factor.new_totp_secret()
    session["enrol_secret"] = auth_second_factor.sealed_secret(secret)
    form = EnrolForm()
    if form.validate_on_submit():
        codes = auth_second_factor.enrol_totp(user.id, secret, form.code.data)
        if codes is not None:
            next_url = session.get("next")
            complete_sign_in(user.id, "password+totp", next_url)
            return render_template("auth/recovery_codes.html", codes=codes, next_url=safe_next(next_url))
        form.code.errors = ["The security code is not right: check your app shows the hub and try again"]
    uri = auth_second_factor.totp_uri(user, secret)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return render_template("auth/enrol.html", form=form, secret=secret, qr=qr)


@bp.route("/sign-out", methods=["GET", "POST"])
@public
def sign_out():
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        if current_user.is_authenticated:
            auth_sessions.sign_out(current_user)
        logout_user()
        session.clear()
        flash("You have signed out.", "success")
        return redirect(url_for("auth.sign_in"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/sign_out.html", form=form)


@bp.route("/account", methods=["GET", "POST"])
def account():
    form = ConfirmForm()
    if form.validate_on_submit():
        count = auth_sessions.end_all_sessions(current_user, "sign-out-everywhere")
        logout_user()
        session.clear()
        flash(f"You have signed out everywhere ({count} session{'s' if count != 1 else ''} ended).", "success")
        return redirect(url_for("auth.sign_in"))
    sso = auth_organisations.sso_provider_for(current_user.organisation_id)
    return render_template("auth/account.html", form=form, sso=sso,
                           has_password=password_change.has_password(current_user))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    form = ChangePasswordForm()
    first = initial_passwords.must_choose(current_user)
    if first:
        form.current.label.text = "The initial password your administrator gave you"
    if form.validate_on_submit():
        if form.new.data != form.confirm.data:
            form.confirm.errors = ["The two new passwords are not the same"]
        else:
            errors = password_change.change_password(current_user, form.current.data, form.new.data,
                                                     client_address())
            if not errors and first:
                flash("Your password is now your own. Only you know it.", "success")
                return redirect(url_for("core.home"))
            if not errors:
                flash("Your password has changed. Your other sessions have ended.", "success")
                return redirect(url_for("auth.account"))
            for field, message in errors.items():
                getattr(form, field).errors = [message]
    return render_template("auth/change_password.html", form=form, first=first)
