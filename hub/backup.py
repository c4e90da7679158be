"""Backing up the hub's database and restoring it into a fresh one (`flask --app hub db backup` and
`db restore`; README, "Backup and restore").

SQLite: Python's online backup API, which copies a consistent snapshot while the hub runs (a copy
of the file would miss what is still in the write-ahead log). PostgreSQL: `pg_dump` in its custom
format and `pg_restore`, the tools the operator's own procedures use; point-in-time recovery from
archived WAL is the operator's, set up outside the hub (README).

A restore goes only into an empty database: restoring over a live hub would silently mix two
histories. A restored hub is always older than the log its partners have seen: `audit verify
--against` the latest tree head kept outside the database, and the witnesses, say what is missing.
"""

from __future__ import annotations

import shutil
import sqlite3

# Runs PostgreSQL's own pg_dump and pg_restore with an argument list, never a shell (bandit B404, B603).
import subprocess  # nosec B404
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Engine, make_url


class BackupError(Exception):
    """The backup or restore could not be made; the message says why, without credentials."""


def backup(engine: Engine, out: Path) -> None:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(Path(url.database), out)
    elif url.get_backend_name() == "postgresql":
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(out), "--dbname", _libpq_url(engine)])
    else:
        raise BackupError(f"no backup procedure for {url.get_backend_name()}")


def restore(engine: Engine, backup_file: Path) -> None:
    """Restore `backup_file` into the engine's database, which must hold no tables."""
    if not backup_file.is_file():
        raise BackupError(f"{backup_file.name}: no such backup")
    if inspect(engine).get_table_names():
        raise BackupError("the database is not empty: restore into a fresh database")
    url = engine.url
    engine.dispose()
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(backup_file, Path(url.database))
    elif url.get_backend_name() == "postgresql":
        _run([_tool("pg_restore"), "--no-owner", "--exit-on-error", "--dbname", _libpq_url(engine), str(backup_file)])
    else:
        raise BackupError(f"no restore procedure for {url.get_backend_name()}")


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"{source.name}: no such database file")
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)


def _libpq_url(engine: Engine) -> str:
    # pg_dump takes a libpq URL: the driver suffix (postgresql+psycopg) is SQLAlchemy's own.
    return make_url(engine.url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL's client tools)")
    return found


def _run(command: list[str]) -> None:
    # bandit B603: an argument list (no shell) naming the tool found on PATH and the operator's settings.
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # nosec B603
    if done.returncode != 0:
        # The tools' messages name tables and options, never the connection string's password.
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[:500]}")
