"""Settings live in each app's config: two apps in one process keep their own address, session
policy and keys (nothing a module holds for the process), and the keys `keys generate` prints
are ones a production hub starts with."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hub import create_app, crypto, db
from hub.auth import service as auth_service
from hub.config import load_settings
from hub.notifications import service as notifications


def _app(database_url: str, monkeypatch, **env: str):
    """An app started with these HUB_ variables, which are put back as they were after."""
    with monkeypatch.context() as started:
        for name, value in env.items():
            started.setenv(f"HUB_{name}", value)
        return create_app({"env": "testing", "database_url": database_url})


@pytest.fixture
def two_apps(database_url, monkeypatch):
    north = _app(database_url, monkeypatch, BASE_URL="https://north.example.test/", IDLE_TIMEOUT_MINUTES="5")
    south = _app(database_url, monkeypatch, BASE_URL="https://south.example.test", IDLE_TIMEOUT_MINUTES="50",
                 FIELD_KEYS=Fernet.generate_key().decode())
    yield north, south
    db.session.remove()
    for app in (north, south):
        app.extensions["hub_engine"].dispose()


def test_each_app_reads_its_own_address_and_session_policy(two_apps):
    north, south = two_apps
    with north.app_context():
        assert notifications.base_url() == "https://north.example.test"
        assert auth_service.session_policy().idle.total_seconds() == 5 * 60
    with south.app_context():
        assert notifications.base_url() == "https://south.example.test"
        assert auth_service.session_policy().idle.total_seconds() == 50 * 60
    # Outside any app context (a worker's thread, a test calling a service) the app last made answers.
    assert notifications.base_url() == "https://south.example.test"


def test_each_app_encrypts_with_its_own_keys(two_apps):
    north, south = two_apps
    with north.app_context():
        token = crypto.encrypt("Zoë")
        assert crypto.decrypt(token) == "Zoë"
        north_index = crypto.blind_index("name", "zoe")
    with south.app_context():
        with pytest.raises(RuntimeError, match="could not be decrypted"):
            crypto.decrypt(token)
        assert crypto.blind_index("name", "zoe") == north_index  # the same blind index key in both


def test_the_generated_keys_start_a_production_hub(runner, monkeypatch, tmp_path: Path):
    result = runner.invoke(args=["keys", "generate"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for line in lines[:3]:
        name, value = line.split("=", 1)
        monkeypatch.setenv(name, value)
    pem = tmp_path / "audit-signing-key.pem"
    pem.write_text("\n".join(lines[4:]) + "\n")
    monkeypatch.setenv("HUB_AUDIT_SIGNING_KEY", str(pem))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    monkeypatch.setenv("HUB_BASE_URL", "https://hub.example.test")
    settings = load_settings(tmp_path, {"env": "production"})
    assert settings.production and len(settings.field_keys) == 1 and len(settings.blind_index_key) == 32
    assert settings.audit_signing_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert not (tmp_path / "dev-secrets.json").exists()  # nothing generated in production
