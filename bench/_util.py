"""Helpers shared by the HTTP benchmarks of issue 13 (not a benchmark: the name starts with "_").

Percentiles are true percentiles (nearest rank); servers run under gunicorn on a free loopback
port; the delivery worker (whose thread integrates the audit log) runs as its own process with an
aiosmtpd sink; a PostgreSQL database made for a run is dropped at its end.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pyotp
import requests
from sqlalchemy import text as sql_text
from sqlalchemy.engine import make_url

from bench.audit_log import _environment
from hub import db
from hub.audit import service as audit
from hub.auth import second_factor as auth_second_factor
from hub.models.auth import User

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GUNICORN = str(BIN / "gunicorn")
FLASK = str(BIN / "flask")
PASSWORD = "bench password 123"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smtp_server(port: int) -> subprocess.Popen:
    """aiosmtpd in its own process, as a real mail server would be: the client's and the
    server's Python do not share one interpreter lock."""
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                               "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the SMTP server did not start")


def percentile(values, p: float) -> float:
    """The nearest-rank p-th percentile (0 < p <= 100): the smallest value with at least p% of
    the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def figures(latencies_s: list[float], elapsed_s: float | None = None) -> dict:
    """requests, req/s (when the wall time is given), median, p95 and p99 in milliseconds."""
    ms = [x * 1000 for x in latencies_s]
    out = {"requests": len(ms), "median_ms": statistics.median(ms) if ms else float("nan"),
           "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99)}
    if elapsed_s:
        out["rps"] = len(ms) / elapsed_s
    return out


def serve(app_spec: str, env: dict, workers: int = 2, timeout: int = 60, log=None) -> tuple[subprocess.Popen, str]:
    """`gunicorn -w N` on a free loopback port; returns once /health answers. `log`, an open file,
    takes its error output (a long run must give one: nobody reads the pipe, which fills)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                                "--timeout", str(timeout), app_spec],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log or subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{base}/health", timeout=3).ok:
                return process, base
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError(f"{app_spec} did not start: {process.stderr.read().decode()[:2000] if log is None else ''}")


def stop(process: subprocess.Popen | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def flask(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """`flask --app hub ARGS` in its own process."""
    return subprocess.run([FLASK, "--app", "hub", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@contextlib.contextmanager
def delivery_worker(env: dict):
    """`flask --app hub notifications deliver` (its integrator thread sequences the audit log
    every second) with a local aiosmtpd sink for its e-mails; both stopped at the end."""
    port = _free_port()
    smtp = _smtp_server(port)
    env = {**env, "HUB_SMTP_HOST": "127.0.0.1", "HUB_SMTP_PORT": str(port), "HUB_SMTP_TIMEOUT": "10",
           "HUB_SMTP_FROM": "hub@bench.example.test"}
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below, once the worker stops
    worker = subprocess.Popen([FLASK, "--app", "hub", "notifications", "deliver", "--poll", "1",
                               "--worker-id", "bench-worker"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        time.sleep(1)
        if worker.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the delivery worker stopped: {log.read().decode()[-2000:]}")
        yield worker
    finally:
        stop(worker)
        stop(smtp, 10)
        log.close()


def verify_log(env: dict) -> tuple[bool, str, int]:
    """Integrate what is pending, run `flask --app hub audit verify` (full), and count what is
    still pending: (verified, its output, pending entries)."""
    integrated = flask(["audit", "integrate"], env)
    assert integrated.returncode == 0, integrated.stderr[-2000:]
    result = flask(["audit", "verify"], env, timeout=1800)
    db.session.remove()
    pending = audit.pending().count
    db.session.remove()
    return result.returncode == 0, (result.stdout + result.stderr).strip(), pending


def environment(folder: Path, database_url: str | None = None, development: bool = False) -> None:
    """The hub's settings for a run (keys generated, SQLite in `folder` unless a URL is given)."""
    _environment(folder)
    if database_url:
        os.environ["HUB_DATABASE_URL"] = database_url
    os.environ["HUB_IDLE_TIMEOUT_MINUTES"] = "120"
    if development:
        os.environ["HUB_ENV"] = "development"


@contextlib.contextmanager
def fresh_postgres(server_url: str):
    """A new, empty PostgreSQL database on the server of `server_url`, dropped at the end."""
    url = make_url(server_url)
    name = f"hub_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception):
            db.session.remove()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch(prefix: str, base: str | None = None):
    """A temporary folder, removed at the end whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def give_totp(user_ids: list[int]) -> dict[int, str]:
    """A confirmed TOTP secret for each user, in one transaction."""
    secrets_ = {}
    with db.unit_of_work() as s:
        for user in s.query(User).filter(User.id.in_(user_ids)):
            secrets_[user.id] = user.totp_secret = auth_second_factor.new_totp_secret()
            user.totp_confirmed_at = db.utcnow()
    return secrets_


def sign_in(base: str, email: str, secret: str) -> requests.Session:
    """Password + TOTP over HTTP (a code signs in once: the helper waits for the next step if needed)."""
    return signed_in_session(base, email, PASSWORD, secret)


def signed_in_session(base: str, email: str, password: str, secret: str):
    token = lambda html: re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # noqa: E731
    session = requests.Session()
    page = session.get(f"{base}/auth/sign-in")
    page = session.post(f"{base}/auth/sign-in", data={"csrf_token": token(page.text), "email": email,
                                                      "password": password})
    totp = pyotp.TOTP(secret)
    for _attempt in range(2):
        # A code signs in once only: if this user's code of this 30-second step was already used
        # (a benchmark also signs in in-process to count statements), wait for the next step.
        answer = session.post(f"{base}/auth/two-factor", data={"csrf_token": token(page.text), "code": totp.now()})
        if session.get(f"{base}/", allow_redirects=False).status_code == 200:
            return session
        time.sleep(totp.interval - time.time() % totp.interval + 1)
        page = answer
    raise AssertionError("sign-in failed")





def analyse() -> None:
    """Bring the database's statistics up to date after a bulk load, as autovacuum would within a
    minute of it in production. The CI machines' PostgreSQL runs with autovacuum off, so without
    this every plan after a load is made from empty tables' statistics (a nested loop over 50,000
    episodes that re-reads a reach each time: minutes, not milliseconds)."""
    with db.unit_of_work() as s:
        s.execute(sql_text("ANALYZE"))
