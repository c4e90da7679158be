"""The application factory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from sqlalchemy.exc import SQLAlchemyError

from hub import crypto, db, extensions, home, outbound, web
from hub.admin.views import bp as admin_bp
from hub.api import oauth
from hub.api.views import bp as api_bp
from hub.audit import alarms, witnessing
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.auth import service as auth_service
from hub.auth import sessions as auth_sessions
from hub.auth.sso import bp as sso_bp
from hub.auth.views import bp as auth_bp
from hub.child_record import bp as people_bp
from hub.cli import register
from hub.config import load_settings
from hub.consent.views import bp as consent_bp
from hub.dpo import alarms as dpo_alarms
from hub.dpo.views import bp as audit_bp
from hub.erasure.views import bp as erasure_bp
from hub.extensions import csrf, login_manager
from hub.mace.views.actions import bp as mace_actions_bp
from hub.mace.views.groups import bp as mace_bp
from hub.mace.views.meetings import bp as mace_meetings_bp
from hub.mace.views.subjects import bp as mace_subjects_bp
from hub.missing.imports.views import bp as missing_import_bp
from hub.missing.views import bp as missing_bp
from hub.notifications.views import bp as notifications_bp
from hub.permissions import dpo as permissions_dpo
from hub.reports.views import bp as reports_bp
from hub.reports.views import returns_bp as reports_returns_bp
from hub.retention.views import bp as retention_bp
from hub.sharing.views import bp as sharing_bp
from hub.subject_access.views import bp as subject_access_bp
from hub.web import bp as core_bp


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    settings = load_settings(Path(app.instance_path), test_config)
    app.config.update(
        HUB=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        # Cookies: HttpOnly, SameSite=Lax, Secure and the __Host- prefix outside local development.
        SESSION_COOKIE_NAME="__Host-hub-session" if settings.production else "hub-session",
        SESSION_COOKIE_SECURE=settings.production,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.absolute_timeout_hours),
        REMEMBER_COOKIE_DURATION=timedelta(seconds=0),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session; sessions end server-side
        TESTING=settings.env == "testing",
    )
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if k.isupper()})
    if settings.production:
        # Flask takes debug mode from FLASK_DEBUG at start: never in production, whatever is set.
        app.debug = False

    # Each module reads its own settings from app.config["HUB"] and keeps what it derives (keys,
    # hashers) in app.extensions; a wrong key, outbound host or witness list stops start-up here.
    for module in (crypto, audit_keys, outbound, witnessing, auth_service):
        module.init_app(app)
    audit_integrator.use_event_scope(permissions_dpo.event_organisations)
    alarms.use_mailer(dpo_alarms.email_hub_dpos)
    engine = db.make_engine(settings.database_url)
    app.extensions["hub_engine"] = engine
    db.bind(engine)
    extensions.bind(app)  # code outside an app context (tests, worker threads) reads this app's settings

    _templates(app)
    login_manager.init_app(app)
    login_manager.user_loader(auth_sessions.load_session)
    web.init_app(app)  # sign-in check first: an anonymous POST is sent to sign in, not told about CSRF
    home.init_app(app)
    csrf.init_app(app)
    _blueprints(app)
    _commands(app)

    @app.teardown_appcontext
    def _remove_session(_exc):
        # The connection may have died under the request (a database restarted, a connection
        # ended): its rollback then fails, and an answer already made must not become the
        # server's bare 500 (proof.faults found it). The session is dropped either way.
        try:
            db.session.remove()
        except SQLAlchemyError:
            app.logger.warning("the database connection was lost as a request ended")
            db.session.registry.clear()

    return app


def _templates(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader([
        PackageLoader("hub", "templates"),
        PrefixLoader({
            "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
            "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
        }),
    ])
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    WTFormsHelpers(app)


def _blueprints(app: Flask) -> None:
    for bp in (core_bp, auth_bp, sso_bp, people_bp, sharing_bp, consent_bp, admin_bp, audit_bp, missing_bp,
               missing_import_bp, notifications_bp, api_bp, subject_access_bp, mace_bp, mace_meetings_bp,
               mace_subjects_bp, mace_actions_bp, reports_bp, reports_returns_bp, retention_bp, erasure_bp):
        app.register_blueprint(bp)
    # The API takes no cookies (bearer tokens only), so cross-site request forgery cannot reach it.
    csrf.exempt(api_bp)
    oauth.init_app(app)


def _commands(app: Flask) -> None:
    register(app)
