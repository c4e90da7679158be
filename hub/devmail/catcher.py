"""The catcher: aiosmtpd keeps each message it is sent in a Mailbox; a small HTTP server on
loopback lists them and shows each one, links clickable (they point at the hub on PORT)."""

from __future__ import annotations

import html
import os
import re
import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_MESSAGES = 500
LOOPBACK = "127.0.0.1"


class CatcherRefused(RuntimeError):
    """The catcher must not start here."""


def refuse_production(environ: dict[str, str] | None = None) -> None:
    """A mail catcher swallows every e-mail: it must never stand in for a real server."""
    env = (environ if environ is not None else os.environ).get("HUB_ENV", "development").strip().lower()
    if env == "production":
        raise CatcherRefused("The development mail catcher refuses to start with HUB_ENV=production: "
                             "set HUB_SMTP_* to the organisation's mail server instead.")


@dataclass(frozen=True)
class Caught:
    number: int
    received: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    body: str
    raw: bytes


class Mailbox:
    """The last MAX_MESSAGES messages, newest first; safe to use from several threads."""

    def __init__(self, limit: int = MAX_MESSAGES):
        self._messages: deque[Caught] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._count = 0

    def add(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> Caught:
        parsed = message_from_bytes(raw, policy=policy.default)
        part = parsed.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        with self._lock:
            self._count += 1
            caught = Caught(self._count, datetime.now(UTC), mail_from, tuple(rcpt_tos),
                            str(parsed.get("Subject", "")), body, raw)
            self._messages.appendleft(caught)
        return caught

    def all(self) -> list[Caught]:
        with self._lock:
            return list(self._messages)

    def get(self, number: int) -> Caught | None:
        return next((m for m in self.all() if m.number == number), None)


class _Handler:
    """aiosmtpd's DATA handler: every message accepted and kept."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.mailbox.add(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


# --- the pages -------------------------------------------------------------------------------------------

_LINK = re.compile(r"https?://[^\s<>&\"']+")
_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse;"
          "width:100%}td,th{text-align:left;padding:.4rem;border-bottom:1px solid #ccc}pre{white-space:pre-wrap}")


def _page(title: str, content: str) -> bytes:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<style>{_STYLE}</style></head><body><header><p>Development mail catcher: nothing here was sent '
            f'anywhere.</p></header><main>{content}</main></body></html>').encode()


def _linked(text: str) -> str:
    """The body escaped, with its web addresses made links."""
    escaped = html.escape(text)
    return _LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def list_page(mailbox: Mailbox) -> bytes:
    rows = "".join(
        f'<tr><td>{m.received:%H:%M:%S}</td><td>{html.escape(", ".join(m.rcpt_tos))}</td>'
        f'<td><a href="/messages/{m.number}">{html.escape(m.subject or "(no subject)")}</a></td></tr>'
        for m in mailbox.all())
    table = (f"<table><thead><tr><th>Received (UTC)</th><th>To</th><th>Subject</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>" if rows else "<p>No e-mails yet.</p>")
    return _page("E-mails caught", f"<h1>E-mails caught</h1>{table}")


def message_page(caught: Caught) -> bytes:
    return _page(caught.subject, (
        f'<p><a href="/">All e-mails</a></p><h1>{html.escape(caught.subject or "(no subject)")}</h1>'
        f"<p>From {html.escape(caught.mail_from)} to {html.escape(', '.join(caught.rcpt_tos))}</p>"
        f'<pre data-testid="body">{_linked(caught.body)}</pre>'))


def _http_handler(mailbox: Mailbox) -> type[BaseHTTPRequestHandler]:
    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            match = re.fullmatch(r"/messages/(\d+)", self.path)
            if self.path == "/":
                self._send(200, list_page(mailbox))
            elif match and (caught := mailbox.get(int(match[1]))) is not None:
                self._send(200, message_page(caught))
            else:
                self._send(404, _page("Not found", "<h1>Not found</h1>"))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet: addresses stay off the console
            pass

    return Pages


@dataclass
class Running:
    mailbox: Mailbox
    smtp_port: int
    http_port: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@contextmanager
def serve(smtp_port: int = 1025, http_port: int = 1080, mailbox: Mailbox | None = None) -> Iterator[Running]:
    """Run the SMTP server and the pages on loopback until the block ends (port 0: any free port)."""
    refuse_production()
    # aiosmtpd is in the dev and test extras only: a production install refuses above, saying why,
    # rather than failing to import.
    from aiosmtpd.controller import Controller  # noqa: PLC0415 - see above

    mailbox = mailbox or Mailbox()
    smtp_port = smtp_port or _free_port()  # aiosmtpd checks its own port, so it needs a real one
    controller = Controller(_Handler(mailbox), hostname=LOOPBACK, port=smtp_port)
    controller.start()
    try:
        pages = ThreadingHTTPServer((LOOPBACK, http_port), _http_handler(mailbox))
        thread = threading.Thread(target=pages.serve_forever, daemon=True)
        thread.start()
        try:
            yield Running(mailbox, smtp_port, pages.server_address[1])
        finally:
            pages.shutdown()
            pages.server_close()
    finally:
        controller.stop()
