"""The witness's own storage: one SQLite file holding the logs it trusts, the latest checkpoint it
cosigned for each, and every refusal (evidence a log misbehaved, kept for the witness's operator).

A submission is checked and recorded in one `BEGIN IMMEDIATE` transaction, so two submissions
for one log are taken one after the other and the stored size can never go back (the race the
specification warns of).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS log_key (
    origin TEXT NOT NULL,
    vkey TEXT NOT NULL,            -- the log's signed-note verifier key
    PRIMARY KEY (origin, vkey)
);
CREATE TABLE IF NOT EXISTS checkpoint (
    origin TEXT PRIMARY KEY,
    tree_size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,            -- the checkpoint note as the log signed it
    cosignature TEXT NOT NULL,     -- this witness's latest cosignature line on it
    cosigned_at INTEGER NOT NULL   -- seconds since the epoch
);
CREATE TABLE IF NOT EXISTS refusal (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    old_size INTEGER NOT NULL,
    tree_size INTEGER NOT NULL,
    request TEXT NOT NULL          -- the whole signed request: proof of what the log presented
);
"""


@dataclass(frozen=True)
class Cosigned:
    origin: str
    tree_size: int
    root: bytes
    note: str
    cosignature: str
    cosigned_at: int


@dataclass(frozen=True)
class Refusal:
    at: int
    origin: str
    status: int
    reason: str
    old_size: int
    tree_size: int


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        with self._connect() as connection:
            connection.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE): committed on success."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    def trust(self, origin: str, vkey: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO log_key (origin, vkey) VALUES (?, ?)", (origin, vkey))

    def keys(self, connection: sqlite3.Connection, origin: str) -> list[str]:
        return [row[0] for row in connection.execute("SELECT vkey FROM log_key WHERE origin = ? ORDER BY vkey",
                                                     (origin,))]

    def latest(self, connection: sqlite3.Connection, origin: str) -> Cosigned | None:
        row = connection.execute("SELECT origin, tree_size, root, note, cosignature, cosigned_at FROM checkpoint "
                                 "WHERE origin = ?", (origin,)).fetchone()
        return Cosigned(*row) if row else None

    def record(self, connection: sqlite3.Connection, cosigned: Cosigned) -> None:
        connection.execute(
            "INSERT INTO checkpoint (origin, tree_size, root, note, cosignature, cosigned_at) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET tree_size = excluded.tree_size, root = excluded.root, "
            "note = excluded.note, cosignature = excluded.cosignature, cosigned_at = excluded.cosigned_at",
            (cosigned.origin, cosigned.tree_size, cosigned.root, cosigned.note, cosigned.cosignature,
             cosigned.cosigned_at))

    def refuse(self, connection: sqlite3.Connection, refusal: Refusal, request: str) -> None:
        connection.execute(
            "INSERT INTO refusal (at, origin, status, reason, old_size, tree_size, request) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (refusal.at, refusal.origin, refusal.status, refusal.reason, refusal.old_size, refusal.tree_size, request))

    def read(self, origin: str) -> Cosigned | None:
        connection = self._connect()
        try:
            return self.latest(connection, origin)
        finally:
            connection.close()

    def logs(self) -> list[tuple[str, Cosigned | None]]:
        connection = self._connect()
        try:
            origins = [r[0] for r in connection.execute("SELECT DISTINCT origin FROM log_key ORDER BY origin")]
            return [(origin, self.latest(connection, origin)) for origin in origins]
        finally:
            connection.close()

    def refusals(self, limit: int = 20) -> list[Refusal]:
        connection = self._connect()
        try:
            rows = connection.execute("SELECT at, origin, status, reason, old_size, tree_size FROM refusal "
                                      "ORDER BY id DESC LIMIT ?", (limit,))
            return [Refusal(*row) for row in rows]
        finally:
            connection.close()
