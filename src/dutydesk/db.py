"""Engine, session factories, the declarative base and the unit of work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", **kwargs: Any) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _configure_sqlite(engine, sqlite_synchronous)
        return _plain_savepoints(engine)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return _plain_savepoints(create_engine(url, **kwargs))


def _plain_savepoints(engine: Engine) -> Engine:
    """SAVEPOINT / RELEASE / ROLLBACK TO as plain SQL text: the same statements, events and
    error wrapping, without compiling a clause object each time (the group commit takes a
    savepoint per write job; compiling halved the cost of one)."""
    quote = engine.dialect.identifier_preparer.quote

    def savepoint(conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f"SAVEPOINT {quote(name)}")

    def release(conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {quote(name)}")

    def rollback_to(conn: Connection, name: str) -> None:
        conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {quote(name)}")

    engine.dialect.do_savepoint = savepoint  # type: ignore[method-assign,assignment]
    engine.dialect.do_release_savepoint = release  # type: ignore[method-assign,assignment]
    engine.dialect.do_rollback_to_savepoint = rollback_to  # type: ignore[method-assign,assignment]
    return engine


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(
            f"DUTYDESK_SQLITE_SYNCHRONOUS must be OFF/NORMAL/FULL/EXTRA, not {synchronous!r}"
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so SAVEPOINT and BEGIN IMMEDIATE work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then
        # writes fails with SQLITE_BUSY_SNAPSHOT instead of waiting when another writer won.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """One engine and its two session factories: readers and writers."""

    def __init__(self, engine: Engine, *, bind: Connection | None = None) -> None:
        self.engine = engine
        # Writers take SQLite's write lock up front (BEGIN IMMEDIATE; see make_engine).
        self.write_engine = engine.execution_options(sqlite_immediate=True)
        self.bound = bind is not None  # joined to a test's transaction: invisible elsewhere
        if bind is not None:
            # Tests: every session joins the test's outer transaction through a SAVEPOINT.
            self.read_sessions = self.write_sessions = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            return
        self.read_sessions = sessionmaker(engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def writers(self) -> int:
        """How many group-commit writer threads suit this database when the settings do not
        say: one on SQLite (one writer at a time anyway; a second would wait in SQLite's
        busy handler) and for a test's bound connection; two on PostgreSQL, where a writer
        waits for the server a good part of each batch (round trips, the WAL flush) and a
        second one runs its batch meanwhile, as a second server process would."""
        if self.bound or self.engine.dialect.name != "postgresql":
            return 1
        return 2

    def commit(self, session: Session, *, wait_seconds: float = 30.0) -> None:
        """Commit the session's transaction, and on PostgreSQL do not take a COMMIT whose
        answer was lost for a failure before the server says so.

        When the connection drops while COMMIT is on its way, the server may have committed
        or not. A caller that answers "not stored, retry" would then have the client send
        again what is already stored (an event counted twice). So on PostgreSQL the
        transaction's id is read before the COMMIT (one round trip), and if the COMMIT fails
        with a lost connection the server is asked (`txid_status`, on a new connection, for
        up to `wait_seconds` while it is unreachable) whether that transaction committed:
        if it did, this returns as if the COMMIT had answered. SQLite commits in-process:
        an error there means the transaction did not commit."""
        if self.bound or self.engine.dialect.name != "postgresql":
            session.commit()
            return
        txid = session.connection().exec_driver_sql("SELECT txid_current()").scalar()
        try:
            session.commit()
        except DBAPIError as exc:
            if not exc.connection_invalidated or txid is None:
                raise
            if self.transaction_status(int(txid), wait_seconds=wait_seconds) != "committed":
                raise

    def transaction_status(self, txid: int, *, wait_seconds: float = 30.0) -> str | None:
        """PostgreSQL's word on a transaction ("committed", "aborted", "in progress"), asked
        until the server answers or `wait_seconds` pass (None: still unknown)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                with self.engine.connect() as conn:
                    status = conn.execute(text("SELECT txid_status(:t)"), {"t": txid}).scalar()
                    return None if status is None else str(status)
            except DBAPIError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.25)  # the server is unreachable: the writer has nothing else to do

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose work commits at the end or rolls back on any error."""
        factory = self.write_sessions if write else self.read_sessions
        with factory() as session:
            try:
                yield session
                if write:
                    session.commit()
                else:
                    session.rollback()
            except BaseException:
                session.rollback()
                raise
