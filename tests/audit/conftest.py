"""Real witnesses for the audit tests: two `hub.witness` servers on loopback (the police's and the
council's), each with its own key and SQLite storage, trusting this hub's log, and the hub
configured to submit to them (quorum 2)."""

from __future__ import annotations

import pytest

from hub.audit import alarms, signing, witnessing
from hub.notifications import delivery
from tests.support.witnesses import start_witness


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
