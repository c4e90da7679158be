"""Database engine, session and the one way to run a unit of work.

Services are the only code that changes data; each public service function runs inside
`unit_of_work()`, which commits once on success and rolls back on any error, so a change and
its audit event are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Named constraints keep Alembic migrations stable across SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Timezone-aware now; pass the function itself as a column default, never its result."""
    return datetime.now(UTC)


def london_today(now: datetime | None = None) -> date:
    """The day it is in England (London time), now or at `now`: the day a report, a review or a
    retention decision counts from. Here, on the ground, so that every package reads one clock."""
    return (now or utcnow()).astimezone(_LONDON).date()


_LONDON = ZoneInfo("Europe/London")


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC when read back. SQLite keeps no zone, and
    comparing a naive value with `utcnow()` raises: deadlines and due times compare a lot."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: the hub stores aware UTC timestamps only")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


session: scoped_session[Session] = scoped_session(sessionmaker(expire_on_commit=False))


def insert_ignoring_duplicates(connection: Session | Connection, model, rows: list[dict],
                               index_elements: list[str]) -> None:
    """INSERT the rows, skipping any whose key is already stored (ON CONFLICT DO NOTHING, in the
    dialect of the connection or session given): for rows written by whichever transaction gets
    there first."""
    if not rows:
        return
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    insert = postgresql_insert if bind.dialect.name == "postgresql" else sqlite_insert
    connection.execute(insert(model).values(rows).on_conflict_do_nothing(index_elements=index_elements))


def make_engine(url: str) -> Engine:
    # hide_parameters: a failing statement must never write a child's data into a log.
    kwargs: dict = {"hide_parameters": True, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # jit=off: PostgreSQL compiles a query to machine code when its estimated cost is high,
        # which at millions of audit events it is for a DPO's page of 50: the compiling took 81 of
        # the query's 82 ms. The hub's queries are short; none gains from it.
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10,
                      connect_args={"options": "-c jit=off"})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", _sqlite_full_sync_again)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless told, on every new connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def commit_need_not_wait_for_the_disk(connection) -> None:
    """Call first in a transaction whose work is redone if it is lost: its commit returns before
    the disk has it. It still survives a crash of this process (and, on PostgreSQL, a restart of
    the server); it is lost only if the database server or its machine crashes in that moment.
    PostgreSQL: `synchronous_commit` off for this transaction. SQLite: `synchronous=NORMAL` (in WAL
    mode the same promise) on this connection until it goes back to the pool."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    elif connection.dialect.name == "sqlite":
        pooled = connection.connection
        if not pooled.dbapi_connection.in_transaction:  # SQLite refuses the change inside one
            connection.exec_driver_sql("PRAGMA synchronous=NORMAL")  # a PRAGMA opens no transaction
            pooled.info["synchronous_normal"] = True


def _sqlite_full_sync_again(dbapi_connection, record) -> None:
    if record.info.pop("synchronous_normal", False):
        dbapi_connection.execute("PRAGMA synchronous=FULL")


def bind(engine: Engine) -> None:
    session.remove()
    session.configure(bind=engine)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit once on success, roll back on error. Nested calls join the outer unit."""
    s = session()
    if s.info.get("in_unit_of_work"):
        yield s
        return
    s.info["in_unit_of_work"] = True
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.info["in_unit_of_work"] = False
