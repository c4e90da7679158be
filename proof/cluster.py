"""A PostgreSQL cluster of the proof's own, so that restarting the database mid-run restarts
nobody else's: `initdb` into a temporary folder, served on a free loopback port by `pg_ctl`,
stopped and removed at the end. `restart()` is what `pg_ctlcluster ... restart` does (pg_ctl
restart, fast mode: sessions are ended, open transactions rolled back). proof.pitr also serves a
second data directory (a base backup restored) from the same folder on a port of its own.

Run as root (CI), the cluster's programs run as the `postgres` user: PostgreSQL refuses root."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("no PostgreSQL server programs under /usr/lib/postgresql")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, folder: Path, port: int, name: str = "data"):
        self.folder, self.port = folder, port
        self.data = folder / name
        self.log = folder / f"{name}.log"
        self.bin = _bin()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        """A PostgreSQL program (initdb, pg_ctl, pg_basebackup...) as the cluster's owner."""
        self.run_as_owner(str(self.bin / args[0]), *args[1:], timeout=timeout)

    def run_as_owner(self, *command: str, timeout: float = 120) -> None:
        """Any command as the user the cluster's files belong to (`postgres` when run as root)."""
        result = subprocess.run([*self._as, *command], capture_output=True, text=True, timeout=timeout,
                                cwd=self.folder)
        if result.returncode:
            raise RuntimeError(f"{Path(command[0]).name} failed: {(result.stdout + result.stderr)[-1500:]}")

    def own(self, path: Path) -> None:
        """Give a folder made by the proof to the cluster's owner (root's would be unwritable to it)."""
        if self._as:
            user = pwd.getpwnam("postgres")
            os.chown(path, user.pw_uid, user.pw_gid)

    def create(self, settings: dict[str, str] | None = None) -> None:
        """initdb, then start. `settings` are appended to postgresql.conf, as an operator sets them."""
        self.own(self.folder)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        if settings:
            with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self.start()

    def start(self) -> None:
        # fsync off: a throw-away cluster; a restart still checkpoints and rolls back what was open.
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                   "-c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def restart(self) -> None:
        """Fast restart, as `pg_ctlcluster VERSION main restart` does (the options are kept)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def own_cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="proof_faults_pg_"))
    cluster = Cluster(folder, _free_port())
    try:
        cluster.create()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
