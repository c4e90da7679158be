"""The proof's SMTP sink: aiosmtpd in its own process, as a real mail server would be, that counts
every message it accepts by its Message-ID and can be told to misbehave.

    python -m proof.sink --port 2525 --dir FOLDER

FOLDER/mode says how it answers, read afresh for every message (the proof writes it):
  accept   250 after a short pause (ACCEPT_PAUSE: a relay's own work), the message counted;
  refuse   550 to every recipient: a permanent refusal, the message is never taken;
  slow     the answer to the message's data after SLOW_SECONDS (a server scanning content);
           the message is counted when the 250 goes out, whether or not the client still waits.
"Down" is no mode: the proof stops this process (the port refuses connections) and starts another.

FOLDER/received gets one line per accepted message: its Message-ID. It is appended to and
flushed at once, so a count survives this process being stopped and started again."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller

ACCEPT_PAUSE = 0.02
SLOW_SECONDS = 20.0
MODES = ("accept", "refuse", "slow")
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


class Handler:
    def __init__(self, folder: Path):
        self.folder = folder
        self.received = (folder / "received").open("ab", buffering=0)
        self._lock = threading.Lock()

    def mode(self) -> str:
        try:
            mode = (self.folder / "mode").read_text().strip()
        except FileNotFoundError:
            return "accept"
        return mode if mode in MODES else "accept"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook name
        if self.mode() == "refuse":
            return "550 5.7.1 The proof's sink refuses every message"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(SLOW_SECONDS if self.mode() == "slow" else ACCEPT_PAUSE)
        found = _MESSAGE_ID.search(envelope.original_content or envelope.content or b"")
        with self._lock:
            self.received.write((found.group(1) if found else b"<no-message-id>") + b"\n")
        return "250 OK: counted"


def received(folder: Path) -> list[str]:
    """Every Message-ID accepted so far, once per copy."""
    path = folder / "received"
    return path.read_text().split() if path.exists() else []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    controller = Controller(Handler(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
