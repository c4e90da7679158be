"""Starts tests/sso/provider.mjs (oidc-provider on loopback) and drives its login over HTTP, and the
hub's side of a sign-in through it (the police force POL01 of tests/sso/conftest.py)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from sqlalchemy import select

from hub import db
from hub.models.audit import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")


@dataclass
class OidcProvider:
    process: subprocess.Popen
    issuer: str

    def set_faults(self, faults: dict) -> None:
        requests.post(f"{self.issuer}/__control", data=json.dumps(faults), timeout=5).raise_for_status()

    def login(self, authorization_url: str, redirect_prefix: str) -> str:
        """Follow the provider's redirects (through its non-interactive login and consent) and
        return the URL it finally sends the browser to, without requesting it."""
        browser = requests.Session()
        url = authorization_url
        for _ in range(10):
            response = browser.get(url, allow_redirects=False, timeout=10)
            location = response.headers.get("Location")
            assert location, f"the provider stopped at {url}: {response.status_code} {response.text[:300]}"
            location = urljoin(url, location)
            if location.startswith(redirect_prefix):
                return location
            url = location
        raise AssertionError("too many redirects at the provider")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_provider(clients: list[dict], accounts: list[dict]) -> OidcProvider:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").exists():
        pytest.skip("node and node_modules/oidc-provider are needed for the SSO tests (make setup installs them)")
    env = {**os.environ, "OIDC_TEST_CONFIG": json.dumps({"clients": clients, "accounts": accounts})}
    process = subprocess.Popen([node, str(SCRIPT), "--port", "0"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = process.stdout.readline().strip()
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"the OIDC provider did not start: {line} {process.stderr.read()[:2000]}")
    return OidcProvider(process, line.split(" ", 1)[1])


SECRET = secrets.token_urlsafe(24)
CALLBACK = "http://localhost/auth/sso/POL01/callback"
ACCOUNTS = [
    {"sub": "alice-sub", "email": "alice@police.example.test", "email_verified": True, "name": "Alice"},
    {"sub": "bob-sub", "email": "bob@unprovisioned.example.test", "email_verified": True, "name": "Bob"},
    {"sub": "carol-sub", "email": "carol@school.example.test", "email_verified": True, "name": "Carol"},
    {"sub": "dave-sub", "email": "dave@police.example.test", "email_verified": False, "name": "Dave"},
]


def start_sign_in(client, login_hint: str):
    response = client.get(f"/auth/sso/POL01/start?login_hint={login_hint}")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def finish_sign_in(client, provider, login_hint: str, tamper=None):
    authorization_url = start_sign_in(client, login_hint)
    callback_url = provider.login(authorization_url, CALLBACK)
    if tamper:
        callback_url = tamper(callback_url)
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def assert_refused(response, message="Sign-in could not be completed"):
    assert response.status_code == 403
    assert message in response.get_data(as_text=True)


def refusal_details() -> list[dict]:
    details = db.session().scalars(select(AuditEvent.detail).where(
        AuditEvent.action == "sign-in", AuditEvent.outcome == "refused").order_by(AuditEvent.id)).all()
    return [json.loads(d) for d in details if d]
