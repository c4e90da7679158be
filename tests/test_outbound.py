"""The hub calls only the hosts HUB_OUTBOUND_HOSTS lists (hub/outbound.py; docs/security.md V13.2.4,
V1.3.6): a URL on another host, or a listed name that resolves to an internal address not itself
listed, gets nothing sent, and the refusal is logged with the host and never the path or query.
Against real servers on loopback."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from hub import create_app, db, outbound
from hub.auth import sso
from hub.config import ConfigurationError, load_settings
from hub.witness.__main__ import init
from tests.support import pysource
from tests.support.http import start_recording

HUB = Path(__file__).resolve().parents[1] / "hub"
#: Clients that open connections of their own; only hub/outbound.py may use them.
HTTP_CLIENTS = ("httpx", "urllib.request", "http.client", "urllib3", "aiohttp", "pycurl")


@pytest.fixture
def server():
    started = start_recording(body="answered")
    yield started
    started.stop()


@pytest.fixture
def allowing(database_url, monkeypatch):
    """An app started with this HUB_OUTBOUND_HOSTS; its calls are made in its context."""
    apps = []

    def start(hosts: str, **env: str):
        with monkeypatch.context() as started:
            for name, value in {"OUTBOUND_HOSTS": hosts, **env}.items():
                started.setenv(f"HUB_{name}", value)
            app = create_app({"env": "testing", "database_url": database_url})
        apps.append(app)
        return app

    yield start
    db.session.remove()
    for app in apps:
        app.extensions["hub_engine"].dispose()


def _get(app, url: str):
    with app.app_context(), outbound.session() as http:
        return http.get(url, timeout=5)


def test_a_listed_host_is_called(allowing, server):
    response = _get(allowing(f"127.0.0.1:{server.port}"), f"{server.url}/checkpoint")
    assert (response.status_code, response.text) == (200, "answered")
    assert server.hits == ["/checkpoint"]


@pytest.mark.parametrize("target", ["server", "metadata service", "private network", "other port"])
def test_a_host_not_listed_gets_nothing_and_the_refusal_is_logged_without_the_path(allowing, server, caplog,
                                                                                   target):
    url = {"server": f"{server.url}/secret-path?code=abc123",
           "metadata service": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
           "private network": "https://10.0.0.7:5101/checkpoint",
           "other port": f"http://127.0.0.1:{server.port + 1}/"}[target]
    app = allowing("idp.example.test, 127.0.0.1:1")
    with caplog.at_level(logging.WARNING, logger="hub.outbound"), pytest.raises(outbound.OutboundRefused):
        _get(app, url)
    assert server.hits == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "not in HUB_OUTBOUND_HOSTS" in logged
    assert "secret-path" not in logged and "abc123" not in logged and "meta-data" not in logged


def test_a_listed_name_that_resolves_to_an_address_not_listed_is_refused(allowing, server, caplog):
    """`localhost` is on the list, its loopback address is not: as a listed name whose DNS points
    at the metadata service or the database would be, it is refused before connecting."""
    with caplog.at_level(logging.WARNING, logger="hub.outbound"), pytest.raises(outbound.OutboundRefused):
        _get(allowing("localhost"), f"http://localhost:{server.port}/")
    assert server.hits == []
    assert "not public and not listed" in " ".join(r.getMessage() for r in caplog.records)
    # Listing the address too is the operator's explicit word that this internal host may be called.
    assert _get(allowing("localhost, 127.0.0.1, ::1"), f"http://localhost:{server.port}/").text == "answered"
    assert server.hits == ["/"]


def test_a_redirect_from_a_listed_host_to_one_not_listed_is_refused(allowing, server):
    redirector = start_recording(status=302, headers={"Location": f"{server.url}/elsewhere"})
    try:
        with pytest.raises(outbound.OutboundRefused):
            _get(allowing(f"127.0.0.1:{redirector.port}"), f"{redirector.url}/start")
        assert (redirector.hits, server.hits) == (["/start"], [])
    finally:
        redirector.stop()


@pytest.mark.parametrize("entry", ["https://idp.example.org", "*.example.org", "idp.example.org/oidc",
                                   "idp.example.org:0", "idp.example.org:https", "[::1]8443"])
def test_an_entry_that_is_not_a_host_stops_start_up(allowing, entry):
    with pytest.raises(ConfigurationError, match="HUB_OUTBOUND_HOSTS"):
        allowing(f"localhost, {entry}")


def test_entries_name_a_host_on_any_port_or_on_one():
    listed = outbound.parse("IDP.Example.org, witness.example.net:8443, ::1, [fd00::7]:443")
    assert listed.permits_url("https://idp.example.org/.well-known/openid-configuration")
    assert listed.permits_url("http://idp.example.org.:8080/")
    assert listed.permits_url("https://witness.example.net:8443/checkpoint")
    assert not listed.permits_url("https://witness.example.net/checkpoint")
    assert listed.permits_url("http://[::1]:5101/") and listed.permits_url("https://[fd00::7]/")
    assert not listed.permits_url("http://[fd00::7]/") and not listed.permits_url("ftp://idp.example.org:21/")


def test_a_witness_not_listed_stops_start_up(allowing, tmp_path):
    vkey = init(tmp_path / "witness", "police.example.test/witness").vkey
    with pytest.raises(ConfigurationError, match="witness.police.example.test is not in HUB_OUTBOUND_HOSTS"):
        allowing("idp.example.test", AUDIT_WITNESSES=f"https://witness.police.example.test {vkey}")
    assert allowing("witness.police.example.test:443", AUDIT_WITNESSES=f"https://witness.police.example.test {vkey}")


def test_production_allows_nothing_until_the_operator_lists_it_and_development_its_loopback(monkeypatch, tmp_path):
    monkeypatch.delenv("HUB_OUTBOUND_HOSTS", raising=False)
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    monkeypatch.setenv("HUB_BASE_URL", "https://hub.example.test")
    assert outbound.parse(load_settings(tmp_path, {"env": "production"}).outbound_hosts).hosts == frozenset()
    development = outbound.parse(load_settings(tmp_path, {"env": "development"}).outbound_hosts)
    assert development.permits_url("http://127.0.0.1:5101") and development.permits_url("http://localhost:5102")
    assert not development.permits_url("https://login.example.org")


def _own_connections(path: Path) -> list[str]:
    """What a module uses to reach another system without hub.outbound: an HTTP client module,
    or a requests function or Session (its exceptions are fine)."""
    found = []
    for node in ast.walk(pysource.parse_file(path)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom)
                 else [f"requests.{node.attr}"] if isinstance(node, ast.Attribute)
                 and isinstance(node.value, ast.Name) and node.value.id == "requests" else [])
        found += [n for n in names if n.startswith(HTTP_CLIENTS) or (
            n.startswith("requests.") and not n.endswith(("Exception", "Error", "Timeout")))]
    return [f"{path.relative_to(HUB.parent)}: {name}" for name in found]


def test_no_module_but_hub_outbound_opens_a_connection_to_another_system_of_its_own():
    """A new call to another system cannot go round the list: it has to use hub.outbound; and
    authlib's SSO client makes its requests through hub.outbound's adapter."""
    offenders = [o for path in sorted(HUB.rglob("*.py")) if path.name != "outbound.py"
                 for o in _own_connections(path)]
    assert offenders == []
    assert issubclass(sso.ProviderClient.client_cls, sso.CheckedOAuth2Session)
    assert _own_connections(HUB / "outbound.py")  # the check sees what the one way out uses
