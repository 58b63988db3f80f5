"""Benchmark: the worker on a large database — claim-query latency and due-to-notification lag.

Seeds ``--rows`` open incidents (default 1,000,000), each with a response and a resolution
SLA clock, plus ``--rows``/4 sent notifications and 2 × ``--due`` pending ones (SQLite:
SQLAlchemy Core executemany, cached under bench/.cache/; PostgreSQL: COPY into a fresh
``dutydesk_bench_worker_<hex>`` database dropped afterwards; the incident rows come from
``queue_query.py``'s generator, made all open). Every running clock is due months ahead,
paused or stopped; at run time ``--due`` (default 1,000) resolution clocks and ``--due``
notifications are made due (0-10 minutes overdue). Then:

(a) **claim queries**: the two selects a worker tick starts with — ``sla.jobs.due_clocks``
    (partial index ``ix_sla_clock_next_check``) and ``notify.queries.list_due`` (partial
    index ``ix_notification_due``), ``worker_batch`` rows each, each timed as the read unit
    of work the job runs it in — alternating with the baseline, a primary-key lookup of one
    random ``sla_clock`` row in the same kind of unit of work. ``--runs`` runs of
    ``--queries`` each; medians of the per-run p50/p95 and the ratio to the baseline.
    Target: p95 < 50 ms. The query plans are printed.

(b) **lag**: a real ``dutydesk worker`` process (default ``worker_poll_seconds``) first
    drains the due backlog (clocks fired, webhooks delivered to a receiver on 127.0.0.1);
    then, ``--lag-runs`` times, ``--lag-incidents`` incidents are opened through the
    service, spread over ``--lag-spread`` seconds, under an SLA policy whose response target
    is ``--lag-target`` seconds, so their breaches fall due at known instants. Measured from
    each due instant: the notification row written (its ``created_at``, stamped in the
    worker's transaction) and the webhook received. Baseline in the same run: a bare poll
    loop (no database) that wakes every ``worker_poll_seconds`` and notes the same instants.
    Target: p95 of the delivered lag < 2 s.

    .venv/bin/python bench/worker.py                      # 1M incidents, SQLite + PostgreSQL
    .venv/bin/python bench/worker.py --rows 100000        # quick
"""

from __future__ import annotations

import argparse
import http.server
import io
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    DUTYDESK,
    HOST,
    banner,
    cli,
    db_env,
    machine_info,
    median,
    percentile,
    pg_database,
    pg_reachable,
    say,
    table,
    verdict,
)
from queue_query import (
    CACHE_DIR,
    COLUMNS,
    _copy_field,
    bump_counter,
    generate_rows,
    schema_key,
    seed_reference_data,
)

TARGET_CLAIM_P95_MS = 50.0
TARGET_LAG_P95_S = 2.0
SEED_VERSION = 1  # bump when the generated data changes (SQLite cache key)
CACHE_MAX_AGE = timedelta(days=60)  # seeded "not due" instants are >= 100 days ahead
FAR = timedelta(days=100)
SEED_TARGET = 300 * 86_400  # target of the seeded running clocks (24x7 calendar: seconds)
OPEN_STATES = ("new", "assigned", "in_progress", "pending_user", "pending_vendor", "pending_change")
PENDING = frozenset({"pending_user", "pending_vendor", "pending_change"})
ENDPOINT_ID = 1  # the seeded webhook endpoint; its URL is pointed at the receiver at run time
CLOCK_COLUMNS = (
    "incident_id",
    "kind",
    "group_id",
    "policy_name",
    "calendar_id",
    "target_seconds",
    "warn_percents",
    "started_at",
    "elapsed_before",
    "segment_start",
    "due_at",
    "next_check_at",
    "warned_percent",
    "breached_at",
    "stopped_at",
    "stop_reason",
)
NOTIFICATION_COLUMNS = (
    "dedupe_key",
    "incident_id",
    "event",
    "channel",
    "recipient",
    "endpoint_id",
    "subject",
    "body",
    "message_id",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
    "sent_at",
)
_I = {name: COLUMNS.index(name) for name in COLUMNS}


# ----------------------------------------------------------------------------- data


def due_step(rows: int, due: int) -> int:
    if due < 1 or rows < due:
        raise SystemExit(f"--due must be between 1 and --rows ({rows:,})")
    return rows // due


def open_incident_rows(rows: int, due: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """queue_query's incidents, all open: closed ones become assigned / in progress; every
    step-th one (whose resolution clock will be made due) is in progress."""
    step = due_step(rows, due)
    for i, row in enumerate(generate_rows(rows, now), start=1):
        values = list(row)
        state = values[_I["state"]]
        if i % step == 0 and i // step <= due:
            state = "in_progress"
        elif state not in OPEN_STATES:
            state = OPEN_STATES[1 + i % 2]
        values[_I["state"]] = state
        opened = values[_I["opened_at"]]
        if state != "new" and values[_I["acknowledged_at"]] is None:
            values[_I["acknowledged_at"]] = opened + timedelta(minutes=5)
        for name in ("resolved_at", "closed_at", "cancelled_at"):
            values[_I[name]] = None
        yield tuple(values)


def clock_rows(rows: int, due: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Two clocks per incident (id i): response, resolution. Running clocks fall due 100-250
    days after `now`; pending incidents' resolution clocks are paused; acknowledged ones'
    response clocks are stopped (met). Nothing is due until make_due()."""
    rng = random.Random(20261123)
    for i, row in enumerate(open_incident_rows(rows, due, now), start=1):
        state, opened = row[_I["state"]], row[_I["opened_at"]]
        acknowledged = row[_I["acknowledged_at"]]
        if state == "new":
            yield _running(rng, i, "response", opened, now)
        else:
            used = (acknowledged - opened).total_seconds()
            yield (i, "response", None, "Bench seed", 1, SEED_TARGET, "[]", opened, used,
                   None, None, None, 0, None, acknowledged, "met")  # fmt: skip
        if state in PENDING:
            used = rng.uniform(0, SEED_TARGET / 2)
            yield (i, "resolution", None, "Bench seed", 1, SEED_TARGET, "[]", opened, used,
                   None, None, None, 0, None, None, None)  # fmt: skip
        else:
            yield _running(rng, i, "resolution", opened, now)


def _running(
    rng: random.Random, incident_id: int, kind: str, opened: datetime, now: datetime
) -> tuple[Any, ...]:
    remaining = rng.uniform(FAR.total_seconds(), 250 * 86_400)
    since = rng.uniform(0, 86_400)  # the current segment started this long before `now`
    due_at = now + timedelta(seconds=remaining)
    return (incident_id, kind, None, "Bench seed", 1, SEED_TARGET, "[]", opened,
            SEED_TARGET - remaining - since, now - timedelta(seconds=since), due_at, due_at,
            0, None, None, None)  # fmt: skip


def notification_rows(rows: int, due: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """rows/4 sent e-mails (out of the due index), then 2*due webhook calls pending months
    ahead (as if backing off); make_due() brings `due` of them forward."""
    sent = rows // 4
    for n in range(1, sent + 1):
        at = now - timedelta(seconds=n)
        yield (f"seed-{n}", n, "assigned", "email", f"agent{n % 50}@example.com", None,
               f"[INC{n:07d}] assigned to your group", "Seeded body.", f"<seed-{n}@bench>",
               "sent", 1, None, at, at)  # fmt: skip
    for k in range(1, 2 * due + 1):
        n = sent + k
        yield (f"seed-{n}", 1 + k % rows, "sla_breached", "webhook", "http://127.0.0.1:9/",
               ENDPOINT_ID, f"[INC{k:07d}] SLA breached", '{"event":"sla_breached","seed":true}',
               f"<seed-{n}@bench>", "pending", 0, now + FAR + timedelta(seconds=k), now,
               None)  # fmt: skip


def streams(rows: int, due: int, now: datetime) -> list[tuple[str, Any, Sequence[str], Any]]:
    from dutydesk.models import Incident, Notification, SlaClock

    return [
        ("incident", Incident, COLUMNS, open_incident_rows(rows, due, now)),
        ("sla_clock", SlaClock, CLOCK_COLUMNS, clock_rows(rows, due, now)),
        ("notification", Notification, NOTIFICATION_COLUMNS, notification_rows(rows, due, now)),
    ]


def seed_endpoint(conn: Any, now: datetime) -> None:
    from sqlalchemy import insert

    from dutydesk.models import NotifyEndpoint

    conn.execute(
        insert(NotifyEndpoint).values(
            id=ENDPOINT_ID,
            name="bench receiver",
            kind="webhook",
            url="http://127.0.0.1:9/",
            secret="bench-secret-" + "x" * 20,
            events='["sla_breached"]',
            active=True,
            created_at=now,
            updated_at=now,
        )
    )


def seed_sqlite(path: Path, rows: int, due: int, workdir: Path) -> float:
    """Migrate and bulk-insert (Core executemany) into a new SQLite file; returns seconds."""
    from sqlalchemy import insert

    from dutydesk.db import make_engine

    t0 = time.monotonic()
    url = f"sqlite:///{path}"
    cli(["migrate"], url, cwd=workdir)
    engine = make_engine(url, sqlite_synchronous="OFF")
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-500000")
            seed_reference_data(conn, now)
            seed_endpoint(conn, now)
            bump_counter(conn, rows)
            for name, model, columns, source in streams(rows, due, now):
                stmt, batch = insert(model), []
                for n, row in enumerate(source, start=1):
                    batch.append(dict(zip(columns, row, strict=True)))
                    if len(batch) == 20_000:
                        conn.execute(stmt, batch)
                        batch.clear()
                    if n % 500_000 == 0:
                        say(f"    {name}: {n:,} rows ({time.monotonic() - t0:.0f}s)")
                if batch:
                    conn.execute(stmt, batch)
    finally:
        engine.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("ANALYZE")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to cache and copy
    finally:
        raw.close()
    return time.monotonic() - t0


def seed_postgresql(url: str, rows: int, due: int, workdir: Path) -> float:
    """Migrate and COPY every table into a fresh PostgreSQL database, then ANALYZE."""
    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    t0 = time.monotonic()
    cli(["migrate"], url, cwd=workdir)
    now = datetime.now(UTC).replace(microsecond=0)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            seed_reference_data(conn, now)
            seed_endpoint(conn, now)
            bump_counter(conn, rows)
    finally:
        engine.dispose()
    u = make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database
    ) as conn:
        for name, _model, columns, source in streams(rows, due, now):
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                buf = io.StringIO()
                for n, row in enumerate(source, start=1):
                    buf.write("\t".join(_copy_field(v) for v in row))
                    buf.write("\n")
                    if n % 50_000 == 0:
                        copy.write(buf.getvalue())
                        buf = io.StringIO()
                    if n % 500_000 == 0:
                        say(f"    {name}: {n:,} rows ({time.monotonic() - t0:.0f}s)")
                copy.write(buf.getvalue())
            conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
    return time.monotonic() - t0


def sqlite_database(rows: int, due: int, workdir: Path, use_cache: bool) -> tuple[str, str]:
    """A seeded SQLite database copied into workdir; (url, how it was obtained)."""
    target = workdir / "worker.db"
    key = f"{schema_key()}-w{SEED_VERSION}"
    name = f"worker-sqlite-{rows}-{due}-{key}.db"
    cached = CACHE_DIR / name
    fresh = cached.is_file() and (
        datetime.now(UTC) - datetime.fromtimestamp(cached.stat().st_mtime, UTC) < CACHE_MAX_AGE
    )
    if use_cache and fresh:
        t0 = time.monotonic()
        shutil.copyfile(cached, target)
        return f"sqlite:///{target}", f"copied from cache {cached} in {time.monotonic() - t0:.1f}s"
    say(f"  seeding {rows:,} open incidents with their clocks into SQLite (Core executemany) ...")
    if not use_cache:
        seconds = seed_sqlite(target, rows, due, workdir)
        return f"sqlite:///{target}", f"seeded in {seconds:.0f}s (cache off)"
    CACHE_DIR.mkdir(exist_ok=True)
    partial = CACHE_DIR / (name + ".partial")
    partial.unlink(missing_ok=True)
    seconds = seed_sqlite(partial, rows, due, workdir)
    for stale in CACHE_DIR.glob(f"worker-sqlite-{rows}-{due}-*.db"):
        stale.unlink()
    partial.replace(cached)
    shutil.copyfile(cached, target)
    return f"sqlite:///{target}", f"seeded in {seconds:.0f}s, cached as {cached}"


def make_due(db: Any, rows: int, due: int) -> None:
    """Bring `due` resolution clocks and `due` webhook notifications 0-10 minutes overdue,
    consistently (a clock's used time reaches its target at its new due instant)."""
    from sqlalchemy import bindparam, func, select, update

    from dutydesk.kernel.types import UTCDateTime
    from dutydesk.models import Notification, SlaClock

    now = datetime.now(UTC)
    rng = random.Random(11)
    step = due_step(rows, due)
    clocks = []
    for k in range(1, due + 1):
        late, since = rng.uniform(1, 600), rng.uniform(0, 86_400)
        clocks.append(
            {
                "i": k * step,
                "ss": now - timedelta(seconds=since),
                "eb": SEED_TARGET + late - since,
                "d": now - timedelta(seconds=late),
            }
        )
    at = UTCDateTime()
    with db.unit_of_work() as session:
        conn = session.connection()
        conn.execute(
            update(SlaClock)
            .where(SlaClock.incident_id == bindparam("i"), SlaClock.kind == "resolution")
            .values(
                segment_start=bindparam("ss", type_=at),
                elapsed_before=bindparam("eb"),
                due_at=bindparam("d", type_=at),
                next_check_at=bindparam("d", type_=at),
            ),
            clocks,
        )
        ids = session.scalars(
            select(Notification.id)
            .where(Notification.state == "pending")
            .order_by(Notification.id)
            .limit(due)
        ).all()
        conn.execute(
            update(Notification)
            .where(Notification.id == bindparam("n"))
            .values(next_attempt_at=bindparam("t", type_=at)),
            [{"n": n, "t": now - timedelta(seconds=rng.uniform(0, 600))} for n in ids],
        )
        due_clocks = session.scalar(
            select(func.count()).select_from(SlaClock).where(SlaClock.next_check_at <= now)
        )
        due_mail = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.next_attempt_at <= now)
        )
    if (due_clocks, due_mail) != (due, due):
        raise RuntimeError(f"expected {due} due clocks and notifications, got {due_clocks}, "
                           f"{due_mail}")  # fmt: skip


# ----------------------------------------------------------------------------- (a) claims


@dataclass
class ClaimRuns:
    """Per query name: one list of samples (seconds) per run."""

    runs: dict[str, list[list[float]]] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)

    def stat(self, name: str, p: float) -> float:
        return median([percentile(run, p) for run in self.runs[name]])


CLAIM_NAMES = ("sla due clocks", "notify due outbox", "baseline: PK lookup")


def time_claims(db: Any, batch: int, due: int, runs: int, queries: int) -> ClaimRuns:
    from sqlalchemy import func, select

    from dutydesk.kernel import clock
    from dutydesk.models import SlaClock
    from dutydesk.notify import queries as notify_queries
    from dutydesk.sla import jobs as sla_jobs

    with db.unit_of_work(write=False) as session:
        max_id = int(session.scalar(select(func.max(SlaClock.id))) or 1)
    rng = random.Random(5)
    expect = min(batch, due)

    def sla(session: Any) -> int:
        return len(sla_jobs.due_clocks(session, clock.now(), batch))

    def outbox(session: Any) -> int:
        return len(notify_queries.list_due(session, clock.now(), batch))

    def pk(session: Any) -> int:
        ident = rng.randint(1, max_id)
        return len(
            session.execute(
                select(SlaClock.id, SlaClock.next_check_at).where(SlaClock.id == ident)
            ).all()
        )

    work: dict[str, tuple[Callable[[Any], int], int]] = {
        CLAIM_NAMES[0]: (sla, expect),
        CLAIM_NAMES[1]: (outbox, expect),
        CLAIM_NAMES[2]: (pk, 1),
    }
    result = ClaimRuns({name: [] for name in work})
    for run in range(runs + 1):  # run 0 warms caches and is not kept
        samples: dict[str, list[float]] = {name: [] for name in work}
        names = list(work)
        for q in range(queries):
            for name in names[q % 3 :] + names[: q % 3]:  # rotate the order
                fn, expected = work[name]
                t0 = time.perf_counter()
                with db.unit_of_work(write=False) as session:
                    got = fn(session)
                samples[name].append(time.perf_counter() - t0)
                if got != expected:
                    raise RuntimeError(f"{name}: {got} rows, expected {expected}")
        if run:
            for name in work:
                result.runs[name].append(samples[name])
    result.plans = explain_claims(db, batch)
    return result


def explain_claims(db: Any, batch: int) -> dict[str, list[str]]:
    """The plans of the exact statements the two jobs run (captured with an engine event)."""
    from sqlalchemy import event

    from dutydesk.kernel import clock
    from dutydesk.notify import queries as notify_queries
    from dutydesk.sla import jobs as sla_jobs

    engine = db.engine
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        captured.append((statement, params))

    plans: dict[str, list[str]] = {}
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for name, fn in (
            (CLAIM_NAMES[0], sla_jobs.due_clocks),
            (CLAIM_NAMES[1], notify_queries.list_due),
        ):
            captured.clear()
            with db.unit_of_work(write=False) as session:
                fn(session, clock.now(), batch)
            statement, params = next(c for c in captured if "LIMIT" in c[0].upper())
            with engine.connect() as conn:
                prefix = (
                    "EXPLAIN QUERY PLAN "
                    if engine.dialect.name == "sqlite"
                    else "EXPLAIN (ANALYZE, BUFFERS) "
                )
                rows = conn.exec_driver_sql(prefix + statement, params).fetchall()
                conn.rollback()
            lines = [" ".join(statement.split())]
            lines += [str(r[-1]) if engine.dialect.name == "sqlite" else str(r[0]) for r in rows]
            plans[name] = lines
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return plans


# ----------------------------------------------------------------------------- (b) lag


class Receiver:
    """A webhook receiver on 127.0.0.1: when each delivery arrived (wall clock, UTC)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: dict[int, tuple[datetime, str]] = {}  # delivery id -> (at, incident)
        self.posts = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = datetime.now(UTC)
                try:
                    number = str(json.loads(body).get("incident", {}).get("number", ""))
                except (ValueError, AttributeError):
                    number = ""
                delivery = int(self.headers.get("X-DutyDesk-Delivery", "0"))
                with owner.lock:
                    owner.posts += 1
                    owner.arrivals.setdefault(delivery, (at, number))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def by_incident(self) -> dict[str, datetime]:
        with self.lock:
            return {number: at for at, number in self.arrivals.values() if number}

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


class BarePoller:
    """The baseline: a loop that sleeps `poll` seconds and notes which instants have passed
    (what the worker's lag would be if its tick cost nothing)."""

    def __init__(self, poll: float) -> None:
        self.poll = poll
        self.dues: list[datetime] = []
        self.lags: list[float] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def add(self, due: datetime) -> None:
        with self.lock:
            self.dues.append(due)

    def _run(self) -> None:
        while not self.stopping.is_set():
            now = datetime.now(UTC)
            with self.lock:
                passed = [d for d in self.dues if d <= now]
                self.dues = [d for d in self.dues if d > now]
                self.lags += [(now - d).total_seconds() for d in passed]
            self.stopping.wait(self.poll)

    def __enter__(self) -> BarePoller:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


@dataclass
class LagRound:
    fired: list[float]  # due -> notification row written (created_at), seconds
    delivered: list[float]  # due -> webhook received
    bare: list[float]  # due -> noticed by the bare poll loop
    missing: int
    ticks_per_s: float  # the worker's ticks (heartbeats) per second during the round


@dataclass
class Drain:
    clocks_s: float  # until no clock was due any more
    delivered_s: float  # until every backlog webhook was received
    webhooks: int


class WorkerProcess:
    """`dutydesk worker` as a subprocess (default settings); stopped by its pid."""

    def __init__(self, database_url: str, cwd: Path, name: str) -> None:
        self.log_path = cwd / f"{name}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed right after the fork
        self.proc = subprocess.Popen(
            [DUTYDESK, "worker"],
            env=db_env(database_url),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        """Raise when the worker exited or a job of it failed (its log says so)."""
        try:
            failed = "failed" in self.log_path.read_text(errors="replace")
        except OSError:
            failed = False
        if failed or not self.alive():
            raise RuntimeError(f"the worker failed or exited:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class LagSetup:
    settings: Any
    caller_id: int
    customer_id: int


def prepare_lag(db: Any, receiver: Receiver, workdir: Path, target: int) -> LagSetup:
    """Through the services: point the endpoint at the receiver, and a customer whose SLA
    policy has a `target`-second response target and no warnings."""
    from dutydesk.access.policy import system_actor
    from dutydesk.config import Settings
    from dutydesk.notify import admin
    from dutydesk.notify import queries as notify_queries
    from dutydesk.people import service as people
    from dutydesk.sla import admin as sla_admin

    actor = system_actor()
    settings = Settings(
        database_url=db.engine.url.render_as_string(hide_password=False),
        storage_dir=workdir / "files",
    )
    with db.unit_of_work() as session:
        endpoint = notify_queries.get_endpoint(session, ENDPOINT_ID)
        admin.update_endpoint(
            session, actor, endpoint, {"url": f"http://{HOST}:{receiver.port}/hook"}
        )
        customer = people.create_customer(session, actor, name="Lag bench")
        caller = people.add_user(
            session, actor, username="lagcaller", email="lag@example.com", role="agent"
        )
        sla_admin.create_policy(
            session,
            actor,
            {
                "name": "Lag bench",
                "customer_id": customer.id,
                "calendar_id": 1,
                "response_seconds": target,
                "resolution_seconds": 30 * 86_400,
                "warn_percents": [],
            },
        )
        return LagSetup(settings, caller.id, customer.id)


def worker_ticks(db: Any) -> int:
    from sqlalchemy import func, select

    from dutydesk.models import WorkerHeartbeat

    with db.unit_of_work(write=False) as session:
        return int(session.scalar(select(func.sum(WorkerHeartbeat.ticks))) or 0)


def count_backlog(db: Any) -> tuple[int, int]:
    from sqlalchemy import func, select

    from dutydesk.models import Notification, SlaClock

    now = datetime.now(UTC)
    with db.unit_of_work(write=False) as session:
        clocks = session.scalar(
            select(func.count()).select_from(SlaClock).where(SlaClock.next_check_at <= now)
        )
        pending = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.next_attempt_at <= now, Notification.state == "pending")
        )
    return int(clocks or 0), int(pending or 0)


def drain(db: Any, worker: WorkerProcess, receiver: Receiver, due: int, limit: float) -> Drain:
    """Wait for the worker to fire the due clocks and deliver the backlog (2 x due webhooks:
    the due notifications and one per breach)."""
    t0 = time.monotonic()
    clocks_done = None
    while time.monotonic() - t0 < limit:
        worker.check()
        clocks, _pending = count_backlog(db)
        if clocks == 0 and clocks_done is None:
            clocks_done = time.monotonic() - t0
        if clocks_done is not None and receiver.count() >= 2 * due:
            return Drain(clocks_done, time.monotonic() - t0, receiver.count())
        time.sleep(0.1)
    say(f"  drain incomplete after {limit:.0f}s: backlog {count_backlog(db)}")
    return Drain(clocks_done or float("nan"), float("nan"), receiver.count())


def lag_round(
    db: Any, setup: LagSetup, receiver: Receiver, args: argparse.Namespace, k: int
) -> LagRound:
    """Open incidents spread over --lag-spread seconds; each breaches --lag-target s later."""
    from sqlalchemy import select

    from dutydesk.access.policy import system_actor
    from dutydesk.incidents.schemas import IncidentCreate
    from dutydesk.incidents.service import open_incident
    from dutydesk.models import Incident, Notification

    actor = system_actor()
    dues: dict[str, datetime] = {}
    ticks0, started = worker_ticks(db), time.monotonic()
    with BarePoller(args.poll) as bare:
        t0 = time.monotonic()
        for j in range(args.lag_incidents):
            pause = t0 + j * args.lag_spread / args.lag_incidents - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            with db.unit_of_work() as session:
                incident = open_incident(
                    session,
                    actor,
                    IncidentCreate(
                        short_description=f"lag round {k} #{j}",
                        caller_id=setup.caller_id,
                        customer_id=setup.customer_id,
                        channel="monitoring",
                        impact=3,
                        urgency=3,
                    ),
                    settings=setup.settings,
                )
                due = incident.respond_by  # the running response clock's due time
                assert due is not None, "the lag policy starts a response clock"
                dues[incident.number] = due
            bare.add(due)
        deadline = time.monotonic() + args.lag_target + 30
        while time.monotonic() < deadline:
            if set(dues) <= set(receiver.by_incident()):
                break
            time.sleep(0.05)
        time.sleep(args.poll)  # let the bare poller note the last instants too
    ticks_per_s = (worker_ticks(db) - ticks0) / (time.monotonic() - started)
    arrived = receiver.by_incident()
    with db.unit_of_work(write=False) as session:
        written = dict(
            session.execute(
                select(Incident.number, Notification.created_at)
                .join(Incident, Incident.id == Notification.incident_id)
                .where(Notification.event == "sla_breached", Incident.number.in_(list(dues)))
            ).all()
        )
    return LagRound(
        fired=[(written[n] - due).total_seconds() for n, due in dues.items() if n in written],
        delivered=[(arrived[n] - due).total_seconds() for n, due in dues.items() if n in arrived],
        bare=bare.lags,
        missing=sum(1 for n in dues if n not in arrived),
        ticks_per_s=ticks_per_s,
    )


# ----------------------------------------------------------------------------- one backend


@dataclass
class BackendResult:
    backend: str
    prep: str
    claims: ClaimRuns
    drain: Drain | None = None
    rounds: list[LagRound] = field(default_factory=list)


def bench_backend(
    backend: str, url: str, prep: str, workdir: Path, args: argparse.Namespace
) -> BackendResult:
    from dutydesk.db import Database, make_engine

    say(f"  database ready: {prep}")
    db = Database(make_engine(url))
    try:
        make_due(db, args.rows, args.due)
        say(f"  made {args.due:,} clocks and {args.due:,} notifications due")
        t0 = time.monotonic()
        claims = time_claims(db, args.batch, args.due, args.runs, args.queries)
        say(f"  (a) claim queries timed in {time.monotonic() - t0:.1f}s")
        result = BackendResult(backend, prep, claims)
        report_claims(result)
        with Receiver() as receiver:
            setup = prepare_lag(db, receiver, workdir, args.lag_target)
            worker = WorkerProcess(url, workdir, f"worker-{backend}")
            try:
                result.drain = drain(db, worker, receiver, args.due, args.max_drain)
                say(
                    f"  (b) backlog: {args.due:,} overdue clocks fired in "
                    f"{result.drain.clocks_s:.1f}s, {result.drain.webhooks:,} webhooks "
                    f"delivered in {result.drain.delivered_s:.1f}s"
                )
                for k in range(1, args.lag_runs + 1):
                    result.rounds.append(lag_round(db, setup, receiver, args, k))
                    report_round(k, result.rounds[-1])
                    worker.check()
            finally:
                worker.stop()
        return result
    finally:
        db.engine.dispose()


# ----------------------------------------------------------------------------- reporting


def report_claims(res: BackendResult) -> None:
    c = res.claims
    base50, base95 = c.stat(CLAIM_NAMES[2], 50), c.stat(CLAIM_NAMES[2], 95)
    rows = []
    for name in CLAIM_NAMES:
        p50, p95 = c.stat(name, 50), c.stat(name, 95)
        worst = max(percentile(run, 95) for run in c.runs[name])
        rows.append(
            [
                name,
                f"{len(c.runs[name])}x{len(c.runs[name][0])}",
                f"{p50 * 1000:.2f}",
                f"{p95 * 1000:.2f}",
                f"{worst * 1000:.2f}",
                f"{p50 / base50:.2f}x",
                f"{p95 / base95:.2f}x",
                "-" if name == CLAIM_NAMES[2] else verdict(p95 * 1000 < TARGET_CLAIM_P95_MS),
            ]
        )
    say(
        table(
            ["query", "runs x n", "p50 ms", "p95 ms", "worst-run p95", "p50/PK", "p95/PK",
             f"p95 < {TARGET_CLAIM_P95_MS:.0f} ms"],
            rows,
        )
    )  # fmt: skip
    for name, lines in c.plans.items():
        say(f"  plan of {name}:")
        for line in lines:
            say(f"      {line}")


def _lag_cells(values: Sequence[float]) -> list[str]:
    if not values:
        return ["-", "-", "-"]
    return [f"{percentile(values, 50):.3f}", f"{percentile(values, 95):.3f}", f"{max(values):.3f}"]


def report_round(k: int, r: LagRound) -> None:
    say(
        f"  lag round {k}: {len(r.delivered)} delivered, {r.missing} missing | "
        f"row written p50/p95/max {'/'.join(_lag_cells(r.fired))} s | "
        f"delivered {'/'.join(_lag_cells(r.delivered))} s | "
        f"bare poll loop {'/'.join(_lag_cells(r.bare))} s | worker {r.ticks_per_s:.2f} ticks/s"
    )


def lag_stat(rounds: Sequence[LagRound], attr: str, p: float) -> float:
    return median([percentile(getattr(r, attr), p) for r in rounds if getattr(r, attr)])


def summarize(results: Sequence[BackendResult], args: argparse.Namespace) -> None:
    banner(
        f"worker summary  ({args.rows:,} open incidents, {2 * args.rows:,} clocks, "
        f"{args.due:,} due; worker_poll_seconds {args.poll:g}, worker_batch {args.batch})"
    )
    rows = []
    for res in results:
        base50, base95 = res.claims.stat(CLAIM_NAMES[2], 50), res.claims.stat(CLAIM_NAMES[2], 95)
        for name in CLAIM_NAMES[:2]:
            p50, p95 = res.claims.stat(name, 50), res.claims.stat(name, 95)
            rows.append(
                [res.backend, f"claim: {name}", f"{p50 * 1000:.2f} ms", f"{p95 * 1000:.2f} ms",
                 f"PK lookup {base50 * 1000:.2f}/{base95 * 1000:.2f} ms",
                 f"{p50 / base50:.2f}x / {p95 / base95:.2f}x", f"< {TARGET_CLAIM_P95_MS:.0f} ms",
                 verdict(p95 * 1000 < TARGET_CLAIM_P95_MS)]
            )  # fmt: skip
        if not res.rounds:
            continue
        b50, b95 = lag_stat(res.rounds, "bare", 50), lag_stat(res.rounds, "bare", 95)
        missing = sum(r.missing for r in res.rounds)
        for label, attr in (("lag: due -> row written", "fired"),
                            ("lag: due -> webhook received", "delivered")):  # fmt: skip
            p50, p95 = lag_stat(res.rounds, attr, 50), lag_stat(res.rounds, attr, 95)
            target = attr == "delivered"
            rows.append(
                [res.backend, label, f"{p50:.3f} s", f"{p95:.3f} s",
                 f"bare poll {b50:.3f}/{b95:.3f} s", f"{p50 / b50:.2f}x / {p95 / b95:.2f}x",
                 f"< {TARGET_LAG_P95_S:.0f} s" if target else "-",
                 verdict(p95 < TARGET_LAG_P95_S and not missing) if target else "-"]
            )  # fmt: skip
    say(
        table(
            ["backend", "measure", "p50", "p95", "baseline p50/p95", "ratio p50 / p95",
             "target p95", "status"],
            rows,
        )
    )  # fmt: skip
    say(
        f"claims: medians over {args.runs} runs of {args.queries} of each query's per-run "
        "p50/p95, each a read unit of work (pool checkout, the SELECT, rollback) as the job runs "
        "it; baseline = one random sla_clock row by primary key in the same kind of unit of work."
    )
    say(
        f"lag: medians over {args.lag_runs} rounds of {args.lag_incidents} incidents whose "
        f"response target ({args.lag_target} s) falls due spread over {args.lag_spread:g} s; a "
        "`dutydesk worker` process with default settings; baseline = a bare loop sleeping "
        "worker_poll_seconds (no database) noting the same instants."
    )
    for res in results:
        if res.drain is not None:
            d = res.drain
            say(
                f"{res.backend}: backlog of {args.due:,} overdue clocks fired in "
                f"{d.clocks_s:.1f} s; {d.webhooks:,} webhooks delivered in {d.delivered_s:.1f} s"
            )


# ----------------------------------------------------------------------------- main


def main() -> int:
    from dutydesk.config import Settings

    defaults = Settings.model_fields
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="open incidents")
    parser.add_argument("--due", type=int, default=1_000, help="due clocks and notifications")
    parser.add_argument(
        "--backend",
        choices=["all", "sqlite", "postgresql"],
        default="all",
        help="all = SQLite, plus PostgreSQL when reachable",
    )
    parser.add_argument("--runs", type=int, default=5, help="claim-query runs")
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind per run")
    parser.add_argument("--lag-runs", type=int, default=3, help="lag rounds")
    parser.add_argument("--lag-incidents", type=int, default=100, help="incidents per lag round")
    parser.add_argument("--lag-spread", type=float, default=5.0, help="seconds their dues span")
    parser.add_argument("--lag-target", type=int, default=5, help="response target, seconds")
    parser.add_argument("--max-drain", type=float, default=300, help="seconds for the backlog")
    parser.add_argument(
        "--no-cache", dest="cache", action="store_false", help="do not use bench/.cache (SQLite)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    args.poll = float(defaults["worker_poll_seconds"].default)
    args.batch = int(defaults["worker_batch"].default)
    due_step(args.rows, args.due)

    banner(f"worker: claim queries and due-to-notification lag over {args.rows:,} incidents")
    say(machine_info())
    workdir = Path(tempfile.mkdtemp(prefix="dutydesk-bench-worker-"))
    results: list[BackendResult] = []
    try:
        if args.backend in ("all", "sqlite"):
            banner("worker on sqlite")
            url, prep = sqlite_database(args.rows, args.due, workdir, args.cache)
            results.append(bench_backend("sqlite", url, prep, workdir, args))
            (workdir / "worker.db").unlink(missing_ok=True)
        if args.backend in ("all", "postgresql"):
            ok, info = pg_reachable()
            if ok:
                banner("worker on postgresql")
                with pg_database("dutydesk_bench_worker") as url:
                    say(f"  seeding {args.rows:,} open incidents with clocks (COPY) ...")
                    seconds = seed_postgresql(url, args.rows, args.due, workdir)
                    prep = f"seeded with COPY + ANALYZE in {seconds:.0f}s"
                    results.append(bench_backend("postgresql", url, prep, workdir, args))
            else:
                say(f"\nPostgreSQL not reachable ({info}): skipped")
        summarize(results, args)
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
