"""Where an audited action comes from: set by the web layer, the API or a CLI command.

Services never read Flask's `request`; the audit writer reads this context instead, so a service
called from a command, a worker or a test records the right origin too.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    request_id: str
    client_address: str | None = None
    user_agent: str | None = None
    #: How the actor got in when there is no user session (cli, api, worker).
    channel: str = "web"


_origin: ContextVar[Origin | None] = ContextVar("hub_audit_origin", default=None)


def set_origin(origin: Origin) -> None:
    _origin.set(origin)


def current_origin() -> Origin:
    origin = _origin.get()
    if origin is None:
        origin = Origin(request_id=f"local-{uuid.uuid4().hex[:12]}", channel="cli")
        _origin.set(origin)
    return origin


def new_request_id() -> str:
    return uuid.uuid4().hex


def cli_origin() -> None:
    """A command-line command's origin: its events say `cli` and carry a request id of their own.
    Here, beside Origin, so every package's commands take it without importing hub.cli (which
    imports them)."""
    set_origin(Origin(request_id=f"cli-{new_request_id()[:12]}", channel="cli"))
