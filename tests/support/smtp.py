"""A real SMTP server on loopback (aiosmtpd) for the delivery tests: it keeps what it accepts and
can refuse, stall or be down on request (the `smtp` and `stopped_smtp` fixtures of tests/conftest.py)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

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


class Server:
    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.login = login  # a username and password the server demands (AUTH), or None
        self.reservation: socket.socket | None = reserve_port()
        self.port = self.reservation.getsockname()[1]
        self.handler = Recorder()
        self.controller: Controller | None = None
        self.settings = delivery.SmtpSettings(host="127.0.0.1", port=self.port, sender="hub@example.test",
                                              timeout=5)

    def start(self) -> None:
        self.release()  # the port is free again only for the moment before the server binds it
        auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False} \
            if self.login else {}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **auth)
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
