"""Flask extensions, created here and initialised in create_app(); and the way a module finds
the app whose settings (app.config["HUB"]) and state (app.extensions) it reads."""

from __future__ import annotations

from flask import Flask, current_app, has_app_context
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from hub.config import HubSettings

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Sign in to continue."
login_manager.login_message_category = "info"
# Sessions are checked server-side on every request (hub.auth.sessions.load_session, the user loader
# hub.app hands to it: this module sits below every package), which is
# stronger than flask-login's IP/agent fingerprint and survives a mobile network change.
login_manager.session_protection = None


#: The app that code running outside any app context reads its settings from: the tests' direct
#: calls of services and the delivery worker's threads. It is the app whose engine the database
#: session is bound to (hub.db.bind), which such code already uses; inside an app context the
#: context's own app answers.
_bound: dict[str, Flask] = {}


def bind(app: Flask) -> None:
    _bound["app"] = app


def hub_app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()
    if "app" not in _bound:
        raise RuntimeError("no hub app: create_app() has not run in this process")
    return _bound["app"]


def hub_settings() -> HubSettings:
    return hub_app().config["HUB"]


def app_state(name: str):
    """What the module `name` belongs to put in app.extensions in its init_app."""
    return hub_app().extensions[name]
