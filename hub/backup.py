"""Backing up the hub's database and restoring it into a fresh one (`flask --app hub db backup` and
`db restore`; README, "Backup and restore").

SQLite: Python's online backup API, which copies a consistent snapshot while the hub runs (a copy
of the file would miss what is still in the write-ahead log). PostgreSQL: `pg_dump` in its custom
format and `pg_restore`, the tools the operator's own procedures use; point-in-time recovery from
archived WAL is the operator's, set up outside the hub (README).

A backup leaves out the children's data keys (crypto-shredding, hub.crypto): the wrapped keys are
kept apart, by `keys backup`, of which only the latest copy is kept, so a child whose records were
destroyed after a backup was made can never be read from it again: the backup holds the child's
fields, but no copy of the key that opens them survives. A restore loads the keys from that latest
copy (`db restore --keys FILE`).

A restore goes only into an empty database: restoring over a live hub would silently mix two
histories. A restored hub is always older than the log its partners have seen: `audit verify
--against` the latest tree head kept outside the database, and the witnesses, say what is missing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

# Runs PostgreSQL's own pg_dump and pg_restore with an argument list, never a shell (bandit B404, B603).
import subprocess  # nosec B404
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

#: The table of the children's wrapped data keys: never in a backup of the data.
KEYS_TABLE = "child_data_key"
_KEY_COLUMNS = ("id", "child_id", "wrapped_key", "created_at", "destroyed_at")
_READ_KEYS = "SELECT id, child_id, wrapped_key, created_at, destroyed_at FROM child_data_key ORDER BY id"
_EMPTY_KEYS = "UPDATE child_data_key SET wrapped_key = NULL"
_DROP_KEYS = "DELETE FROM child_data_key"
_LOAD_KEY = ("INSERT INTO child_data_key (id, child_id, wrapped_key, created_at, destroyed_at) "
             "VALUES (:id, :child_id, :wrapped_key, :created_at, :destroyed_at)")


class BackupError(Exception):
    """The backup or restore could not be made; the message says why, without credentials."""


def backup(engine: Engine, out: Path) -> None:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(Path(url.database), out)
        with sqlite3.connect(out) as copy:  # the keys out, and their bytes out of the free pages too
            copy.execute("PRAGMA journal_mode=DELETE")  # one file: no write-ahead log beside it
            copy.execute("PRAGMA secure_delete=ON")
            if copy.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (KEYS_TABLE,)).fetchone():
                copy.execute(_EMPTY_KEYS)
        with sqlite3.connect(out) as copy:
            copy.execute("VACUUM")
    elif url.get_backend_name() == "postgresql":
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--exclude-table-data={KEYS_TABLE}",
              "--file", str(out), "--dbname", _libpq_url(engine)])
    else:
        raise BackupError(f"no backup procedure for {url.get_backend_name()}")


def backup_keys(engine: Engine, out: Path) -> int:
    """The children's data keys, still wrapped by the field keys, as JSON lines (one key a line,
    destroyed ones with no key): keep only the latest copy. How many keys it holds."""
    with engine.connect() as conn:
        rows = conn.execute(text(_READ_KEYS)).all()
    written = out.with_name(out.name + ".new")
    with written.open("w", encoding="ascii") as file:
        for row in rows:
            file.write(json.dumps({c: (str(v) if v is not None and c.endswith("_at") else v)
                                   for c, v in zip(_KEY_COLUMNS, row, strict=True)}) + "\n")
    written.replace(out)  # the previous copy goes as the new one lands
    return sum(1 for row in rows if row[2] is not None)


def _load_keys(engine: Engine, keys_file: Path) -> None:
    """The restored database's key table, replaced by the latest copy of the keys."""
    if not keys_file.is_file():
        raise BackupError(f"{keys_file.name}: no such key file")
    rows = [json.loads(line) for line in keys_file.read_text(encoding="ascii").splitlines() if line.strip()]
    with engine.begin() as conn:
        conn.execute(text(_DROP_KEYS))
        if rows:
            conn.execute(text(_LOAD_KEY), rows)


def restore(engine: Engine, backup_file: Path, keys_file: Path | None = None) -> None:
    """Restore `backup_file` into the engine's database, which must hold no tables, and the
    children's data keys from `keys_file` (the latest `backup_keys`)."""
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
    if keys_file is not None:
        _load_keys(engine, keys_file)


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
