"""A real SMTP server on loopback (aiosmtpd) for the delivery tests: it keeps what it accepts and
can refuse, stall or be down on request (the `smtp` and `stopped_smtp` fixtures of tests/conftest.py)."""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.notifications import delivery


class Recorder:
    """An aiosmtpd handler that keeps what it accepts and can refuse or stall on request."""

    def __init__(self) -> None:
        self.received: list[email.message.Message] = []
        self.rcpt_reply: str | None = None     # e.g. "550 ..." to refuse every recipient
        self.data_reply: str | None = None     # e.g. "554 ..." to refuse every message's content
        self.slow_rcpt = 0                     # how many RCPTs to stall before answering
        self.slow_data = 0                     # how many DATAs to keep, then stall before answering
        self.data_delay = 0.0                  # a small pause per message (two workers overlap)
        self.stall = 2.0
        self.stalling = 0

    async def _stall(self) -> None:
        self.stalling += 1
        try:
            await asyncio.sleep(self.stall)
        finally:
            self.stalling -= 1

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.slow_rcpt:
            self.slow_rcpt -= 1
            await self._stall()
        if self.rcpt_reply:
            return self.rcpt_reply.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        if self.slow_data:
            # Queued, but the reply comes too late: the client never hears it was accepted.
            self.slow_data -= 1
            await self._stall()
        return "250 Message accepted for delivery"

    def ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.received]

    def to(self) -> list[str]:
        return sorted(m["To"] for m in self.received)

    def settle(self) -> None:
        """Wait until no stalled command is still running on the server."""
        deadline = time.monotonic() + 15
        while self.stalling and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.stalling


def reserve_port() -> socket.socket:
    """A loopback port bound but not listening: connecting to it is refused, and no other
    process (another pytest-xdist worker, say) can take it until the socket is closed."""
    reservation = socket.socket()
    reservation.bind(("127.0.0.1", 0))
    return reservation


def loopback_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own authority): point SSL_CERT_FILE at it and
    ssl.create_default_context() trusts it, so the client verifies the server as in production."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Server:
    def __init__(self, login: tuple[str, str] | None = None, tls: str | None = None,
                 certificate: tuple[Path, Path] | None = None) -> None:
        self.login = login  # a username and password the server demands (AUTH), or None
        self.tls = tls  # "starttls" (offered, and required before AUTH) or "ssl" (TLS from the start)
        self.certificate = certificate  # (certificate, key) files, for `tls`
        self.reservation: socket.socket | None = reserve_port()
        self.port = self.reservation.getsockname()[1]
        self.handler = Recorder()
        self.controller: Controller | None = None
        self.settings = delivery.SmtpSettings(host="127.0.0.1", port=self.port, sender="hub@example.test",
                                              timeout=5)

    def start(self) -> None:
        self.release()  # the port is free again only for the moment before the server binds it
        options: dict = {}
        if self.login:
            # aiosmtpd counts only STARTTLS as TLS here: with "ssl" the whole session is TLS anyway.
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.tls == "starttls")
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.certificate)
            options["tls_context" if self.tls == "starttls" else "ssl_context"] = context
            options["require_starttls"] = self.tls == "starttls"
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def _authenticate(self, _server, _session, _envelope, _mechanism, data) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        return AuthResult(success=given == self.login, handled=False)  # handled=False: answer 535 itself

    def release(self) -> None:
        if self.reservation is not None:
            self.reservation.close()
            self.reservation = None

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        self.release()
