"""D3, database outage under load: events keep arriving at a real server while its database
goes away and comes back. Answers are only 202, 429 or 503 (with Retry-After), never a 500
or a stack trace; the first 202 after the database is back comes within 30 s; every 202'd
event is stored, and an event whose every attempt was answered 503 is not.

PostgreSQL: the server reaches the test's own database through a small TCP proxy on
loopback; the outage closes every proxied connection and refuses new ones (nothing else on
the cluster is touched). SQLite: there is no server to lose, so the outage is the file being
locked by another process's exclusive transaction; requests wait in SQLite's busy handler
and then go through (a read-only file cannot be simulated: the tests run as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from dutydesk.db import Database
from dutydesk.models import Alert
from tests.factories import make_cast
from tests.intake.helpers import make_integration
from tests.intake.live import HOST, Ledger, LiveServer, free_port

SENDERS = 4
OUTAGE_SECONDS = 6.0
RECOVERY_LIMIT = 30.0


class Proxy:
    """A TCP forwarder to PostgreSQL that can be cut (connections closed, new ones refused)
    and restored, running its own asyncio loop in a thread."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    def _run(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def up(self) -> None:
        if not self.thread.is_alive():
            self.thread.start()
        self._run(self._listen())

    def down(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        self.down()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._client, HOST, self.port)

    async def _cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.pipes):
            writer.close()
        self.pipes.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.close()
            return
        self.pipes |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            self.pipes.discard(writer)


@contextlib.contextmanager
def sqlite_locked(db: Database) -> Iterator[None]:
    """An exclusive transaction on the file from another connection: writers must wait."""
    with db.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.isolation_level = None
        driver.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            driver.execute("ROLLBACK")


def stored(db: Database) -> dict[str, tuple[int, int]]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(Alert.dedup_key, func.count(), func.sum(Alert.occurrences)).group_by(
                Alert.dedup_key
            )
        ).all()
    return {k: (int(n), int(o or 0)) for k, n, o in rows}


@pytest.mark.heavy
def test_database_outage_under_load(fresh_db: Database, tmp_path: Path) -> None:
    make_cast(fresh_db)
    _, token = make_integration(fresh_db, correlation_seconds=0)
    url = make_url(fresh_db.engine.url.render_as_string(hide_password=False))
    postgres = url.get_backend_name() == "postgresql"
    proxy = Proxy(url.port or 5432) if postgres else None
    if proxy is not None:
        proxy.up()
        url = url.set(host=HOST, port=proxy.port)
    server = LiveServer(url.render_as_string(hide_password=False), tmp_path / "server.log")
    ledger = Ledger()
    stop = threading.Event()
    numbers = count()
    sent: list[str] = []
    acked_at: list[tuple[float, str]] = []

    def sender() -> None:
        while not stop.is_set():
            key = f"outage-{next(numbers)}"
            sent.append(key)
            if ledger.send_until_acked(server, token, key, stop):
                acked_at.append((time.monotonic(), key))

    server.start()
    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    try:
        for t in threads:
            t.start()
        stop.wait(2.0)
        before = len(acked_at)
        if proxy is not None:
            proxy.down()
            stop.wait(OUTAGE_SECONDS)
            proxy.up()
        else:
            with sqlite_locked(fresh_db):
                stop.wait(OUTAGE_SECONDS)
        back = time.monotonic()
        while not any(at > back for at, _ in acked_at) and time.monotonic() - back < 45:
            stop.wait(0.05)
        recovered = min((at for at, _ in acked_at if at > back), default=None)
        stop.wait(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        server.stop()
        if proxy is not None:
            proxy.close()
    rows = stored(fresh_db)
    print(
        f"\nD3 ({url.get_backend_name()}): statuses {dict(ledger.statuses)}, "
        f"{sum(ledger.unanswered.values())} unanswered, {len(acked_at)} acked "
        f"({before} before the outage), recovery "
        f"{'none' if recovered is None else f'{recovered - back:.2f} s'}"
    )
    assert before > 0, server.log_tail()
    assert recovered is not None and recovered - back <= RECOVERY_LIMIT, server.log_tail()
    assert set(ledger.statuses) <= {202, 429, 503}, (dict(ledger.statuses), server.log_tail())
    assert not ledger.bad_bodies and not ledger.missing_retry_after
    if postgres:
        assert ledger.statuses[503] > 0  # the outage was seen, and answered as one
    for key in sent:
        alerts, occurrences = rows.get(key, (0, 0))
        acked, unanswered = ledger.acked[key], ledger.unanswered[key]
        if acked:  # acknowledged: stored exactly once
            assert alerts == 1 and acked <= occurrences <= acked + unanswered, key
        elif not unanswered:  # only ever answered 429/503: never stored
            assert alerts == 0, key
    with fresh_db.engine.connect() as conn:  # the database itself is fine afterwards
        assert conn.execute(text("SELECT 1")).scalar() == 1
