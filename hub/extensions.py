"""Flask extensions, created here and initialised in create_app()."""

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Sign in to continue."
login_manager.login_message_category = "info"
# Sessions are checked server-side on every request (hub.auth.service.load_session), which is
# stronger than flask-login's IP/agent fingerprint and survives a mobile network change.
login_manager.session_protection = None


@login_manager.user_loader
def _load_user(token: str):
    from hub.auth.service import load_session

    return load_session(token)
