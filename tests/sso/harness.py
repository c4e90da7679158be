"""Starts tests/sso/provider.mjs (oidc-provider on loopback) and drives its login over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

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
