"""Real witnesses for the audit tests: two `hub.witness` servers on loopback (the police's and the
council's), each with its own key and SQLite storage, trusting this hub's log, and the hub
configured to submit to them (quorum 2)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from hub.audit import alarms, signing, witnessing
from hub.audit import keys as audit_keys
from hub.notifications import delivery
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


@pytest.fixture
def witnesses(app, tmp_path):
    """[police, council], running; the hub submits to both and needs both (k = 2 of 2)."""
    running = [start_witness(tmp_path / "police", "police.example.test/witness"),
               start_witness(tmp_path / "council", "council.example.test/witness")]
    spec = ",".join(f"{r.url} {r.witness.vkey}" for r in running)
    app.extensions["hub_witnessing"] = witnessing.parse(spec, "2", "5", witnessing.settings().origin)
    yield running
    for r in running:
        r.stop()


@pytest.fixture(autouse=True)
def _fresh_worker_memory():
    """What a worker process remembers (the alarms it e-mailed today, when it last asked each
    witness, the duties failing) starts empty for each test, as for a new worker."""
    alarms._emailed.clear()
    signing._last_try.clear()
    delivery._failing.clear()
    yield
