"""Every HTTP request the hub makes to another system goes through here (ASVS V13.2.4, V1.3.6):
the SSO providers' discovery, token, JWKS and UserInfo endpoints (hub.auth.sso) and the audit log's
witnesses (hub.audit.witnessing). E-mail goes to the SMTP relay the operator names in HUB_SMTP_*,
not over HTTP.

    HUB_OUTBOUND_HOSTS   comma-separated hosts the hub may call: `host` (any port) or `host:port`,
                         an IPv6 address bare (`::1`) or in brackets with a port (`[::1]:8443`).
                         Default: this machine's loopback (`localhost,127.0.0.1,::1`) in
                         development and testing, for the demo's witnesses and the tests' own
                         providers; nothing in production.

Two checks, made on each request, redirects included (each hop is a request of its own):

1. The URL's host and port must be listed, or nothing is sent and no name is looked up. An
   administrator can only save an SSO issuer whose host is listed (hub.admin.service.set_sso), and
   a witness not listed stops start-up; the check at run time also covers what a provider's
   discovery document names (its token and JWKS endpoints) and any redirect.
2. Every address the host resolves to must be a public one, unless that address is itself listed.
   A listed name whose DNS record points at 169.254.169.254 (the cloud metadata service, which
   hands out the host's credentials), at the loopback (the database, the hub's own ports) or at a
   private network would make the hub a proxy into the network it sits in. The check is made on
   the address the socket then connects to, so a second DNS answer (rebinding) cannot slip past.

A refusal raises OutboundRefused, a requests.ConnectionError, so callers treat it as a system that
could not be reached, and is logged with the host, port and reason: never the path or query.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError

from hub.config import ConfigurationError
from hub.extensions import app_state

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(requests.ConnectionError):
    """A request to a host HUB_OUTBOUND_HOSTS does not allow; the message names the host only."""


class _AddressRefused(Exception):
    """Raised under urllib3 (not an OSError, so it is neither retried nor wrapped) and turned
    into OutboundRefused by the adapter."""


@dataclass(frozen=True)
class Allowlist:
    #: (host, port): a lower-case name or an address's canonical text; port None for any.
    hosts: frozenset[tuple[str, int | None]] = frozenset()

    def permits(self, host: str, port: int) -> bool:
        name = canonical_host(host)
        return (name, port) in self.hosts or (name, None) in self.hosts

    def permits_address(self, address: IPAddress) -> bool:
        """A public address, or one listed: a listed name resolving elsewhere is refused. (An
        IPv4-mapped IPv6 address is never global, so ::ffff:127.0.0.1 is refused as 127.0.0.1 is.)"""
        return (address.is_global and not address.is_multicast) or any(host == str(address) for host, _ in self.hosts)

    def permits_url(self, url: str) -> bool:
        host, port = _host_and_port(url)
        return port is not None and self.permits(host, port)

    def check_url(self, url: str) -> tuple[str, int]:
        """The URL's host and port, or OutboundRefused (logged) when they are not listed."""
        host, port = _host_and_port(url)
        if port is None or not self.permits(host, port):
            raise _refused(host, port or 0, "host not in HUB_OUTBOUND_HOSTS")
        return host, port


def _host_and_port(url: str) -> tuple[str, int | None]:
    """The URL's host and port (the scheme's default when none is given); port None for a URL
    that is not http or https, has no host, or has a port that is not a number."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in DEFAULT_PORTS or not host:
        return host, None
    try:
        return host, parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return host, None


def canonical_host(host: str) -> str:
    """The form hosts are compared in: an address's canonical text, a name in lower case without
    its trailing dot."""
    text = host.strip().strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def parse(text: str) -> Allowlist:
    """HUB_OUTBOUND_HOSTS read, or ConfigurationError naming the entry that is not a host."""
    hosts = set()
    for item in (text or "").split(","):
        if item.strip():
            hosts.add(_entry(item.strip().lower()))
    return Allowlist(frozenset(hosts))


def _entry(item: str) -> tuple[str, int | None]:
    try:
        host, port = _split(item)
        return _host(host), _port(port)
    except ValueError as exc:
        raise ConfigurationError(
            f"HUB_OUTBOUND_HOSTS holds {item!r}, which is not a host or host:port (no scheme, path or wildcard)"
        ) from exc


def _split(item: str) -> tuple[str, str]:
    """Host and port text: `[IPv6]` or `[IPv6]:port`, a bare IPv6 address (any port), `host[:port]`."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(item)
        return host, rest[1:]
    if item.count(":") > 1:
        return item, ""
    host, _, port = item.partition(":")
    return host, port


def _host(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        name = text.rstrip(".")
        if len(name) > 253 or not _HOST_NAME.fullmatch(name):
            raise
        return name


def _port(text: str) -> int | None:
    """Empty: any port; otherwise 1 to 65535 ("x" and "0" are refused)."""
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(text)
    return int(text)


def _refused(host: str, port: int, reason: str) -> OutboundRefused:
    # The host, port and reason only: a path or query may carry a code, a token or an origin.
    log.warning("outbound request refused: %s port %s: %s", host, port, reason)
    return OutboundRefused(f"{host}: {reason}")


def init_app(app: Flask) -> None:
    """HUB_OUTBOUND_HOSTS of app.config["HUB"]; a wrong entry stops start-up."""
    app.extensions["hub_outbound"] = parse(app.config["HUB"].outbound_hosts)


def allowlist() -> Allowlist:
    return app_state("hub_outbound")


# --- the one way out ------------------------------------------------------------------------------


class _CheckedAddress:
    """A urllib3 connection that resolves its host itself, refuses the lot when any address is
    neither public nor listed, and connects only to the addresses it checked."""

    allowed: Allowlist

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            found = socket.getaddrinfo(name, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found))
        if not all(self.allowed.permits_address(a) for a in addresses):
            raise _AddressRefused(f"{name} resolves to an address that is not public and not listed")
        for address in addresses[:-1]:
            try:
                return self._connect_checked(name, address)
            except OSError:  # NewConnectionError and the like: try the next address
                continue
        return self._connect_checked(name, addresses[-1])

    def _connect_checked(self, name: str, address: IPAddress) -> socket.socket:
        self._dns_host = str(address)  # TLS still checks the certificate against the name
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


def _pool_classes(allowed: Allowlist) -> dict[str, type]:
    http = type("CheckedHTTPConnection", (_CheckedAddress, HTTPConnection), {"allowed": allowed})
    https = type("CheckedHTTPSConnection", (_CheckedAddress, HTTPSConnection), {"allowed": allowed})
    return {
        "http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


class CheckedAdapter(HTTPAdapter):
    """requests' adapter with both checks: the URL before anything is sent, the addresses as the
    connection is made. Through a proxy the environment names (HTTPS_PROXY) the proxy resolves
    the name, and its own rules must refuse internal addresses (README, "Running in production")."""

    def __init__(self, allowed: Allowlist):
        self.allowed = allowed
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allowed)

    def send(self, request: requests.PreparedRequest, *args, **kwargs) -> requests.Response:
        host, port = self.allowed.check_url(request.url)
        try:
            return super().send(request, *args, **kwargs)
        except _AddressRefused as exc:
            raise _refused(host, port, "resolves to an address that is not public and not listed") from exc


def guard(session: requests.Session) -> requests.Session:
    """The session with every http and https request through CheckedAdapter and the app's
    HUB_OUTBOUND_HOSTS."""
    adapter = CheckedAdapter(allowlist())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def session() -> requests.Session:
    """A new requests session for calling another system."""
    return guard(requests.Session())
