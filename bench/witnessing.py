"""The cost of witnessing (issue 20): signing a tree head and having two witnesses cosign it,
against signing alone, in the same run.

Two witnesses run as their own processes (`python -m hub.witness serve`, the police's and the
council's, each with its own key and SQLite storage) on loopback. Each checkpoint follows a batch
of new audit entries (written and integrated outside the timing), so every checkpoint is a new
size. "Signing alone" is `signing.sign_and_publish()` with no witness configured: the consistency
proofs from the previous signed head and the latest verified root, the signature, the row.
"With two witnesses" adds asking each witness what it last cosigned (its signatures checked, one
more consistency proof each), then submitting the checkpoint with a proof to both at once and
storing the two cosignatures. The sides alternate in rounds, so background load lands on both.
Prints the latency of each (median and p95), the latency witnessing adds, and checkpoints per
minute each side sustains.

Run: `.venv/bin/python -m bench witnessing [--rounds 6] [--checkpoints 20] [--entries 25]`.
SQLite in a temporary folder (`HUB_BENCH_DATABASE_URL` for PostgreSQL); everything is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench._util import environment, percentile, scratch, stop
from bench.audit_log import _app
from hub import db
from hub.audit import integrator as audit_integrator
from hub.audit import keys as audit_keys
from hub.audit import service as audit
from hub.audit import signing, witnessing

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _witness(folder: Path, name: str, log_vkey: str) -> tuple[subprocess.Popen, str, str]:
    directory = folder / name.split(".")[0]
    vkey = subprocess.run([sys.executable, "-m", "hub.witness", "init", "--dir", str(directory), "--name", name],
                          cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "hub.witness", "serve", "--dir", str(directory),
                                "--port", str(port), "--log", log_vkey], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}", vkey
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"the witness {name} did not start")


def _entries(count: int, offset: int) -> None:
    with db.unit_of_work():
        audit.record_many(None, [audit.Entry("read", object_type="child", object_id=offset + i, child_id=i % 50)
                                 for i in range(count)])
    audit_integrator.integrate_all()


def _side(app, config, checkpoints: int, entries: int, offset: int) -> list[float]:
    app.extensions["hub_witnessing"] = config
    took = []
    for i in range(checkpoints):
        _entries(entries, offset + i * entries)
        start = time.perf_counter()
        head = signing.sign_and_publish()
        took.append(time.perf_counter() - start)
        if config.witnesses:
            assert signing.is_published(head), "the witnesses did not cosign"
        db.session.remove()
    return took


def _line(name: str, took: list[float]) -> str:
    median, p95 = percentile(took, 50) * 1000, percentile(took, 95) * 1000
    per_minute = 60 / (sum(took) / len(took))
    return f"{name:<22} median {median:7.1f} ms  p95 {p95:7.1f} ms  {per_minute:8.0f} checkpoints/min  (n={len(took)})"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--checkpoints", type=int, default=20, help="checkpoints per side per round")
    parser.add_argument("--entries", type=int, default=25, help="new entries before each checkpoint")
    args = parser.parse_args(argv)
    with scratch("hub-bench-witnessing-") as folder:
        environment(folder, os.environ.get("HUB_BENCH_DATABASE_URL"))
        app = _app()
        origin = witnessing.settings().origin
        log_vkey = audit_keys.log_verifier_key(origin)
        processes = []
        try:
            for name in ("police.example.test/witness", "council.example.test/witness"):
                processes.append(_witness(folder, name, log_vkey))
            spec = ",".join(f"{url} {vkey}" for _, url, vkey in processes)
            alone, witnessed = witnessing.Witnessing(origin=origin), witnessing.parse(spec, "2", "10", origin)
            _entries(100, 0)
            signing.sign_and_publish()
            times = {"signing alone": [], "with two witnesses": []}
            offset = 1000
            for round_ in range(args.rounds):
                order = [("signing alone", alone), ("with two witnesses", witnessed)]
                for name, config in order if round_ % 2 == 0 else order[::-1]:
                    times[name] += _side(app, config, args.checkpoints, args.entries, offset)
                    offset += args.checkpoints * args.entries
            app.extensions["hub_witnessing"] = alone
        finally:
            for process, _, _ in processes:
                stop(process)
    for name, took in times.items():
        print(_line(name, took))
    added = percentile(times["with two witnesses"], 50) - percentile(times["signing alone"], 50)
    ratio = percentile(times["with two witnesses"], 50) / percentile(times["signing alone"], 50)
    print(f"witnessing adds {added * 1000:.1f} ms to the median signing ({ratio:.1f}x)")
    return {name: {"median_ms": percentile(t, 50) * 1000, "p95_ms": percentile(t, 95) * 1000,
                   "per_minute": 60 / (sum(t) / len(t))} for name, t in times.items()}


if __name__ == "__main__":
    main()
