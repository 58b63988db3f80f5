"""Benchmark: the group queue, ``GET /api/v1/incidents?state=open&group=G&sort=priority,opened_at``.

Seeds ``--rows`` incidents (default 1,000,000; ~30 % open) by bulk insert (SQLite: SQLAlchemy
Core ``insert(Incident)`` executemany in big batches, cached under bench/.cache/ keyed by row
count and schema; PostgreSQL: COPY into a fresh ``dutydesk_bench_<hex>`` database that is
dropped afterwards), runs ANALYZE, then walks the first ``--pages`` pages (50 each, following
``next_cursor``) over HTTP against ``dutydesk serve``, many times, as an admin and as an agent
who is a member of the group and serves one customer. Reports p50/p95 per page position next
to the same server's ``GET /healthz`` p50 measured in the same run, the in-process time of
``queries.list_incidents`` (database + ORM, no HTTP), and the query plans of pages 1 and 2.

    .venv/bin/python bench/queue_query.py                    # 1M rows, SQLite + PostgreSQL
    .venv/bin/python bench/queue_query.py --rows 100000      # quick
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _common import (
    BENCH_DIR,
    HOST,
    api_json,
    banner,
    cli,
    create_token,
    dutydesk_server,
    machine_info,
    median,
    percentile,
    pg_database,
    pg_reachable,
    say,
    server_stack,
    table,
    verdict,
)

TARGET_P95_MS = 15.0
SEED_VERSION = 1  # bump when the generated data changes, to invalidate the SQLite cache
CACHE_DIR = BENCH_DIR / ".cache"
N_GROUPS = 10
N_CUSTOMERS = 4
QUEUE_GROUP = 3  # the group whose queue is read; the agent is a member of it
AGENT_CUSTOMER = 2  # the customer the agent serves
PAGE_SIZE = 50
SORT = "priority,opened_at"
MATRIX = ((1, 2, 3), (2, 3, 4), (3, 4, 5))  # the default priority matrix
STATES = (  # (state, share): ~30 % open, ~70 % resolved / closed / cancelled
    ("new", 0.04),
    ("assigned", 0.08),
    ("in_progress", 0.10),
    ("pending_user", 0.03),
    ("pending_vendor", 0.03),
    ("pending_change", 0.02),
    ("resolved", 0.10),
    ("closed", 0.55),
    ("cancelled", 0.05),
)
CHANNELS = ("portal", "phone", "email", "api", "monitoring", "chat", "walk_in")
SUBJECTS = (
    "VPN drops every few minutes",
    "Cannot print to the third floor printer",
    "Mailbox over quota",
    "Payroll export fails with timeout",
    "Laptop does not boot after update",
    "Password reset link expired",
    "Slow response in the CRM",
    "Disk almost full on file server",
    "Wi-Fi unavailable in meeting room",
    "Invoice PDF shows wrong VAT",
)
COLUMNS = (
    "number",
    "short_description",
    "description",
    "channel",
    "customer_id",
    "impact",
    "urgency",
    "priority",
    "assignment_group_id",
    "state",
    "escalation_level",
    "reopen_count",
    "reassignment_count",
    "opened_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "updated_at",
    "version",
    "history_count",
    "history_head",
)


# ----------------------------------------------------------------------------- data


def generate_rows(n: int, now: datetime, seed: int = 20261122) -> Iterator[tuple[Any, ...]]:
    """Deterministic incidents in COLUMNS order, numbered in opening order over two years."""
    rng = random.Random(seed)
    span = timedelta(days=730).total_seconds()
    start = now - timedelta(days=730)
    names = [s for s, _ in STATES]
    cumulative = []
    total = 0.0
    for _, share in STATES:
        total += share
        cumulative.append(total)
    width = max(7, len(str(n)))
    for i in range(1, n + 1):
        opened = start + timedelta(seconds=span * (i - 0.5) / n)
        r = rng.random()
        state = names[next(k for k, c in enumerate(cumulative) if r < c or k == len(names) - 1)]
        impact, urgency = rng.randint(1, 3), rng.randint(1, 3)
        updated = min(now, opened + timedelta(seconds=rng.randint(60, 3 * 86400)))
        acknowledged = opened + timedelta(minutes=rng.randint(1, 120)) if state != "new" else None
        resolved = updated if state in ("resolved", "closed") else None
        closed = updated if state == "closed" else None
        cancelled = updated if state == "cancelled" else None
        customer = rng.randint(1, N_CUSTOMERS) if rng.random() < 0.9 else None
        subject = SUBJECTS[i % len(SUBJECTS)]
        yield (
            f"INC{i:0{width}d}",
            f"{subject} ({i})",
            f"Reported via the benchmark seed. {subject}. Steps to reproduce are attached.",
            CHANNELS[rng.randrange(len(CHANNELS))],
            customer,
            impact,
            urgency,
            MATRIX[impact - 1][urgency - 1],
            rng.randint(1, N_GROUPS),
            state,
            1,
            0,
            0,
            opened,
            acknowledged,
            resolved,
            closed,
            cancelled,
            updated,
            1,
            0,
            "",
        )


def seed_reference_data(conn: Any, now: datetime) -> None:
    from sqlalchemy import insert

    from dutydesk.models import Customer, SupportGroup

    tiers = ("l1", "l2", "l3", "supplier")
    conn.execute(
        insert(SupportGroup),
        [
            {"name": f"Queue {g:02d}", "tier": tiers[g % 4], "description": "", "created_at": now}
            for g in range(1, N_GROUPS + 1)
        ],
    )
    conn.execute(
        insert(Customer),
        [
            {
                "name": f"Customer {c}",
                "description": "",
                "share_incidents": False,
                "created_at": now,
            }
            for c in range(1, N_CUSTOMERS + 1)
        ],
    )


def bump_counter(conn: Any, value: int) -> None:
    from sqlalchemy import insert, update

    from dutydesk.models import Counter

    done = conn.execute(update(Counter).where(Counter.name == "INC").values(value=value))
    if done.rowcount == 0:
        conn.execute(insert(Counter).values(name="INC", value=value))


def seed_sqlite(path: Path, rows: int, workdir: Path) -> float:
    """Migrate and bulk-insert into a new SQLite file; returns the seconds it took."""
    from sqlalchemy import insert

    from dutydesk.db import make_engine
    from dutydesk.models import Incident

    t0 = time.monotonic()
    url = f"sqlite:///{path}"
    cli(["migrate"], url, cwd=workdir)
    engine = make_engine(url, sqlite_synchronous="OFF")
    now = datetime.now(UTC).replace(microsecond=0)
    batch_size = 20_000
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-500000")
            seed_reference_data(conn, now)
            batch: list[dict[str, Any]] = []
            stmt = insert(Incident)
            for n, row in enumerate(generate_rows(rows, now), start=1):
                batch.append(dict(zip(COLUMNS, row, strict=True)))
                if len(batch) == batch_size:
                    conn.execute(stmt, batch)
                    batch.clear()
                    if n % 200_000 == 0:
                        say(f"    {n:,} rows ({time.monotonic() - t0:.0f}s)")
            if batch:
                conn.execute(stmt, batch)
            bump_counter(conn, rows)
    finally:
        engine.dispose()
    raw = sqlite3.connect(path, isolation_level=None)  # autocommit: no BEGIN around pragmas
    try:
        raw.execute("ANALYZE")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to cache and copy
        count = raw.execute("SELECT count(*) FROM incident").fetchone()[0]
        assert count == rows, (count, rows)
    finally:
        raw.close()
    return time.monotonic() - t0


def seed_postgresql(url: str, rows: int, workdir: Path) -> float:
    """Migrate and COPY the incidents into a fresh PostgreSQL database, then ANALYZE."""
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
            bump_counter(conn, rows)
    finally:
        engine.dispose()
    u = make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database
    ) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY incident ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            buf = io.StringIO()
            for n, row in enumerate(generate_rows(rows, now), start=1):
                buf.write("\t".join(_copy_field(v) for v in row))
                buf.write("\n")
                if n % 50_000 == 0:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
                if n % 200_000 == 0:
                    say(f"    {n:,} rows ({time.monotonic() - t0:.0f}s)")
            copy.write(buf.getvalue())
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
        count = conn.execute("SELECT count(*) FROM incident").fetchone()
        assert count is not None and count[0] == rows, (count, rows)
    return time.monotonic() - t0


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # the generated text has no tab, newline or backslash


def schema_key() -> str:
    """Changes when the migrations or the generated data change (SQLite cache key)."""
    from dutydesk import migrate

    digest = hashlib.sha256(f"seed-{SEED_VERSION}".encode())
    for path in sorted((migrate.MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def sqlite_database(rows: int, workdir: Path, use_cache: bool) -> tuple[str, str]:
    """A seeded SQLite database copied into workdir; (url, how it was obtained)."""
    target = workdir / "queue.db"
    name = f"queue-sqlite-{rows}-{schema_key()}.db"
    cached = CACHE_DIR / name
    if use_cache and cached.is_file():
        t0 = time.monotonic()
        shutil.copyfile(cached, target)
        return f"sqlite:///{target}", f"copied from cache {cached} in {time.monotonic() - t0:.1f}s"
    say(f"  seeding {rows:,} incidents into SQLite (bulk insert) ...")
    if not use_cache:
        seconds = seed_sqlite(target, rows, workdir)
        return f"sqlite:///{target}", f"seeded in {seconds:.0f}s (cache off)"
    CACHE_DIR.mkdir(exist_ok=True)
    partial = CACHE_DIR / (name + ".partial")
    partial.unlink(missing_ok=True)
    seconds = seed_sqlite(partial, rows, workdir)
    for stale in CACHE_DIR.glob(f"queue-sqlite-{rows}-*.db"):
        stale.unlink()  # an older schema: never used again
    partial.replace(cached)
    shutil.copyfile(cached, target)
    return f"sqlite:///{target}", f"seeded in {seconds:.0f}s, cached as {cached}"


# ----------------------------------------------------------------------------- HTTP timing


class Client:
    """One keep-alive HTTP/1.1 connection; times request + full response body."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str) -> tuple[float, int, bytes]:
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        return time.perf_counter() - t0, resp.status, body

    def close(self) -> None:
        self.conn.close()


@dataclass
class Walks:
    """Latencies per page position (seconds) and what the walks returned."""

    pages: list[list[float]]
    items: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def queue_path(cursor: str | None) -> str:
    params = {"state": "open", "group": QUEUE_GROUP, "sort": SORT, "limit": PAGE_SIZE}
    if cursor:
        params["cursor"] = cursor
    return "/api/v1/incidents?" + urlencode(params)


def walk(client: Client, pages: int, walks: Walks) -> None:
    cursor = None
    seen: list[tuple[int, str, str]] = []
    for page in range(pages):
        elapsed, status, body = client.get(queue_path(cursor))
        if status != 200:
            walks.problems.append(f"page {page + 1}: HTTP {status} {body[:200]!r}")
            return
        walks.pages[page].append(elapsed)
        data = json.loads(body)
        walks.items.append(len(data["items"]))
        for item in data["items"]:
            if item["assignment_group_id"] != QUEUE_GROUP or item["state"] in (
                "resolved",
                "closed",
                "cancelled",
            ):
                walks.problems.append(f"page {page + 1}: {item['number']} is not in the queue")
            seen.append((item["priority"], item["opened_at"], item["number"]))
        cursor = data["next_cursor"]
        if cursor is None:
            break
    if seen != sorted(seen) or len({s[2] for s in seen}) != len(seen):
        walks.problems.append("pages are not in (priority, opened_at) order or repeat items")


# ----------------------------------------------------------------------------- plans


def explain(database_url: str, backend: str, pages: int = 2) -> tuple[dict[str, list[str]], Any]:
    """EXPLAIN of the exact SQL list_incidents runs for pages 1..pages, admin and agent; plus
    in-process timings of list_incidents (database + ORM, no HTTP) per role and page."""
    from sqlalchemy import event

    from dutydesk.db import Database, make_engine
    from dutydesk.incidents import queries
    from dutydesk.people.queries import build_actor, get_user_by_username

    engine = make_engine(database_url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "FROM incident" in statement and "LIMIT" in statement.upper():
            captured.append((statement, params))

    db = Database(engine)
    flt = queries.IncidentFilter(states=queries.parse_states("open"), group_ids=[QUEUE_GROUP])
    plans: dict[str, list[str]] = {}
    timings: dict[str, list[list[float]]] = {}
    try:
        for user in ("bob", "alice"):
            with db.unit_of_work(write=False) as session:
                actor = build_actor(session, get_user_by_username(session, user), scope="read")
            cursor = None
            for page in range(1, pages + 1):
                captured.clear()
                with db.unit_of_work(write=False) as session:
                    result = queries.list_incidents(
                        session, actor, flt, sort=SORT, limit=PAGE_SIZE, cursor=cursor
                    )
                statement, params = captured[-1]
                plans[f"{user} ({actor.role}) page {page}"] = _plan(
                    engine, backend, statement, params
                )
                cursor = result.next_cursor
            timings[user] = _time_in_process(db, queries, actor, flt)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        engine.dispose()
    return plans, timings


def _plan(engine: Any, backend: str, statement: str, params: Any) -> list[str]:
    with engine.connect() as conn:
        if backend == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).fetchall()
            depth = {0: 0}
            lines = []
            for node_id, parent, _unused, detail in rows:
                depth[node_id] = depth.get(parent, 0) + 1
                lines.append("  " * (depth[node_id] - 1) + detail)
        else:
            rows = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
            ).fetchall()
            lines = [r[0] for r in rows]
        conn.rollback()
    sql_one_line = " ".join(statement.split())
    if isinstance(params, dict):
        shown: Any = {k: _plain(v) for k, v in params.items()}
    else:
        shown = [_plain(v) for v in params]
    return [f"SQL: {sql_one_line}", f"params: {shown}", *lines]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _time_in_process(
    db: Any, queries: Any, actor: Any, flt: Any, reps: int = 15
) -> list[list[float]]:
    per_page: list[list[float]] = [[] for _ in range(5)]
    for rep in range(reps + 2):
        cursor = None
        for page in range(5):
            t0 = time.perf_counter()
            with db.unit_of_work(write=False) as session:
                result = queries.list_incidents(
                    session, actor, flt, sort=SORT, limit=PAGE_SIZE, cursor=cursor
                )
            if rep >= 2:  # two warm-up walks
                per_page[page].append(time.perf_counter() - t0)
            cursor = result.next_cursor
            if cursor is None:
                break
    return per_page


# ----------------------------------------------------------------------------- one backend


@dataclass
class BackendResult:
    backend: str
    rows: int
    healthz: list[float]
    walks: dict[str, Walks]
    in_process: dict[str, list[list[float]]]
    plans: dict[str, list[str]]
    prep: str

    def healthz_p50(self) -> float:
        return median(self.healthz)


def bench_backend(
    backend: str, database_url: str, workdir: Path, args: argparse.Namespace, prep: str
) -> BackendResult:
    say(f"  database ready: {prep}")
    t0 = time.monotonic()
    admin_token = _admin_and_agent(database_url, workdir)
    say(f"  users and tokens created in {time.monotonic() - t0:.1f}s")
    server = dutydesk_server(database_url, workdir, name=f"dutydesk-queue-{backend}")
    with server:
        say(f"  server pid {server.pid} on port {server.port}")
        agent_id = _agent_id(server.port, admin_token)
        api_json(
            server.port,
            "PUT",
            f"/api/v1/admin/groups/{QUEUE_GROUP}/members/{agent_id}",
            admin_token,
        )
        api_json(
            server.port,
            "PUT",
            f"/api/v1/admin/users/{agent_id}/customers/{AGENT_CUSTOMER}",
            admin_token,
        )
        agent_token = create_token(database_url, workdir, "alice")
        clients = {
            "admin": Client(server.port, admin_token),
            "agent": Client(server.port, agent_token),
        }
        health = Client(server.port)
        walks = {role: Walks([[] for _ in range(args.pages)]) for role in clients}
        scratch = Walks([[] for _ in range(args.pages)])
        for _ in range(3):  # warm-up: connection pools, statement caches, page cache
            for client in clients.values():
                walk(client, args.pages, scratch)
            for _ in range(10):
                health.get("/healthz")
        if scratch.problems:
            say(f"  warm-up problems: {scratch.problems[:3]}")
        healthz: list[float] = []
        t_run = time.monotonic()
        for rep in range(args.reps):
            for _ in range(args.healthz):
                elapsed, status, _ = health.get("/healthz")
                if status == 200:
                    healthz.append(elapsed)
            order = ("admin", "agent") if rep % 2 == 0 else ("agent", "admin")
            for role in order:
                walk(clients[role], args.pages, walks[role])
            if time.monotonic() - t_run > args.max_seconds:
                say(f"  stopped after {rep + 1} repetitions (--max-seconds {args.max_seconds})")
                break
        for client in (*clients.values(), health):
            client.close()
    say(f"  measured in {time.monotonic() - t_run:.1f}s")
    plans, in_process = explain(database_url, backend)
    return BackendResult(backend, args.rows, healthz, walks, in_process, plans, prep)


def _admin_and_agent(database_url: str, workdir: Path) -> str:
    cli(
        ["user", "add", "bob", "--role", "admin", "--email", "bob@example.com"],
        database_url,
        cwd=workdir,
    )
    cli(
        ["user", "add", "alice", "--role", "agent", "--email", "alice@example.com"],
        database_url,
        cwd=workdir,
    )
    return create_token(database_url, workdir, "bob")


def _agent_id(port: int, admin_token: str) -> int:
    users = api_json(port, "GET", "/api/v1/admin/users", admin_token)
    return int(next(u["id"] for u in users if u["username"] == "alice"))


def report_backend(res: BackendResult) -> None:
    hz = res.healthz_p50()
    say("")
    say(
        f"healthz on {res.backend}: p50 {hz * 1000:.2f} ms, p95 "
        f"{percentile(res.healthz, 95) * 1000:.2f} ms ({len(res.healthz)} requests)"
    )
    rows = []
    for role, walks in res.walks.items():
        user = "bob" if role == "admin" else "alice"
        for page, samples in enumerate(walks.pages, start=1):
            if not samples:
                continue
            p50, p95 = percentile(samples, 50), percentile(samples, 95)
            inproc = res.in_process.get(user, [])
            ip = median(inproc[page - 1]) if page - 1 < len(inproc) and inproc[page - 1] else None
            rows.append(
                [
                    role,
                    f"{page}",
                    f"{len(samples)}",
                    f"{p50 * 1000:.2f}",
                    f"{p95 * 1000:.2f}",
                    f"{percentile(samples, 99) * 1000:.2f}",
                    f"{p50 / hz:.1f}x",
                    f"{ip * 1000:.2f}" if ip is not None else "-",
                    f"< {TARGET_P95_MS:.0f}",
                    verdict(p95 * 1000 < TARGET_P95_MS),
                ]
            )
    say(
        table(
            [
                "role",
                "page",
                "n",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "p50/healthz",
                "in-process p50 ms",
                "target p95",
                "status",
            ],
            rows,
        )
    )
    for role, walks in res.walks.items():
        if walks.problems:
            say(f"  PROBLEMS ({role}): {walks.problems[:5]}")
        sizes = sorted(set(walks.items))
        say(f"  {role}: page sizes seen {sizes}")
    say("")
    say(f"query plans on {res.backend} (the SQL list_incidents runs, with its parameters):")
    for name, lines in res.plans.items():
        say(f"--- {name}")
        for line in lines:
            say(f"    {line}")


# ----------------------------------------------------------------------------- main


def summarize(results: Sequence[BackendResult], args: argparse.Namespace) -> None:
    banner(
        f"queue_query summary  ({args.rows:,} incidents, group {QUEUE_GROUP} queue, "
        f"{args.pages} pages of {PAGE_SIZE}, sort={SORT})"
    )
    rows = []
    for res in results:
        hz = res.healthz_p50()
        for role, walks in res.walks.items():
            every = [x for page in walks.pages for x in page]
            if not every:
                continue
            worst_p95 = max(percentile(p, 95) for p in walks.pages if p)
            first = walks.pages[0]
            rows.append(
                [
                    res.backend,
                    role,
                    f"{len(every)}",
                    f"{percentile(first, 50) * 1000:.2f}/{percentile(first, 95) * 1000:.2f}",
                    f"{percentile(every, 50) * 1000:.2f}/{percentile(every, 95) * 1000:.2f}",
                    f"{worst_p95 * 1000:.2f}",
                    f"{hz * 1000:.2f}",
                    f"{percentile(every, 50) / hz:.1f}x",
                    f"< {TARGET_P95_MS:.0f}",
                    verdict(worst_p95 * 1000 < TARGET_P95_MS and not walks.problems),
                ]
            )
    say(
        table(
            [
                "backend",
                "role",
                "requests",
                "page 1 p50/p95 ms",
                "all pages p50/p95 ms",
                "worst page p95",
                "healthz p50",
                "p50/healthz",
                "target p95",
                "status",
            ],
            rows,
        )
    )
    for res in results:
        uses = {name: _index_used(lines) for name, lines in res.plans.items()}
        say(f"{res.backend}: index used -> " + "; ".join(f"{k}: {v}" for k, v in uses.items()))
    say(f"server: {server_stack()}; client: one keep-alive connection per role, sequential")
    say(
        "p50/healthz = queue page p50 / GET /healthz p50 of the same server in the same run; "
        "in-process = one read unit of work running queries.list_incidents() in this process "
        "(pool checkout, SQL, ORM load of 51 rows, rollback; no auth, HTTP or JSON)"
    )


def _index_used(lines: list[str]) -> str:
    text = " ".join(lines[2:])
    for name in (
        "ix_incident_open_group",
        "ix_incident_open_queue",
        "ix_incident_group_opened",
        "ix_incident_state_priority",
        "ix_incident_customer_opened",
    ):
        if name in text:
            sort = " + sort" if ("TEMP B-TREE" in text or "Sort" in text) else ""
            return name + sort
    return "no index (scan)" if ("SCAN" in text or "Seq Scan" in text) else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--backend",
        choices=["all", "sqlite", "postgresql"],
        default="all",
        help="all = SQLite, plus PostgreSQL when reachable",
    )
    parser.add_argument("--reps", type=int, default=60, help="page walks per role")
    parser.add_argument("--pages", type=int, default=5, help="pages per walk")
    parser.add_argument("--healthz", type=int, default=5, help="/healthz requests per repetition")
    parser.add_argument(
        "--max-seconds", type=float, default=120, help="stop measuring a backend after this long"
    )
    parser.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="do not use or fill bench/.cache for SQLite",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()

    banner(f"queue_query: open queue of group {QUEUE_GROUP} over {args.rows:,} incidents")
    say(machine_info())
    say(server_stack())
    workdir = Path(tempfile.mkdtemp(prefix="dutydesk-bench-queue-"))
    results: list[BackendResult] = []
    try:
        if args.backend in ("all", "sqlite"):
            banner("queue_query on sqlite")
            url, prep = sqlite_database(args.rows, workdir, args.cache)
            results.append(bench_backend("sqlite", url, workdir, args, prep))
            report_backend(results[-1])
            (workdir / "queue.db").unlink(missing_ok=True)
        if args.backend in ("all", "postgresql"):
            ok, info = pg_reachable()
            if ok:
                banner("queue_query on postgresql")
                with pg_database() as url:
                    say(f"  seeding {args.rows:,} incidents into PostgreSQL (COPY) ...")
                    seconds = seed_postgresql(url, args.rows, workdir)
                    prep = f"seeded with COPY + ANALYZE in {seconds:.0f}s"
                    results.append(bench_backend("postgresql", url, workdir, args, prep))
                report_backend(results[-1])
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
