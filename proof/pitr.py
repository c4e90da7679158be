"""Point-in-time recovery from a WAL archive (issue 24): `python -m proof.pitr`, also the last row
of `python -m proof.faults` (`make proof`).

The README's procedure ("Backup and restore", point-in-time recovery), run for real on a
PostgreSQL cluster of the proof's own (proof.cluster: never the server on 5432):

1. `initdb`, with `wal_level = replica`, `archive_mode = on` and an `archive_command` copying each
   WAL segment to an archive folder, set in postgresql.conf; the hub's migrations and the
   fictional demo data (`flask --app hub db upgrade`, `flask --app hub demo-data`, which signs a
   tree head);
2. `pg_basebackup -Ft -z -X fetch` while the hub's database is live;
3. more written through the hub's services (missing episodes from a police download, shares of
   the council's), the audit log sequenced and a tree head signed (`audit sign`); then the
   recovery target: a named restore point (`pg_create_restore_point`);
4. still more written and signed after the target (the writes a restore to the target loses),
   and the latest signed tree head kept outside the database (`audit tree-head --out`), as an
   operator keeps it; the WAL switched and archived; PostgreSQL stopped;
5. the base backup unpacked into a new data directory, `restore_command`, `recovery_target_name`
   and `recovery_target_action = 'promote'` set, `recovery.signal` made, and PostgreSQL started on
   another port: it replays the archive up to the restore point and opens. The same is done once
   more with `recovery_target_time` (the time read just after the restore point) into a third data
   directory, whose data and log must be the same.

Then, with the hub pointed at the recovered database: what was written before the target is there
and what came after it is not; the audit log holds exactly the entries signed at the target;
`audit verify --against` the kept head reports the entries after the target as missing (the
restore is not silent); `flask --app hub db upgrade` passes; the hub starts (gunicorn,
a demo user signs in with password and TOTP and sees their home page); and, its events
sequenced (`audit integrate`, what the delivery worker does), `audit verify` passes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import select

from bench import _util
from hub import create_app, db, retention_demo
from hub.audit.context import cli_origin
from hub.db import unit_of_work, utcnow
from hub.demo import DEMO_PASSWORD, DOMAIN
from hub.missing import details as missing_details
from hub.missing import service as missing
from hub.models.auth import Organisation, User
from hub.models.missing import Classification, EpisodeSource, MissingFrom, RiskGrade
from hub.models.people import IdentifierKind
from hub.people import service as people
from proof.cluster import Cluster, _free_port

TARGET = "proof-pitr-before-damage"
#: Demo children by their number (DEMO-nnnn): the force's (every 4th) for episodes; the council's
#: own (every 3rd, not the Westmere placements of every 10th) for the social worker's shares.
BEFORE = {"episodes": (16, 20, 24), "shares": (9, 15, 18)}
AFTER = {"episodes": (28, 32, 36), "shares": (21, 27, 33)}
SIGNS_IN = f"social.worker@{DOMAIN}"
DATABASE = "hub_pitr"


class Check:
    """The row's figures and failures, as proof.faults prints them."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.audit = "not reached"  # the audit log's column: verified, and how much the kept head misses

    def that(self, ok: bool, failure: str) -> bool:
        if not ok:
            self.failures.append(failure)
        return ok


def _flask(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return _util.flask(list(args), env, timeout=timeout)


def _ok(result: subprocess.CompletedProcess, what: str) -> str:
    if result.returncode:
        raise RuntimeError(f"{what} failed: {(result.stdout + result.stderr)[-1500:]}")
    return result.stdout


def _child(number: int) -> int:
    [child_id] = people.child_ids_by_identifier(IdentifierKind.la_id, f"DEMO-{number:04d}")
    return child_id


def _write(app, label: str, numbers: dict[str, tuple[int, ...]]) -> None:
    """Episodes from a police download (the force's officer) and shares (the council's social
    worker, authorised by the missing team's manager), through the hub's services, each with its
    audit events in its own transaction."""
    with app.app_context():
        cli_origin()
        user = lambda local: db.session().scalar(select(User).where(User.email == f"{local}@{DOMAIN}"))  # noqa: E731
        officer, worker, manager = user("police.coordinator"), user("social.worker"), user("missing.team")
        force = db.session().scalar(select(Organisation).where(Organisation.code == "NBPOL"))
        health = db.session().scalar(select(Organisation).where(Organisation.code == "NBNHS"))
        now = utcnow().replace(microsecond=0)
        for number in numbers["episodes"]:
            details = missing_details.EpisodeDetails(
                police_reference=f"PITR-{label}-{number:04d}", reported_start=now - timedelta(hours=3),
                classification=Classification.missing, risk_grade=RiskGrade.medium, missing_from=MissingFrom.home,
                found_at=None)
            with unit_of_work():
                missing.apply_police_record(officer, force.id, _child(number), details, EpisodeSource.police_download)
        for number in numbers["shares"]:
            retention_demo._share(worker, manager, _child(number), health, f"PITR-{label}-{number:04d}")
        db.session.remove()


def _counts(dsn: str) -> dict[str, int]:
    """What the proof wrote before and after the target, and the audit log's size."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        one = lambda sql: connection.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "episodes before": one("SELECT count(*) FROM missing_episode WHERE police_reference LIKE 'PITR-before-%'"),
            "episodes after": one("SELECT count(*) FROM missing_episode WHERE police_reference LIKE 'PITR-after-%'"),
            "shares before": one("SELECT count(*) FROM share_record WHERE evidence_reference LIKE 'PITR-before-%'"),
            "shares after": one("SELECT count(*) FROM share_record WHERE evidence_reference LIKE 'PITR-after-%'"),
            "log": one("SELECT count(*) FROM audit_event WHERE seq IS NOT NULL"),
            "pending": one("SELECT count(*) FROM audit_event WHERE seq IS NULL"),
        }


def _wait(what: Callable[[], bool], timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.OperationalError):
            if what():
                return
        time.sleep(0.3)
    raise RuntimeError(failure)


def _archived(dsn: str) -> None:
    """Switch to a new WAL segment and wait until the one holding everything so far is archived
    (what `archive_timeout` would do in time; the proof does not wait for it)."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        segment = connection.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]

    def done() -> bool:
        with psycopg.connect(dsn, autocommit=True) as connection:
            last, failed = connection.execute(
                "SELECT last_archived_wal, failed_count FROM pg_stat_archiver").fetchone()
        if failed:
            raise RuntimeError(f"archive_command failed {failed} time(s): see the server's log")
        return last is not None and last >= segment

    _wait(done, 60, f"WAL segment {segment} not archived within 60 s")


@contextlib.contextmanager
def _running(cluster: Cluster) -> Iterator[Cluster]:
    try:
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()


def _recover(folder: Path, name: str, base: Path, archive: Path, target: str) -> Cluster:
    """The base backup unpacked into a new data directory, recovered from the archive up to
    `target` and promoted, served on a port of its own (the caller stops it)."""
    cluster = Cluster(folder, _free_port(), name)
    cluster.data.mkdir(mode=0o700)
    cluster.own(cluster.data)
    cluster.run_as_owner("tar", "-xzf", str(base / "base.tar.gz"), "-C", str(cluster.data))
    with (cluster.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(f"restore_command = 'cp {archive}/%f %p'\n{target}\nrecovery_target_action = 'promote'\n")
        # A throw-away copy: its new timeline is not archived beside the source's, where the next
        # recovery (recovery_target_timeline 'latest') would follow it. An operator's keeps archiving.
        conf.write("archive_mode = off\n")
    cluster.run_as_owner("touch", str(cluster.data / "recovery.signal"))
    cluster.start()
    dsn = cluster.url.replace("+psycopg", "")

    def promoted() -> bool:  # it takes read-only connections while it replays: wait until it is done
        with psycopg.connect(dsn, autocommit=True) as connection:
            return not connection.execute("SELECT pg_is_in_recovery()").fetchone()[0]

    try:
        _wait(promoted, 120, f"{name}: the cluster did not leave recovery within 120 s")
    except RuntimeError:
        with contextlib.suppress(Exception):
            cluster.stop()
        raise
    return cluster


def _sign_in(env: dict, password_of: str, secret: str) -> int:
    """The hub served by gunicorn on the recovered database; a demo user signs in (password and
    TOTP) and opens their home page: its status code."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, once gunicorn has stopped
    web, base = None, ""
    try:
        web, base = _util.serve("hub:create_app()", {**env, "HUB_ENV": "development"}, workers=1, log=log)
        session = _util.signed_in_session(base, password_of, DEMO_PASSWORD, secret)
        home = session.get(f"{base}/", allow_redirects=False, timeout=60)
        return home.status_code if "Sam Social" in home.text else -home.status_code
    finally:
        _util.stop(web)
        log.close()


def run() -> tuple[Check, float]:
    """The whole procedure in a temporary folder, removed at the end: (the checks, seconds)."""
    started = time.monotonic()
    check = Check()
    saved_environ = dict(os.environ)
    folder = Path(tempfile.mkdtemp(prefix="proof_pitr_"))
    try:
        _procedure(folder, check)
    except Exception as exc:  # noqa: BLE001 - the row fails with the reason, the run goes on
        logs = "; ".join(f"{p.name}: {p.read_text(errors='replace')[-600:]}" for p in folder.glob("*.log"))
        check.failures.append(f"{exc}" + (f" (PostgreSQL's logs: {logs})" if logs else ""))
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        shutil.rmtree(folder, ignore_errors=True)
    return check, time.monotonic() - started


def _procedure(folder: Path, check: Check) -> None:
    source = Cluster(folder, _free_port(), "data")
    archive, base = folder / "wal-archive", folder / "base"
    with _running(source):
        source.create({"wal_level": "replica", "archive_mode": "on",
                       "archive_command": f"'test ! -f {archive}/%f && cp %p {archive}/%f'"})
        for made in (archive, base):
            made.mkdir()
            source.own(made)
        admin_dsn = source.url.replace("+psycopg", "")
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        url = source.url.rsplit("/", 1)[0] + f"/{DATABASE}"
        dsn = url.replace("+psycopg", "")
        _util.environment(folder, database_url=url)  # the hub's keys, generated for the run
        env = dict(os.environ)
        _ok(_flask(env, "db", "upgrade"), "db upgrade")
        loading = time.monotonic()
        demo = _ok(_flask(env, "demo-data"), "demo-data")
        check.notes.append(f"demo data loaded in {time.monotonic() - loading:.0f} s")
        secret = re.search(rf"{re.escape(SIGNS_IN)}\n(?:    .*\n)*?    totp secret: (\S+)", demo).group(1)

        # --checkpoint=fast: start now, not after a spread checkpoint (minutes on an idle cluster).
        source.run_as_owner(str(source.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(source.port), "-U",
                            "postgres", "-D", str(base), "-Ft", "-z", "-X", "fetch", "--checkpoint=fast")
        at_backup = _counts(dsn)

        app = create_app()
        try:
            _write(app, "before", BEFORE)
            _ok(_flask(env, "audit", "sign"), "audit sign")
            with psycopg.connect(dsn, autocommit=True) as connection:
                lsn = connection.execute("SELECT pg_create_restore_point(%s)", (TARGET,)).fetchone()[0]
                # A time target: after every commit so far, before any of the writes below.
                moment = connection.execute("SELECT clock_timestamp()").fetchone()[0].isoformat()
            at_target = _counts(dsn)
            _write(app, "after", AFTER)  # the writes the recovery to the target loses
        finally:
            db.session.remove()
            app.extensions["hub_engine"].dispose()
        _ok(_flask(env, "audit", "sign"), "audit sign")
        kept = folder / "kept-tree-head.json"  # outside the database, as the operator keeps it
        _ok(_flask(env, "audit", "tree-head", "--out", str(kept)), "audit tree-head")
        latest = _counts(dsn)
        _archived(admin_dsn)
    segments = sum(1 for p in archive.iterdir() if re.fullmatch(r"[0-9A-F]{24}", p.name))
    check.notes.append(f"base backup at log size {at_backup['log']}; restore point {TARGET!r} at {lsn}, log size "
                       f"{at_target['log']}; kept tree head of {latest['log']} entries; "
                       f"{segments} WAL segments archived")

    # The same base backup and archive recovered to the same point by time (the README's first
    # example): its data and log only; then by the restore point's name, and every check.
    by_time = _recover(folder, "recovered-by-time", base, archive, f"recovery_target_time = '{moment}'")
    with _running(by_time):
        got = _counts(by_time.url.replace("+psycopg", "").rsplit("/", 1)[0] + f"/{DATABASE}")
    for what in ("episodes before", "shares before", "episodes after", "shares after", "log"):
        check.that(got[what] == at_target[what], f"recovered to the time: {what} {got[what]}, {at_target[what]} at "
                                                 f"the target ({latest[what]} at the end)")
    check.notes.append(f"recovered to the time {moment}: {got['episodes before']}+{got['shares before']} before, "
                       f"{got['episodes after']}+{got['shares after']} after, log size {got['log']}")

    replaying = time.monotonic()
    recovered = _recover(folder, "recovered", base, archive, f"recovery_target_name = '{TARGET}'")
    with _running(recovered):
        recovered_dsn = recovered.url.replace("+psycopg", "").rsplit("/", 1)[0] + f"/{DATABASE}"
        check.notes.append(f"recovered to the restore point and promoted in {time.monotonic() - replaying:.1f} s")
        got = _counts(recovered_dsn)
        env = {**env, "HUB_DATABASE_URL": recovered.url.rsplit("/", 1)[0] + f"/{DATABASE}"}
        for what in ("episodes before", "shares before", "episodes after", "shares after", "log", "pending"):
            check.that(got[what] == at_target[what],
                       f"recovered {what}: {got[what]}, {at_target[what]} at the target ({latest[what]} at the end)")
        check.that(at_target["episodes before"] == len(BEFORE["episodes"]) and at_target["shares before"] == len(
            BEFORE["shares"]) and latest["episodes after"] == len(AFTER["episodes"]) and latest["shares after"] == len(
            AFTER["shares"]), f"the writes were not all made: {at_target} then {latest}")
        check.notes.append(f"recovered: {got['episodes before']} episodes and {got['shares before']} shares written "
                           f"before the target, {got['episodes after']} and {got['shares after']} after it "
                           f"(written: {latest['episodes after']} and {latest['shares after']})")

        against = _flask(env, "audit", "verify", "--against", str(kept))
        missing_entries = latest["log"] - got["log"]
        said = f"the saved tree head covers {latest['log']} entries but the log has {got['log']}"
        check.that(against.returncode == 1 and said in against.stdout + against.stderr,
                   f"verify --against the kept head: exit {against.returncode}, "
                   f"{(against.stdout + against.stderr).strip()[-400:]}")
        check.that(missing_entries > 0, "no entry written after the target")
        upgraded = _flask(env, "db", "upgrade")
        check.that(upgraded.returncode == 0, f"db upgrade: {(upgraded.stdout + upgraded.stderr)[-400:]}")
        serving = time.monotonic()
        home = _sign_in(env, SIGNS_IN, secret)
        check.notes.append(f"hub served and signed in to in {time.monotonic() - serving:.0f} s")
        check.that(home == 200, f"the hub on the recovered database: home page {home} after signing in")
        # The sign-in's events are sequenced as the delivery worker's integrator would (the proof
        # runs no worker): left pending for 30 s they are rightly an alarm of `audit verify`.
        _ok(_flask(env, "audit", "integrate"), "audit integrate")
        verified = _flask(env, "audit", "verify")
        check.that(verified.returncode == 0, f"audit verify: {(verified.stdout + verified.stderr).strip()[-400:]}")
        check.notes.append(f"against the kept head: {missing_entries} entries after the target missing "
                           f"({'reported' if said in against.stdout + against.stderr else 'NOT reported'}); "
                           f"hub started, home page {home}; audit verify "
                           + ("passes" if verified.returncode == 0 else "FAILS"))
        check.audit = (f"{'verifies' if verified.returncode == 0 else 'FAILS'}; "
                       f"{missing_entries} missing vs kept head")


def main() -> int:
    """The check alone (`make proof` prints it as the last row of proof.faults' table)."""
    check, seconds = run()
    print(f"point-in-time recovery: audit log {check.audit}; " + "; ".join(check.notes))
    for failure in check.failures:
        print(f"   FAILED: {failure}")
    print(f"\npoint-in-time recovery {'FAILED' if check.failures else 'passed'} in {seconds:.0f} s")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
