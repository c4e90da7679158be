"""A plain HTTP server on loopback that answers every request with one canned reply and keeps the
paths it was asked for: what a test needs to prove the hub called it, or never did."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Response


@dataclass
class Recording:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    server: object = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()


def start_recording(status: int = 200, body: str = "ok", headers: dict[str, str] | None = None) -> Recording:
    recording = Recording(status, body, headers or {})

    def answer(environ, start_response):
        recording.hits.append(environ["PATH_INFO"])
        return Response(recording.body, status=recording.status, headers=recording.headers)(environ, start_response)

    recording.server = make_server("127.0.0.1", 0, answer, threaded=True)
    threading.Thread(target=recording.server.serve_forever, daemon=True).start()
    return recording
