"""A development mail catcher: an SMTP server and a web page on loopback, so the demo's e-mails
can be read in the browser (`make run` starts it; `python -m hub.devmail`).

Development only: it refuses to start when HUB_ENV=production, binds only to loopback, and keeps
the messages in memory (the last MAX_MESSAGES), so nothing it caught outlives it. It needs
aiosmtpd, installed by the `dev` extra (`pip install -e ".[dev]"`), never by the hub itself.
"""

from hub.devmail.catcher import MAX_MESSAGES, CatcherRefused, Mailbox, refuse_production, serve

__all__ = ["MAX_MESSAGES", "CatcherRefused", "Mailbox", "refuse_production", "serve"]
