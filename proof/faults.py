"""Faults under load, then a soak (issue 24): `python -m proof.faults [--phase 45] [--soak 600]`.

Real processes on a PostgreSQL cluster of the proof's own (proof.cluster: restarting it restarts
nobody else's database): gunicorn with 4 workers, two delivery workers (`flask --app hub
notifications deliver`, whose threads also integrate the audit log), an aiosmtpd sink in its own
process (proof.sink), and bench.load's world and users (50 by default, signed in over HTTP with
password and TOTP) on their mixed journeys. Each fault is injected while the users work:

  worker SIGKILL mid-batch        a delivery worker killed while it sends a claimed batch (an
                                  import has just queued hundreds of e-mails), then restarted;
  worker SIGKILL mid-integration  the worker whose integrator is inside its transaction, killed
                                  and restarted;
  two workers racing              an import's burst of e-mails, both workers claiming at once;
  SMTP refusing (550)             every message refused; the hub fails them (a 5xx is final) and
                                  lists them for the administrator, who retries them over HTTP;
  SMTP slow (20 s)                every message answered after 20 s (the hub waits up to 30 s);
  SMTP down for a minute          the sink stopped (connections refused), then started again;
  database restarted              `pg_ctl restart -m fast`, what `pg_ctlcluster restart` runs;
  connection killed mid-write     `pg_terminate_backend` on a web worker's connection while its
                                  transaction has written and not committed.

After each: the e-mails of the phase counted at the sink by Message-ID (every one exactly once:
the accounting is made at the end of the run, once retries' backoffs and any lease have run
out), no half-done change (the invariants in INVARIANTS), every error a user saw is the hub's
error page and not a traceback, `flask --app hub audit verify` passes with nothing pending (the
workers' integrators catch up by themselves: the proof never integrates), and the hub answers
again. Then the soak: the users for `--soak` seconds with an import and the faults interleaved,
each process's resident memory sampled (growth bounded by MEMORY_BOUND_MB), no user error outside
the faults' windows, the log verified after. One table is printed; the exit status is 1 when any
check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests
from sqlalchemy import select

from bench import _util, load
from bench.missing_import import _download
from hub import db
from hub.admin import service as admin
from hub.models.auth import Organisation
from hub.models.roles import Role
from proof import pitr, sink
from proof.cluster import Cluster, own_cluster

ERROR_TITLE = "Sorry, there is a problem with the service"
WORKERS = ("proof-worker-a", "proof-worker-b")
WEB = "proof-web"
#: The hub's default: longer than the slow sink's 20 s, so a slow server is waited for, not left.
SMTP_TIMEOUT = 30
#: A process's resident memory may grow by this much from the soak's first quarter to its last.
MEMORY_BOUND_MB = 64
IMPORT_ROWS = 200
#: Seconds a process started during the soak is left to start before its memory is judged.
WARM_UP = 60
ADMIN_EMAIL = "proof-admin@bench.example.test"

#: "No half-done change": what every committed change leaves whole (each a count that must be 0).
INVARIANTS = {
    "episodes without their first risk grade": """
        SELECT count(*) FROM missing_episode e
        WHERE NOT EXISTS (SELECT 1 FROM risk_grade_change r WHERE r.episode_id = e.id)""",
    "episodes without their 'create' audit event": """
        SELECT count(*) FROM missing_episode e
        WHERE NOT EXISTS (SELECT 1 FROM audit_event a WHERE a.object_type = 'missing-episode'
                          AND a.action = 'create' AND a.object_id = e.id::text)""",
    "episodes whose school was not notified": """
        SELECT count(*) FROM missing_episode e
        WHERE NOT EXISTS (SELECT 1 FROM notification n WHERE n.episode_id = e.id)""",
    "notifications without exactly one e-mail": """
        SELECT count(*) FROM notification n
        LEFT JOIN (SELECT notification_id, count(*) AS c FROM outbox_message GROUP BY 1) o
               ON o.notification_id = n.id
        WHERE coalesce(o.c, 0) <> 1""",
    "notifications without their audit event": """
        SELECT count(*) FROM notification n
        WHERE NOT EXISTS (SELECT 1 FROM audit_event a WHERE a.object_type = 'notification'
                          AND a.object_id = n.id::text)""",
    "e-mails marked sent without an attempt that sent them": """
        SELECT count(*) FROM outbox_message m WHERE m.status = 'sent'
        AND NOT EXISTS (SELECT 1 FROM delivery_attempt d WHERE d.message_id = m.id AND d.outcome = 'sent')""",
}


# --- what users saw ----------------------------------------------------------------------------------

def classify(response: requests.Response | None) -> str:
    """An error as the user saw it: the hub's error page, or something worse."""
    if response is None:
        return "no answer"
    text = response.text
    if "Traceback" in text or 'File "' in text:
        return "stack trace"
    if response.status_code >= 500:
        return "error page" if ERROR_TITLE in text else f"HTTP {response.status_code} without the error page"
    return f"HTTP {response.status_code}"


def _gist(response: requests.Response | None) -> str:
    """Where a redirect went, or the page's title and first words (bench data: no one's details)."""
    if response is None:
        return ""
    if response.is_redirect:
        return f"-> {response.headers.get('Location', '')}"
    title = re.search(r"<title>(.*?)</title>", response.text, re.S)
    return repr((title.group(1).strip() if title else response.text[:160]).replace("\n", " "))


@dataclass
class Seen:
    requests: int = 0
    errors: int = 0
    kinds: Counter = field(default_factory=Counter)
    at: list[float] = field(default_factory=list)  # when each error happened (monotonic)
    samples: list[str] = field(default_factory=list)


class Load:
    """bench.load's users on their journeys until told to stop; what they saw, by phase."""

    def __init__(self, users: list[load._User], think: float):
        self.users, self.think = users, think
        self.lock = threading.Lock()
        self.seen = Seen()

    def record(self, page: str, _elapsed: float, ok: bool, response: requests.Response | None = None) -> None:
        kind = None if ok else classify(response)
        with self.lock:
            self.seen.requests += 1
            if kind is not None:
                self.seen.errors += 1
                self.seen.kinds[kind] += 1
                self.seen.at.append(time.monotonic())
                if kind != "error page" and len(self.seen.samples) < 5:
                    self.seen.samples.append(f"{page}: {kind} {_gist(response)}".strip())

    def take(self) -> Seen:
        with self.lock:
            seen, self.seen = self.seen, Seen()
        return seen

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        stop = threading.Event()

        def loop(user: load._User) -> None:
            stop.wait(user.rng.uniform(0, self.think))
            while not stop.is_set():
                user.step(self.record)
                stop.wait(user.rng.uniform(0.5 * self.think, 1.5 * self.think))

        threads = [threading.Thread(target=loop, args=(u,), daemon=True) for u in self.users]
        for t in threads:
            t.start()
        try:
            yield
        finally:
            stop.set()
            for t in threads:
                t.join(90)


# --- the processes -----------------------------------------------------------------------------------

class Hub:
    """The hub's processes for the run, and the proof's handles on them."""

    def __init__(self, folder: Path, env: dict, cluster: Cluster, dsn: str):
        self.folder, self.env, self.cluster, self.dsn = folder, env, cluster, dsn
        self.mail = folder / "mail"
        self.mail.mkdir()
        self.smtp_port = _util._free_port()
        self.sink: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.base = ""
        self.workers: dict[str, subprocess.Popen] = {}
        self.logs: list = []

    def _log(self, name: str):
        log = (self.folder / f"{name}.log").open("ab")
        self.logs.append(log)
        return log

    def start_sink(self) -> None:
        self.sink = subprocess.Popen([sys.executable, "-m", "proof.sink", "--port", str(self.smtp_port),
                                      "--dir", str(self.mail)], cwd=_util.ROOT, stdout=subprocess.DEVNULL,
                                     stderr=self._log("sink"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError("the SMTP sink did not start")

    def stop_sink(self) -> None:
        _util.stop(self.sink, 10)

    def mode(self, mode: str) -> None:
        (self.mail / "mode").write_text(mode)

    def start_worker(self, name: str) -> None:
        env = {**self.env, "HUB_SMTP_HOST": "127.0.0.1", "HUB_SMTP_PORT": str(self.smtp_port),
               "HUB_SMTP_TIMEOUT": str(SMTP_TIMEOUT), "HUB_SMTP_FROM": "hub@bench.example.test", "PGAPPNAME": name}
        self.workers[name] = subprocess.Popen(
            [_util.FLASK, "--app", "hub", "notifications", "deliver", "--poll", "1", "--worker-id", name],
            cwd=_util.ROOT, env=env, stdout=self._log(name), stderr=subprocess.STDOUT)

    def kill_worker(self, name: str) -> None:
        process = self.workers[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def start(self) -> None:
        self.mode("accept")
        self.start_sink()
        for name in WORKERS:
            self.start_worker(name)
        self.web, self.base = _util.serve("hub:create_app()", {**self.env, "PGAPPNAME": WEB}, workers=4,
                                          log=self._log("web"))

    def stop(self) -> None:
        _util.stop(self.web)
        for process in self.workers.values():
            _util.stop(process, 60)
        self.stop_sink()
        for log in self.logs:
            log.close()

    def processes(self) -> dict[str, int]:
        """Label -> pid of every process of the hub's, for memory sampling."""
        found = {"sink": self.sink.pid, "web (gunicorn master)": self.web.pid}
        found.update({f"delivery {name[-1]}": p.pid for name, p in self.workers.items()})
        with contextlib.suppress(OSError):
            for pid in Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children").read_text().split():
                found[f"web worker {pid}"] = int(pid)
        return found

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """One statement on a connection of its own (survives the database's restarts)."""
        with psycopg.connect(self.dsn, autocommit=True, application_name="proof") as connection:
            return connection.execute(query, params).fetchall()

    def one(self, query: str, params: tuple = ()) -> int:
        return self.sql(query, params)[0][0] or 0

    def flask(self, args: list[str], timeout: float = 1800) -> subprocess.CompletedProcess:
        return _util.flask(args, {**self.env, "PGAPPNAME": "proof-cli"}, timeout=timeout)


def rss_kb(pid: int) -> int | None:
    """Resident memory of a process, from /proc (psutil is not a dependency)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# --- the run -----------------------------------------------------------------------------------------

@dataclass
class Row:
    fault: str
    first_id: int = 0
    last_id: int = 0
    seen: Seen = field(default_factory=Seen)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    audit: str = ""
    expected: int = 0
    sent: int = 0
    doubled: int = 0
    #: One per worker SIGKILL in the row: the message in hand may have been accepted by the
    #: server before the kill and not recorded; it goes again with the same Message-ID (the
    #: at-least-once edge hub/notifications/delivery.py documents), which a receiver can discard.
    allowed_doubles: int = 0
    #: False for a check run apart from the users' load (point-in-time recovery): no requests or
    #: e-mails of its own to count, shown as "-".
    under_load: bool = True


class Proof:
    def __init__(self, hub: Hub, world: dict, users: Load, args: argparse.Namespace):
        self.hub, self.world, self.load, self.args = hub, world, users, args
        self.rows: list[Row] = []
        self.download = hub.folder / "download.xlsx"
        self.download.write_bytes(_download(args.import_rows))
        self.importers = list(world["importers"])
        self.admin: requests.Session | None = None
        #: Delivery workers killed so far: each may leave one e-mail sent twice (see `account`).
        self.sigkills = 0

    # -- helpers --

    def last_outbox_id(self) -> int:
        return self.hub.one("SELECT max(id) FROM outbox_message")

    def import_in_background(self, importer: tuple[str, str] | None = None) -> threading.Thread:
        """A police download imported for the next force, or for `importer` (a force's code and an
        officer's e-mail), in its own process as an officer runs it."""
        code, email = importer or self.importers.pop(0)
        result: list = []
        thread = threading.Thread(target=lambda: result.append(self.hub.flask(
            ["missing", "import", str(self.download), "--force", code, "--as", email])), daemon=True)
        thread.result = result
        thread.start()
        return thread

    def wait(self, what: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.OperationalError):
                if what():
                    return True
            time.sleep(every)
        return False

    # -- the faults: each returns what it did, or raises when it could not be injected --

    def kill_mid_batch(self, own_import: bool = True, importer: tuple[str, str] | None = None) -> str:
        importing = self.import_in_background(importer) if own_import else None
        previous: dict[str, int] = {}
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                claimed = dict(self.hub.sql(
                    "SELECT claimed_by, count(*) FROM outbox_message WHERE status = 'pending' "
                    "AND claimed_until > now() AND claimed_by = ANY(%s) GROUP BY 1", (list(WORKERS),)))
                for name, held in claimed.items():
                    if 5 <= held < previous.get(name, 0):  # it holds a batch and is sending from it
                        self.hub.kill_worker(name)
                        self.sigkills += 1
                        time.sleep(3)
                        self.hub.start_worker(name)
                        return f"{name} killed holding {held} claimed e-mails of its batch, restarted 3 s later"
                previous = claimed
                time.sleep(0.05)
            raise RuntimeError("no worker was seen sending a batch")
        finally:
            if importing:
                importing.join()

    def kill_mid_integration(self, own_import: bool = True, importer: tuple[str, str] | None = None) -> str:
        importing = self.import_in_background(importer) if own_import else None
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                found = self.hub.sql(
                    "SELECT application_name, left(query, 40) FROM pg_stat_activity WHERE application_name = ANY(%s) "
                    "AND backend_xid IS NOT NULL AND query ~* '(audit_node|audit_event_organisation|SET seq)'",
                    (list(WORKERS),))
                if found:
                    name = found[0][0]
                    self.hub.kill_worker(name)
                    self.sigkills += 1
                    time.sleep(3)
                    self.hub.start_worker(name)
                    return f"{name} killed inside its integrator's transaction, restarted 3 s later"
                time.sleep(0.02)
            raise RuntimeError("no integration was caught in its transaction")
        finally:
            if importing:
                importing.join()

    def race(self) -> str:
        first = self.last_outbox_id()
        self.import_in_background().join()
        self.wait(lambda: not self.hub.one("SELECT count(*) FROM outbox_message WHERE id > %s "
                                           "AND status = 'pending'", (first,)), 120)
        by_worker = dict(self.hub.sql(
            "SELECT d.worker, count(*) FROM delivery_attempt d WHERE d.message_id > %s AND d.outcome = 'sent' "
            "GROUP BY 1", (first,)))
        burst = self.last_outbox_id() - first
        if not all(by_worker.get(name) for name in WORKERS):
            raise RuntimeError(f"the workers did not both send from the burst: {by_worker}")
        return (f"a burst of {burst} e-mails: " + ", ".join(f"{n} sent {by_worker[n]}" for n in WORKERS))

    def smtp_refusing(self, hold: float = 30) -> str:
        time.sleep(5)
        self.hub.mode("refuse")
        time.sleep(hold)
        self.hub.mode("accept")
        time.sleep(3)  # the message in hand when the mode changed is answered
        # Every failed e-mail, whenever queued: the backlog of an import is refused too.
        failed = [r[0] for r in self.hub.sql("SELECT id FROM outbox_message WHERE status = 'failed' ORDER BY id")]
        retried = self.retry_as_admin(failed)
        return (f"{len(failed)} e-mails refused (550) and failed, listed for the administrator; "
                f"{retried} retried over HTTP")

    def retry_as_admin(self, ids: list[int]) -> int:
        """The hub administrator's "send again" on the outbox page, for each failed e-mail."""
        if not ids:
            return 0
        if self.admin is None:
            self.admin = _util.sign_in(self.hub.base, ADMIN_EMAIL, self.world["admin_secret"])
        page = self.admin.get(f"{self.hub.base}/admin/outbox", timeout=60)
        page.raise_for_status()
        token = load._token(page.text)
        done = 0
        for message in ids:
            response = self.admin.post(f"{self.hub.base}/admin/outbox/{message}/retry", data={"csrf_token": token},
                                       allow_redirects=False, timeout=60)
            done += response.status_code == 302
        return done

    def smtp_slow(self, hold: float = 40) -> str:
        time.sleep(5)
        self.hub.mode("slow")
        time.sleep(hold)
        self.hub.mode("accept")
        return (f"every message answered after {sink.SLOW_SECONDS:.0f} s for {hold:.0f} s "
                f"(the hub waits {SMTP_TIMEOUT} s)")

    def smtp_down(self, hold: float = 60) -> str:
        time.sleep(5)
        self.hub.stop_sink()
        time.sleep(hold)
        self.hub.start_sink()
        return f"the SMTP server stopped for {hold:.0f} s (connections refused), then started"

    def db_restart(self) -> str:
        time.sleep(10)
        started = time.monotonic()
        self.hub.cluster.restart()
        return f"pg_ctl restart -m fast took {time.monotonic() - started:.1f} s"

    def kill_connection(self) -> str:
        time.sleep(3)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = self.hub.sql(
                "SELECT pid, state, split_part(ltrim(query), ' ', 1) FROM pg_stat_activity WHERE application_name = %s "
                "AND backend_xid IS NOT NULL AND state IN ('active', 'idle in transaction') LIMIT 1", (WEB,))
            if found:
                pid, state, verb = found[0]
                if self.hub.one("SELECT pg_terminate_backend(%s)::int", (pid,)):
                    return f"a web worker's connection ended ({state}, had written; last statement {verb})"
            time.sleep(0.005)
        raise RuntimeError("no web transaction was caught after its first write")

    FAULTS = (("worker SIGKILL mid-batch", "kill_mid_batch"),
              ("worker SIGKILL mid-integration", "kill_mid_integration"),
              ("two workers racing", "race"),
              ("SMTP refusing (550)", "smtp_refusing"),
              ("SMTP slow (20 s)", "smtp_slow"),
              ("SMTP down for a minute", "smtp_down"),
              ("database restarted", "db_restart"),
              ("connection killed mid-write", "kill_connection"))

    # -- a phase --

    def phase(self, name: str, fault: Callable[[], str] | None, seconds: float) -> Row:
        started = time.monotonic()
        row = Row(name, first_id=self.last_outbox_id() + 1)
        kills = self.sigkills
        self.load.take()
        print(f"-- {name}: {seconds:.0f} s under load", flush=True)
        outcome: list[str] = []

        def inject() -> None:
            try:
                outcome.append(fault() if fault else "none")
            except Exception as exc:  # noqa: BLE001 - reported as the phase's failure
                outcome.append(f"FAULT NOT INJECTED: {exc}")

        with self.load.running():
            injector = threading.Thread(target=inject, daemon=True)
            injector.start()
            time.sleep(seconds)
            injector.join()
        row.seen = self.load.take()
        row.allowed_doubles = self.sigkills - kills
        row.notes.append(outcome[0])
        if outcome[0].startswith("FAULT NOT INJECTED"):
            row.failures.append("the fault was not injected")
        self.settle_and_check(row)
        self.rows.append(row)
        print(f"   ({time.monotonic() - started:.0f} s with the checks)", flush=True)
        return row

    def settle_and_check(self, row: Row) -> None:
        """The hub left alone to catch up by itself, then every check of the phase."""
        caught_up = self.wait(lambda: self.hub.one("SELECT count(*) FROM audit_event WHERE seq IS NULL") == 0, 180)
        self.wait(lambda: self.hub.one(
            "SELECT count(*) FROM outbox_message WHERE status = 'pending' AND next_attempt_at <= now() "
            "AND (claimed_until IS NULL OR claimed_until < now())") == 0, 60)
        row.last_id = self.last_outbox_id()
        for name, process in [*self.hub.workers.items(), ("gunicorn", self.hub.web)]:
            if process.poll() is not None:  # only the proof kills, and it starts again what it killed
                row.failures.append(f"{name} exited by itself (code {process.returncode}); see its log")
                if name in WORKERS:
                    self.hub.start_worker(name)
        for invariant, query in INVARIANTS.items():
            if count := self.hub.one(query):
                row.failures.append(f"{count} {invariant}")
        for kind, count in row.seen.kinds.items():
            if kind != "error page":
                row.failures.append(f"{count} user error(s) seen as {kind}")
        verified = self.hub.flask(["audit", "verify"])
        pending = self.hub.one("SELECT count(*) FROM audit_event WHERE seq IS NULL")
        row.audit = ("verifies" if verified.returncode == 0 else "FAILS") + f", {pending} pending"
        if verified.returncode or pending or not caught_up:
            row.failures.append(f"audit log: {(verified.stdout + verified.stderr).strip()[-300:]}")
        users = self.load.users[:: max(1, len(self.load.users) // 5)]
        answers = [u.session.get(f"{self.hub.base}/", allow_redirects=False, timeout=60).status_code for u in users]
        if any(a != 200 for a in answers):
            row.failures.append(f"not recovered: users' home pages answered {answers}")
        print(f"   {row.seen.requests} requests, {row.seen.errors} errors {dict(row.seen.kinds)}; {row.notes[-1]}; "
              f"audit {row.audit}" + (f"; FAILED: {row.failures}" if row.failures else ""), flush=True)

    # -- the soak --

    def soak(self, seconds: float) -> tuple[Row, dict]:
        row = Row(f"soak {seconds / 60:.0f} min: import + every fault", first_id=self.last_outbox_id() + 1)
        self.load.take()
        print(f"-- soak: {seconds:.0f} s under load, an import and the faults interleaved", flush=True)
        samples: dict[tuple[str, int], list[tuple[float, int]]] = defaultdict(list)
        windows: list[tuple[float, float]] = []
        stop = threading.Event()
        started = time.monotonic()

        def sample() -> None:
            while not stop.is_set():
                for label, pid in self.hub.processes().items():
                    if (kb := rss_kb(pid)) is not None:
                        samples[(label, pid)].append((time.monotonic() - started, kb))
                stop.wait(5)

        # The soak's imports run back to back (while importing forces remain), and the two workers
        # race for their e-mails all along. The two kills each keep a force of their own for a
        # burst at their moment: on a quiet machine the back-to-back imports were all done and
        # sent within the first minute, and the kill found no batch to interrupt (CI, 2026-12-07).
        reserved = {kill: self.importers.pop() for kill in ("kill_mid_batch", "kill_mid_integration")
                    if self.importers}
        short = {"smtp_refusing": lambda: self.smtp_refusing(15), "smtp_slow": lambda: self.smtp_slow(25),
                 "smtp_down": lambda: self.smtp_down(60), "race": None,
                 "kill_mid_batch": lambda: self.kill_mid_batch("kill_mid_batch" in reserved,
                                                               reserved.get("kill_mid_batch")),
                 "kill_mid_integration": lambda: self.kill_mid_integration("kill_mid_integration" in reserved,
                                                                           reserved.get("kill_mid_integration"))}
        faults = [(name, short.get(method, getattr(self, method))) for name, method in self.FAULTS
                  if short.get(method, True) is not None]
        slot = seconds / (len(faults) + 1)
        kills = self.sigkills
        imported: list = []

        def imports() -> None:
            while self.importers and not stop.is_set():
                one = self.import_in_background()
                one.join()
                imported.extend(one.result)

        importing = threading.Thread(target=imports, daemon=True)

        def interleave() -> None:
            importing.start()
            time.sleep(5)  # the first import under way: the kills below find a batch to interrupt
            for n, (name, fault) in enumerate(faults, start=1):
                stop.wait(max(0.0, started + n * slot - time.monotonic()))
                begin = time.monotonic()
                try:
                    row.notes.append(f"{name}: {fault()}")
                except Exception as exc:  # noqa: BLE001 - reported as the soak's failure
                    row.failures.append(f"{name}: the fault was not injected ({exc})")
                windows.append((begin, time.monotonic() + 15))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with self.load.running():
            injector = threading.Thread(target=interleave, daemon=True)
            injector.start()
            time.sleep(seconds)
            injector.join()
            stop.set()
            importing.join()
        sampler.join()
        row.seen = self.load.take()
        row.allowed_doubles = self.sigkills - kills
        row.notes.append(f"{len(imported)} imports of {self.args.import_rows} rows"
                         + (f", {sum(1 for r in imported if r.returncode)} FAILED" if any(
                             r.returncode for r in imported) else ""))
        if any(r.returncode for r in imported):
            row.failures.append("an import failed")
        outside = sum(1 for t in row.seen.at if not any(a <= t <= b for a, b in windows))
        row.notes.append(f"{row.seen.errors - outside} user errors inside the faults' windows, {outside} outside")
        if outside:
            row.failures.append(f"{outside} user errors outside the faults' windows")
        memory = self.memory(samples, time.monotonic() - started)
        lives = defaultdict(list)
        for (label, pid), points in samples.items():
            lives[label].append(f"{pid} {points[0][0]:.0f}-{points[-1][0]:.0f} s")
        row.notes += [f"{label} not judged for memory, restarted: lived {', '.join(spans)}"
                      for label, spans in sorted(lives.items()) if label not in memory]
        for label, figures in memory.items():
            if figures["growth_mb"] > MEMORY_BOUND_MB:
                row.failures.append(f"{label} grew {figures['growth_mb']:.0f} MB (bound {MEMORY_BOUND_MB} MB)")
        self.settle_and_check(row)
        self.rows.append(row)
        return row, memory

    @staticmethod
    def memory(samples: dict, length: float) -> dict[str, dict]:
        """Per process that lived through most of the soak: median RSS of the first and the last
        quarter, and the largest seen. A process started during the soak (a worker restarted
        after its SIGKILL) is judged from WARM_UP seconds after its start: it is still importing
        the hub and filling its caches before (+100 MB in a minute), which is not growth."""
        out = {}
        for (label, _pid), points in sorted(samples.items()):
            if points[0][0] > 10:
                points = [p for p in points if p[0] >= points[0][0] + WARM_UP]
            if len(points) < 4 or points[-1][0] - points[0][0] < length / 2:
                continue  # a process restarted by a fault: too short-lived to speak of growth
            quarter = max(1, len(points) // 4)
            first = statistics.median(kb for _, kb in points[:quarter]) / 1024
            last = statistics.median(kb for _, kb in points[-quarter:]) / 1024
            out[label] = {"first_mb": first, "last_mb": last, "max_mb": max(kb for _, kb in points) / 1024,
                          "growth_mb": last - first}
        return out

    # -- the e-mails, counted at the sink once nothing more can go --

    def account(self, timeout: float) -> None:
        """Wait until no e-mail is pending (retries' backoffs and a killed worker's lease run out),
        then count each phase's e-mails at the sink by Message-ID."""
        drained = self.wait(lambda: self.hub.one("SELECT count(*) FROM outbox_message WHERE status = 'pending'") == 0,
                            timeout, every=2)
        copies = Counter(sink.received(self.hub.mail))
        known = {f"<outbox-{i}@hub>" for (i,) in self.hub.sql("SELECT id FROM outbox_message")}
        strangers = sum(n for mid, n in copies.items() if mid not in known)
        states = dict(self.hub.sql("SELECT status, count(*) FROM outbox_message GROUP BY 1"))
        queued = sorted(int(mid[len("<outbox-"):-len("@hub>")]) for mid in known)
        for row in self.rows:
            # The e-mails the phase queued are the outbox rows committed in its range of ids: a
            # transaction rolled back by a fault (a connection killed after it queued e-mails)
            # has used ids of the sequence without leaving rows, and nothing was due for them.
            in_range = [i for i in queued if row.first_id <= i <= row.last_id]
            skipped = row.last_id - row.first_id + 1 - len(in_range)
            if skipped:
                row.notes.append(f"{skipped} id(s) of the outbox sequence used by a transaction rolled back, no row")
            ids = [f"<outbox-{i}@hub>" for i in in_range]
            row.expected = len(ids)
            row.sent = sum(1 for i in ids if copies[i])
            row.doubled = sum(1 for i in ids if copies[i] > 1)
            if row.sent != row.expected or row.doubled > row.allowed_doubles:
                row.failures.append(f"e-mails: {row.expected} expected, {row.sent} sent, {row.doubled} doubled")
            elif row.doubled:
                row.notes.append(f"{row.doubled} e-mail(s) sent twice, at most one per worker SIGKILL: the message "
                                 "in hand, accepted before the kill and not recorded, sent again with its Message-ID")
        if not drained or strangers or states.get("failed") or states.get("pending"):
            self.rows[-1].failures.append(f"outbox at the end {states}; {strangers} unknown message(s) at the sink"
                                          + ("" if drained else f"; not drained within {timeout:.0f} s"))


def print_table(rows: list[Row], memory: dict | None) -> None:
    head = ("fault", "requests", "user errors", "e-mails exp/sent/dbl", "audit log", "result")
    lines = [(r.fault, str(r.seen.requests),
              f"{r.seen.errors}" + (f" ({r.seen.kinds['error page']} error page)" if r.seen.errors else ""),
              f"{r.expected}/{r.sent}/{r.doubled}", r.audit, "ok" if not r.failures else "FAILED")
             if r.under_load else (r.fault, "-", "-", "-", r.audit, "ok" if not r.failures else "FAILED")
             for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    print()
    for line in [head, tuple("-" * w for w in widths), *lines]:
        print("  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
    print()
    for r in rows:
        print(f"{r.fault}: " + "; ".join(r.notes))
        for failure in r.failures:
            print(f"   FAILED: {failure}")
        for sample in r.seen.samples:
            print(f"   seen: {sample}")
    if memory:
        print("\nresident memory during the soak (MB; median of the first and last quarter; "
              f"bound +{MEMORY_BOUND_MB}):")
        for label, m in memory.items():
            print(f"   {label:24s} {m['first_mb']:7.1f} -> {m['last_mb']:7.1f}  (max {m['max_mb']:7.1f}, "
                  f"growth {m['growth_mb']:+6.1f})")


def point_in_time_recovery() -> Row:
    """proof.pitr on a cluster of its own (archiving on), after the faults: the table's last row."""
    print("-- point-in-time recovery: base backup, WAL archive, recovered to a time and to a restore point", flush=True)
    check, seconds = pitr.run()
    return Row("point-in-time recovery", notes=[*check.notes, f"{seconds:.0f} s"], failures=check.failures,
               audit=check.audit, under_load=False)


def _world(users: int, rows: int) -> dict:
    """bench.load's world, and a hub administrator (who retries refused e-mails)."""
    world = load._setup(users, rows)
    host = db.session().scalar(select(Organisation).where(Organisation.code == "B-HOST"))
    user = admin.create_user(None, admin.UserDetails(ADMIN_EMAIL, "Proof administrator", host.id, {Role.hub_admin},
                                                     password=_util.PASSWORD))
    world["admin_secret"] = _util.give_totp([user.id])[user.id]
    db.session.remove()
    return world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", type=float, default=45, help="seconds under load per fault (at least)")
    parser.add_argument("--soak", type=float, default=600, help="seconds of the soak (0: none)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--think", type=float, default=5.0, help="mean pause between a user's requests (s)")
    parser.add_argument("--rows", type=int, default=2000, help="children in the world")
    parser.add_argument("--import-rows", type=int, default=IMPORT_ROWS, help="rows of each police download imported")
    parser.add_argument("--only", nargs="*", default=None,
                        help="run only these faults (method names, see FAULTS; `pitr`: point-in-time recovery)")
    parser.add_argument("--drain", type=float, default=900, help="seconds to wait at the end for the outbox to empty")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with own_cluster() as cluster, tempfile.TemporaryDirectory(prefix="proof_faults_") as tmp:
        folder = Path(tmp)
        admin_dsn = cluster.url.replace("+psycopg", "")
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute("CREATE DATABASE proof_faults")
        url = cluster.url.rsplit("/", 1)[0] + "/proof_faults"
        _util.environment(folder, database_url=url)  # set up with fast password hashes; served as development
        world = _world(args.users, args.rows)
        world["app"].extensions["hub_engine"].dispose()
        os.environ["HUB_ENV"] = "development"
        hub = Hub(folder, dict(os.environ), cluster, url.replace("+psycopg", ""))
        print(f"(the world built on a PostgreSQL cluster of the proof's own, port {cluster.port}, "
              f"in {time.monotonic() - started:.0f} s)", flush=True)
        memory = None
        try:
            hub.start()
            with ThreadPoolExecutor(8) as pool:
                users = list(pool.map(lambda ix: load._User(hub.base, *ix[1][:2], ix[1][2], ix[1][3],
                                                             world["police"], ix[0]), enumerate(world["users"])))
            print(f"({len(users)} users signed in; gunicorn with 4 workers, delivery workers {', '.join(WORKERS)})",
                  flush=True)
            proof = Proof(hub, world, Load(users, args.think), args)
            for name, method in proof.FAULTS:
                if args.only is None or method in args.only:
                    proof.phase(name, getattr(proof, method), args.phase)
            if args.soak:
                _row, memory = proof.soak(args.soak)
            print(f"-- counting the e-mails at the sink once the outbox is empty (up to {args.drain:.0f} s)",
                  flush=True)
            proof.account(args.drain)
        finally:
            hub.stop()
        if args.only is None or "pitr" in args.only:
            proof.rows.append(point_in_time_recovery())
        print_table(proof.rows, memory)
        failed = [r.fault for r in proof.rows if r.failures]
        if failed:  # the processes' logs (the web's tracebacks, the workers' lines) outlive the run
            kept = Path(tempfile.mkdtemp(prefix="proof_faults_logs_"))
            for log in folder.glob("*.log"):
                shutil.copy(log, kept)
            shutil.copy(cluster.log, kept / "postgresql.log")
            print(f"(the processes' logs are kept in {kept})")
        minutes = (time.monotonic() - started) / 60
        print(f"\n{len(proof.rows) - len(failed)} of {len(proof.rows)} passed in {minutes:.0f} min"
              + (f"; FAILED: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
