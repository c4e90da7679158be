"""Real witnesses on loopback for tests: a `hub.witness` server with its own key and SQLite
storage, trusting this hub's log (the `witnesses` fixture of tests/audit/conftest.py starts two)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import make_server

from hub.audit import keys as audit_keys
from hub.audit import signing
from hub.witness.__main__ import init, trust
from hub.witness.app import make_app
from hub.witness.core import Witness


@dataclass
class Running:
    witness: Witness
    url: str
    server: object
    thread: threading.Thread

    @property
    def name(self) -> str:
        return self.witness.name

    def cosigned_size(self) -> int | None:
        latest = self.witness.store.read(signing.origin())
        return latest.tree_size if latest else None

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


def start_witness(directory, name: str) -> Running:
    witness = init(directory, name)
    trust(witness, audit_keys.log_verifier_key(signing.origin()))
    server = make_server("127.0.0.1", 0, make_app(witness), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Running(witness, f"http://127.0.0.1:{server.port}", server, thread)
