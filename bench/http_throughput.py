"""Requests per second and median / p95 latency of an authenticated page on 2 gunicorn workers,
as a ratio to a bare Flask "hello" app on 2 gunicorn workers measured in the same run.
Goal: at least 0.3 of bare Flask.

Run: `make bench` or `.venv/bin/python -m bench.http_throughput [--seconds 10] [--clients 8]`.
Traffic goes to 127.0.0.1 only, for a bounded time, and both servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import select

from bench._util import serve
from bench._util import signed_in_session as _signed_in_session  # noqa: F401 - mace and dpo_flags take it from here
from bench.audit_log import _app, _environment
from hub import db
from hub.admin import service as admin
from hub.auth import second_factor as auth_second_factor
from hub.models.auth import User
from hub.models.roles import OrgKind, Role

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _serve(app_spec: str, env: dict) -> tuple[subprocess.Popen, str]:
    """gunicorn with 2 workers on a free loopback port (bench._util.serve, the one copy)."""
    return serve(app_spec, env)


def _load(session_factory, url: str, seconds: float, clients: int) -> dict:
    """Each client thread requests `url` in a loop until the time is up."""
    deadline = time.perf_counter() + seconds

    def worker() -> list[float]:
        session = session_factory()
        latencies = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = session.get(url, allow_redirects=False, timeout=10)
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
        return latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [f.result() for f in [pool.submit(worker) for _ in range(clients)]]
    elapsed = time.perf_counter() - start
    latencies = sorted(x for r in results for x in r)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "median_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        _environment(Path(folder))
        os.environ["HUB_ENV"] = "development"  # real argon2 parameters, as in production
        os.environ["HUB_IDLE_TIMEOUT_MINUTES"] = "60"
        _app()
        school = admin.create_organisation(None, admin.OrganisationDetails("BENCH-SCH", "Bench school", OrgKind.school,
                                                                           "999999"))
        admin.create_user(None, admin.UserDetails("dsl@bench.example.test", "Bench DSL", school.id, {Role.dsl},
                                                  password="bench password 123"))
        secret = auth_second_factor.new_totp_secret()
        with db.unit_of_work():
            user = db.session().scalar(select(User))
            user.totp_secret, user.totp_confirmed_at = secret, db.utcnow()
        db.session.remove()

        env = dict(os.environ)
        hub, hub_url = _serve("hub:create_app()", env)
        try:
            cookies = _signed_in_session(hub_url, "dsl@bench.example.test", "bench password 123", secret).cookies

            def signed_in():
                s = requests.Session()
                s.cookies.update(cookies)
                return s

            _load(signed_in, f"{hub_url}/", 2, args.clients)  # warm-up
            hub_figures = _load(signed_in, f"{hub_url}/", args.seconds, args.clients)
        finally:
            hub.terminate()
            hub.wait()
        bare, bare_url = _serve("bench.bare_app:app", env)
        try:
            _load(requests.Session, f"{bare_url}/", 2, args.clients)
            bare_figures = _load(requests.Session, f"{bare_url}/", args.seconds, args.clients)
        finally:
            bare.terminate()
            bare.wait()
    ratio = hub_figures["rps"] / bare_figures["rps"]
    for name, f in (("authenticated page", hub_figures), ("bare Flask hello", bare_figures)):
        print(f"{name}: {f['rps']:.0f} requests/s, median {f['median_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms "
              f"({f['requests']} requests)")
    print(f"ratio authenticated/bare: {ratio:.2f} (goal >= 0.3)")
    return {"hub": hub_figures, "bare": bare_figures, "ratio": ratio}


if __name__ == "__main__":
    main()
