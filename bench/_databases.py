"""Throw-away databases for the benchmarks: a PostgreSQL database created for one run on the
server a URL names, and dropped at the end of the run even when the run fails.
(Not a benchmark: the leading underscore keeps `python -m bench` from running it.)"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub import db


@contextmanager
def throwaway_postgres(server_url: str, prefix: str) -> Iterator[str]:
    """Create `<prefix>_<pid>` on the server `server_url` points at (its own database name is
    ignored) and yield that database's SQLAlchemy URL; drop it afterwards, closing any connection
    still open to it (WITH (FORCE): PostgreSQL 13+)."""
    name = f"{prefix}_{os.getpid()}"
    url = make_url(server_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            try:
                bind = db.session().get_bind()
                db.session.remove()
                bind.dispose()
            except Exception:  # noqa: BLE001 - the drop below forces the connections closed anyway
                pass
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            print(f"(dropped the bench database {name})", flush=True)
    finally:
        admin.dispose()


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith("postgresql")


def on_bench_database(name: str, run: Callable[[str | None], object]) -> object:
    """`run(url)` on a throw-away PostgreSQL database named from `name` when HUB_BENCH_DATABASE_URL
    names a PostgreSQL server (the variable hidden meanwhile, so nothing else opens the server's
    own), else `run(None)` (SQLite in the bench's folder)."""
    server_url = os.environ.get("HUB_BENCH_DATABASE_URL")
    if not is_postgres(server_url):
        return run(None)
    with throwaway_postgres(server_url, name) as url:
        os.environ.pop("HUB_BENCH_DATABASE_URL", None)
        try:
            return run(url)
        finally:
            os.environ["HUB_BENCH_DATABASE_URL"] = server_url
