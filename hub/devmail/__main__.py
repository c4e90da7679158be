"""`python -m hub.devmail [--smtp-port 1025] [--http-port 1080]`: the development mail catcher."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from contextlib import suppress

from hub.devmail.catcher import CatcherRefused, refuse_production, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.devmail", description=__doc__)
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("HUB_DEVMAIL_SMTP_PORT", 1025)))
    parser.add_argument("--http-port", type=int, default=int(os.environ.get("HUB_DEVMAIL_HTTP_PORT", 1080)))
    args = parser.parse_args(argv)
    try:
        refuse_production()
    except CatcherRefused as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve(args.smtp_port, args.http_port) as running:
        print(f"Mail catcher: SMTP on 127.0.0.1:{running.smtp_port}, e-mails at http://127.0.0.1:{running.http_port}/",
              flush=True)
        with suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
