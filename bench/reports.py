"""Benchmark: the KPI reports over a large database, and the ServiceNow audit-log import.

(a) **KPIs**: ``--rows`` incidents (default 1,000,000; queue_query.py's generator and loader,
    SQLite cache included) plus their response and resolution SLA clocks and
    ``--events-per-incident`` history events each (default 10, so 10,000,000). Every function
    of ``dutydesk.reports.kpis`` (``kpi_table`` wall-clock and business-time, ``backlog``,
    ``volume``, ``reassignment_distribution``) runs for the last 90 days grouped by week, as
    an admin, ``--runs`` times, alternating with the baseline ``SELECT count(*)`` over the same
    90-day window. Medians, ratio KPI/baseline, targets: < 1 s PostgreSQL, < 3 s SQLite.
(b) **import**: a generated ``--import-rows``-row (default 150,000) ServiceNow-style audit log
    (the Kaggle "incident event log" layout, ~6 updates per incident) read and imported into a
    fresh database exactly as ``dutydesk import servicenow`` does (``cli.imports._read`` +
    ``imports.service.import_file_rows``), ``--import-runs`` times, against a plain
    ``csv.reader`` pass over the same file. Rows/s, ratio, target: whole file < 60 s.

    .venv/bin/python bench/reports.py                          # full size, SQLite + PostgreSQL
    .venv/bin/python bench/reports.py --rows 200000            # reduced
    .venv/bin/python bench/reports.py --quick                  # 50,000 rows, 30,000-row import
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    banner,
    cli,
    cpu_seconds,
    machine_info,
    median,
    pg_backend_pids,
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
    generate_rows,
    schema_key,
    seed_postgresql,
)
from queue_query import sqlite_database as queue_sqlite_database

TARGET_S = {"sqlite": 3.0, "postgresql": 1.0}
TARGET_IMPORT_S = 60.0
SEED_VERSION = 1  # bump when the generated clocks/events change (SQLite cache key)
WINDOW = timedelta(days=90)
RESPONSE_TARGET = 4 * 3600
RESOLUTION_TARGET = 3 * 86_400
_I = {name: i for i, name in enumerate(COLUMNS)}
CLOCK_COLUMNS = (
    "incident_id", "kind", "group_id", "policy_name", "calendar_id", "target_seconds",
    "warn_percents", "started_at", "elapsed_before", "segment_start", "due_at",
    "next_check_at", "warned_percent", "breached_at", "stopped_at", "stop_reason",
)  # fmt: skip
EVENT_COLUMNS = (
    "incident_id", "seq", "at", "actor_id", "actor_name", "actor_type", "channel", "kind",
    "field", "old", "new", "reason", "rule_id", "request_id", "imported", "prev_hash", "hash",
)  # fmt: skip
EVENT_FIELDS = ("state", "assignment_group_id", "priority", "assignee_id", "urgency")


# ----------------------------------------------------------------------------- seed data


def clock_rows(rows: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """A response and a resolution clock per incident (id i), stopped, breached or running."""
    for i, row in enumerate(generate_rows(rows, now), start=1):
        opened, ack = row[_I["opened_at"]], row[_I["acknowledged_at"]]
        resolved, cancelled = row[_I["resolved_at"]], row[_I["cancelled_at"]]
        for kind, target, end in (
            ("response", RESPONSE_TARGET, ack or cancelled),
            ("resolution", RESOLUTION_TARGET, resolved or cancelled),
        ):
            due = opened + timedelta(seconds=target)
            if end is not None:
                used = (end - opened).total_seconds()
                breached = due if used > target else None
                reason = "cancelled" if end is cancelled and end is not ack else "met"
                yield (i, kind, None, "Bench seed", 1, target, "[]", opened, used, None, None,
                       None, 0, breached, end, reason)  # fmt: skip
            else:
                used = (now - opened).total_seconds()
                breached = due if used > target else None
                nxt = None if breached else due
                yield (i, kind, None, "Bench seed", 1, target, "[]", opened, 0.0, opened, due,
                       nxt, 0, breached, None, None)  # fmt: skip


def event_rows(rows: int, per_incident: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """per_incident history events per incident: 'created', then field changes spread between
    opening and the last update (hashes are placeholders: the chain is not verified here)."""
    rng = random.Random(20261124)
    prev = "0" * 64
    for i, row in enumerate(generate_rows(rows, now), start=1):
        opened, updated = row[_I["opened_at"]], row[_I["updated_at"]]
        span = max(1.0, (updated - opened).total_seconds())
        for seq in range(1, per_incident + 1):
            at = opened + timedelta(seconds=span * (seq - 1) / per_incident)
            digest = f"{i:032x}{seq:032x}"
            if seq == 1:
                kind, fld, old, new = "created", None, None, '{"state":"new"}'
            else:
                kind, fld = "field_changed", EVENT_FIELDS[rng.randrange(len(EVENT_FIELDS))]
                old, new = str(rng.randint(1, 9)), str(rng.randint(1, 9))
            yield (i, seq, at, None, f"agent{i % 50}", "user", "web", kind, fld, old, new,
                   None, None, None, False, prev, digest)  # fmt: skip
            prev = digest


def streams(
    rows: int, per_incident: int, now: datetime
) -> list[tuple[str, Any, Sequence[str], Any]]:
    from dutydesk.models import IncidentEvent, SlaClock

    return [
        ("sla_clock", SlaClock, CLOCK_COLUMNS, clock_rows(rows, now)),
        ("incident_event", IncidentEvent, EVENT_COLUMNS, event_rows(rows, per_incident, now)),
    ]


def seed_now_sqlite(path: Path) -> datetime:
    """The `now` queue_query seeded with: the last update is at most `now` (and so close)."""
    raw = sqlite3.connect(path)
    try:
        value = raw.execute("SELECT max(updated_at) FROM incident").fetchone()[0]
    finally:
        raw.close()
    return _parse_dt(value)


def _parse_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace(" ", "T")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_history_sqlite(path: Path, rows: int, per_incident: int) -> float:
    """Clocks and events on top of queue_query's incidents (Core executemany, as it does)."""
    from sqlalchemy import insert

    from dutydesk.db import make_engine

    t0 = time.monotonic()
    now = seed_now_sqlite(path)
    engine = make_engine(f"sqlite:///{path}", sqlite_synchronous="OFF")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-500000")
            for name, model, columns, source in streams(rows, per_incident, now):
                stmt, batch = insert(model), []
                for n, row in enumerate(source, start=1):
                    batch.append(dict(zip(columns, row, strict=True)))
                    if len(batch) == 20_000:
                        conn.execute(stmt, batch)
                        batch.clear()
                    if n % 1_000_000 == 0:
                        say(f"    {name}: {n:,} rows ({time.monotonic() - t0:.0f}s)")
                if batch:
                    conn.execute(stmt, batch)
    finally:
        engine.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("ANALYZE")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("PRAGMA journal_mode=DELETE")
    finally:
        raw.close()
    return time.monotonic() - t0


def sqlite_database(
    rows: int, per_incident: int, workdir: Path, use_cache: bool
) -> tuple[str, str]:
    target = workdir / "reports.db"
    name = f"reports-sqlite-{rows}-{per_incident}-{schema_key()}-r{SEED_VERSION}.db"
    cached = CACHE_DIR / name
    if use_cache and cached.is_file():
        t0 = time.monotonic()
        shutil.copyfile(cached, target)
        return f"sqlite:///{target}", f"copied from cache {cached} in {time.monotonic() - t0:.1f}s"
    t0 = time.monotonic()
    _url, how = queue_sqlite_database(rows, workdir, use_cache)  # -> workdir/queue.db
    base = workdir / "queue.db"
    say(f"  incidents: {how}; adding clocks and {rows * per_incident:,} events ...")
    seconds = add_history_sqlite(base, rows, per_incident)
    if use_cache:
        CACHE_DIR.mkdir(exist_ok=True)
        for stale in CACHE_DIR.glob(f"reports-sqlite-{rows}-{per_incident}-*.db"):
            stale.unlink()
        partial = CACHE_DIR / (name + ".partial")
        shutil.copyfile(base, partial)
        partial.replace(cached)
    base.replace(target)
    return (
        f"sqlite:///{target}",
        f"seeded in {time.monotonic() - t0:.0f}s (clocks + events {seconds:.0f}s)"
        + (f", cached as {cached}" if use_cache else ""),
    )


def seed_postgresql_all(url: str, rows: int, per_incident: int, workdir: Path) -> float:
    """queue_query's COPY of the incidents, then COPY of clocks and events, then ANALYZE."""
    import psycopg
    from sqlalchemy.engine import make_url

    t0 = time.monotonic()
    seed_postgresql(url, rows, workdir)
    u = make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database
    ) as conn:
        now = _parse_dt(conn.execute("SELECT max(updated_at) FROM incident").fetchone()[0])
        for name, _model, columns, source in streams(rows, per_incident, now):
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
                    if n % 1_000_000 == 0:
                        say(f"    {name}: {n:,} rows ({time.monotonic() - t0:.0f}s)")
                copy.write(buf.getvalue())
            conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
    return time.monotonic() - t0


# ----------------------------------------------------------------------------- KPI timing


@dataclass
class KpiResult:
    backend: str
    prep: str
    window: tuple[datetime, datetime]
    baseline_rows: int
    times: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # this process's CPU seconds
    # PostgreSQL: CPU seconds of the database's server processes (parallel workers excluded)
    server: dict[str, list[float]] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)


BASELINE = "baseline: SELECT count(*) 90 days"
DASHBOARD = "dashboard page (all its reads)"  # informational: several KPI calls, no target


def dashboard_page(s: Any, actor: Any, start: datetime, end: datetime, now: datetime) -> Any:
    """Every read of one /dashboard page for the window (reports.web makes the same call):
    the tiles of the period and the one before, the four charts by week, the breakdown."""
    from dutydesk.reports import dashboard
    from dutydesk.reports.kpis import ReportFilter

    window = dashboard.Window(start, end)
    return dashboard.page(s, actor, ReportFilter(), window, now, "group").table.groups


def time_kpis(url: str, backend: str, prep: str, runs: int) -> KpiResult:
    from sqlalchemy import event, func, select

    from dutydesk.access.policy import system_actor
    from dutydesk.db import Database, make_engine
    from dutydesk.models import Incident
    from dutydesk.reports import kpis

    engine = make_engine(url)
    db = Database(engine)
    actor = system_actor()
    with db.unit_of_work(write=False) as s:
        last = _parse_dt(s.scalar(select(func.max(Incident.opened_at))))
    end = last + timedelta(seconds=1)
    start = end - WINDOW
    flt = kpis.ReportFilter(opened_from=start, opened_to=end)
    now = _parse_dt(last) + timedelta(hours=1)

    def baseline(s: Any) -> Any:
        return s.scalar(
            select(func.count())
            .select_from(Incident)
            .where(Incident.opened_at >= start, Incident.opened_at < end)
        )

    calls: dict[str, Callable[[Any], Any]] = {
        BASELINE: baseline,
        "kpi_table (week)": lambda s: kpis.kpi_table(s, actor, flt, group_by="week").groups,
        "kpi_table business (week)": lambda s: (
            kpis.kpi_table(s, actor, flt, group_by="week", business=True).groups
        ),
        "backlog (week)": lambda s: kpis.backlog(s, actor, flt, now=now, group_by="week"),
        "volume (week)": lambda s: kpis.volume(s, actor, flt, period="week"),
        "reassignment_distribution (week)": lambda s: kpis.reassignment_distribution(
            s, actor, flt, group_by="week"
        ),
        DASHBOARD: lambda s: dashboard_page(s, actor, start, end, now),
    }
    with db.unit_of_work(write=False) as s:
        base_rows = int(baseline(s))
    res = KpiResult(backend, prep, (start, end), base_rows)

    def server_cpu() -> float:  # the pooled connection's backend (a load-independent figure)
        if backend == "sqlite":
            return 0.0
        return sum(cpu_seconds(pid) for pid in pg_backend_pids(url))

    statements: dict[str, list[tuple[str, Any]]] = {}
    current: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        current.append((statement, params))

    try:
        for name, fn in calls.items():  # warm-up (page cache) + the SQL for the plans
            current.clear()
            event.listen(engine, "before_cursor_execute", capture)
            try:
                with db.unit_of_work(write=False) as s:
                    out = fn(s)
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            statements[name] = list(current)
            res.groups[name] = out if isinstance(out, int) else len(out)
            say(f"  warm-up {name}: {res.groups[name]} rows/groups")
        for run in range(runs):
            order = list(calls.items())
            if run % 2:
                order.reverse()
            for name, fn in order:
                for _ in range(1 if name != BASELINE else 2):  # baseline before and after
                    s0 = server_cpu()
                    t0, c0 = time.perf_counter(), time.process_time()
                    with db.unit_of_work(write=False) as s:
                        fn(s)
                    res.times.setdefault(name, []).append(time.perf_counter() - t0)
                    res.cpu.setdefault(name, []).append(time.process_time() - c0)
                    res.server.setdefault(name, []).append(server_cpu() - s0)
            say(f"  run {run + 1}/{runs} done")
        for name, stmts in statements.items():
            res.plans[name] = _plans(engine, backend, stmts)
    finally:
        engine.dispose()
    return res


def _plans(engine: Any, backend: str, stmts: list[tuple[str, Any]]) -> list[str]:
    lines: list[str] = []
    with engine.connect() as conn:
        for statement, params in stmts:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            if "FROM incident" not in statement and "FROM sla_clock" not in statement:
                continue
            lines.append("SQL: " + " ".join(statement.split())[:300] + " ...")
            if backend == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).fetchall()
                depth = {0: 0}
                for node_id, parent, _unused, detail in rows:
                    depth[node_id] = depth.get(parent, 0) + 1
                    lines.append("  " * depth[node_id] + detail)
            else:
                rows = conn.exec_driver_sql("EXPLAIN " + statement, params).fetchall()
                lines += ["  " + r[0] for r in rows]
        conn.rollback()
    return lines


# ----------------------------------------------------------------------------- import


LEVELS = ("1 - High", "2 - Medium", "3 - Low")
PRIORITIES = ("1 - Critical", "2 - High", "3 - Moderate", "4 - Low")
PATH = ("New", "Active", "Awaiting User Info", "Active", "Resolved", "Closed")


def write_audit_log(path: Path, rows: int) -> int:
    """A ServiceNow-style audit log: each incident 2-10 updates (mean 6) in time order, the
    Kaggle export's columns, '?' for missing, dates as dd/mm/YYYY HH:MM. Returns incidents."""
    from dutydesk.imports.servicenow import COLUMNS

    rng = random.Random(20261125)
    fmt = "%d/%m/%Y %H:%M"
    start = datetime(2016, 2, 29, 1, 16, tzinfo=UTC)
    written = n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        while written < rows:
            n += 1
            updates = min(rng.randint(2, 10), rows - written)
            opened = start + timedelta(minutes=n * 7)
            at = opened
            group, assignee = f"Group {rng.randint(1, 70)}", "?"
            impact, urgency = rng.randint(1, 3), rng.randint(1, 3)
            for k in range(updates):
                last = k == updates - 1
                state = PATH[min(k, 3)] if not last or updates < 5 else "Closed"
                if k and rng.random() < 0.3:
                    group = f"Group {rng.randint(1, 70)}"
                if k and assignee == "?":
                    assignee = f"Resolver {rng.randint(1, 200)}"
                resolved = at.strftime(fmt) if state in ("Resolved", "Closed") else "?"
                out.writerow(
                    (
                        f"INC{n:07d}", state, "false" if state == "Closed" else "true",
                        0, 0, k, "true", f"Caller {rng.randint(1, 5000)}",
                        f"Opened by {rng.randint(1, 200)}", opened.strftime(fmt),
                        f"Created by {rng.randint(1, 200)}", opened.strftime(fmt),
                        f"Updated by {rng.randint(1, 300)}", at.strftime(fmt),
                        ("Phone", "Email", "Self service")[n % 3], f"Location {n % 200}",
                        f"Category {n % 50}", f"Subcategory {n % 200}", f"Symptom {n % 500}",
                        "?", LEVELS[impact - 1], LEVELS[urgency - 1],
                        PRIORITIES[min(3, impact + urgency - 2)], group, assignee, "false",
                        "false", "Do Not Notify", "?", "?", "?", "?",
                        f"code {n % 17}" if state == "Closed" else "?",
                        assignee if resolved != "?" else "?", resolved,
                        at.strftime(fmt) if state == "Closed" else "?",
                    )
                )  # fmt: skip
                at += timedelta(minutes=rng.randint(1, 600))
            written += updates
    return n


@dataclass
class ImportResult:
    backend: str
    rows: int
    incidents: int
    csv_s: list[float] = field(default_factory=list)
    import_s: list[float] = field(default_factory=list)
    import_cpu_s: list[float] = field(default_factory=list)  # this process (SQLite: all)
    summary: str = ""


def time_import(
    backend: str,
    make_url: Callable[[int], Any],
    path: Path,
    rows: int,
    incidents: int,
    runs: int,
    workdir: Path,
) -> ImportResult:
    """Each run: a fresh migrated database, csv.reader pass, then _read + import_file_rows."""
    from dutydesk.cli.imports import _read
    from dutydesk.db import Database, make_engine
    from dutydesk.imports.service import import_file_rows
    from dutydesk.imports.servicenow import DEFAULT_DATE_FORMAT, REQUIRED

    res = ImportResult(backend, rows, incidents)
    for run in range(runs):
        with make_url(run) as url:
            cli(["migrate"], url, cwd=workdir)
            t0 = time.perf_counter()
            with open(path, newline="", encoding="utf-8-sig") as fh:
                count = sum(1 for _ in csv.reader(fh)) - 1
            res.csv_s.append(time.perf_counter() - t0)
            assert count == rows, (count, rows)
            engine = make_engine(url)
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                _header, parsed = _read(path, REQUIRED)
                report = import_file_rows(Database(engine), parsed, date_format=DEFAULT_DATE_FORMAT)
                res.import_s.append(time.perf_counter() - t0)
                res.import_cpu_s.append(time.process_time() - c0)
            finally:
                engine.dispose()
            res.summary = report.summary().splitlines()[0][:200]
            if report.imported != incidents or report.rejected:
                raise RuntimeError(f"import run {run + 1}: {report.summary()[:2000]}")
            say(
                f"  import run {run + 1}/{runs}: {res.import_s[-1]:.1f}s "
                f"({rows / res.import_s[-1]:,.0f} rows/s, {res.import_cpu_s[-1]:.1f}s CPU in "
                f"this process); csv.reader {res.csv_s[-1]:.2f}s"
            )
    return res


class _SqliteFile:
    def __init__(self, workdir: Path, run: int) -> None:
        self.path = workdir / f"import-{run}.db"

    def __enter__(self) -> str:
        self.path.unlink(missing_ok=True)
        return f"sqlite:///{self.path}"

    def __exit__(self, *_exc: object) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


# ----------------------------------------------------------------------------- report


def report_kpis(res: KpiResult, show_plans: bool) -> None:
    base = median(res.times[BASELINE])
    target = TARGET_S[res.backend]
    start, end = res.window
    say("")
    say(
        f"KPIs on {res.backend}: window {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC, "
        f"{res.baseline_rows:,} incidents in it; {res.prep}"
    )
    rows = []
    for name, samples in res.times.items():
        m = median(samples)
        is_base = name == BASELINE
        untargeted = is_base or name == DASHBOARD  # the target is per KPI function
        rows.append(
            [
                name,
                f"{len(samples)}",
                f"{res.groups.get(name, '')}",
                f"{m * 1000:.1f}",
                f"{min(samples) * 1000:.1f}",
                f"{max(samples) * 1000:.1f}",
                f"{median(res.cpu[name]) * 1000:.1f}",
                f"{median(res.server[name]) * 1000:.0f}" if res.backend != "sqlite" else "",
                "1.0x" if is_base else f"{m / base:.1f}x",
                "" if untargeted else f"< {target:.0f} s",
                "" if untargeted else verdict(m < target),
            ]
        )
    say(
        table(
            ["report", "n", "groups", "median ms", "min ms", "max ms", "cpu ms", "server cpu ms",
             "/baseline", "target", "status"],
            rows,
        )
    )  # fmt: skip
    if show_plans:
        say(f"query plans on {res.backend}:")
        for name, lines in res.plans.items():
            say(f"--- {name}")
            for line in lines:
                say(f"    {line}")


def report_import(res: ImportResult) -> None:
    imp, raw = median(res.import_s), median(res.csv_s)
    say("")
    say(
        f"import on {res.backend}: {res.rows:,} rows, {res.incidents:,} incidents; "
        f"last run: {res.summary}"
    )
    say(
        table(
            ["pass", "n", "median s", "cpu s", "rows/s", "/csv.reader", "target", "status"],
            [
                ["baseline: csv.reader", len(res.csv_s), f"{raw:.2f}", "",
                 f"{res.rows / raw:,.0f}", "1.0x", "", ""],
                ["dutydesk import servicenow (in-process)", len(res.import_s), f"{imp:.1f}",
                 f"{median(res.import_cpu_s):.1f}", f"{res.rows / imp:,.0f}",
                 f"{imp / raw:.0f}x slower", f"< {TARGET_IMPORT_S:.0f} s",
                 verdict(imp < TARGET_IMPORT_S)],
            ],
        )
    )  # fmt: skip


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="incidents (default 1,000,000)")
    parser.add_argument("--events-per-incident", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of every KPI")
    parser.add_argument("--import-rows", type=int, default=None, help="default 150,000")
    parser.add_argument("--import-runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50,000 incidents, 30,000-row log")
    parser.add_argument(
        "--backend", choices=["all", "sqlite", "postgresql"], default="all",
        help="all = SQLite, plus PostgreSQL when reachable",
    )  # fmt: skip
    parser.add_argument("--skip", choices=["kpis", "import"], action="append", default=[])
    parser.add_argument("--plans", action="store_true", help="print the KPI query plans")
    parser.add_argument("--no-cache", dest="cache", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args()
    if args.rows is None:
        args.rows = 50_000 if args.quick else 1_000_000
    if args.import_rows is None:
        args.import_rows = 30_000 if args.quick else 150_000
    if args.quick:
        args.runs, args.import_runs = min(args.runs, 3), min(args.import_runs, 2)

    banner(
        f"reports: KPIs over {args.rows:,} incidents / "
        f"{args.rows * args.events_per_incident:,} events; import of {args.import_rows:,} rows"
    )
    say(machine_info())
    workdir = Path(tempfile.mkdtemp(prefix="dutydesk-bench-reports-"))
    kpi_results: list[KpiResult] = []
    import_results: list[ImportResult] = []
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    try:
        log = workdir / "audit.csv"
        incidents = 0
        if "import" not in args.skip:
            t0 = time.monotonic()
            incidents = write_audit_log(log, args.import_rows)
            say(
                f"audit log: {args.import_rows:,} rows, {incidents:,} incidents, "
                f"{log.stat().st_size / 1e6:.1f} MB, written in {time.monotonic() - t0:.1f}s"
            )
        for backend in backends:
            if backend == "postgresql":
                ok, info = pg_reachable()
                if not ok:
                    say(f"\nPostgreSQL not reachable ({info}): skipped")
                    continue
            banner(f"reports on {backend}")
            if "kpis" not in args.skip:
                if backend == "sqlite":
                    url, prep = sqlite_database(
                        args.rows, args.events_per_incident, workdir, args.cache
                    )
                    kpi_results.append(time_kpis(url, backend, prep, args.runs))
                    (workdir / "reports.db").unlink(missing_ok=True)
                else:
                    with pg_database("dutydesk_bench_reports") as url:
                        say("  seeding into PostgreSQL (COPY) ...")
                        seconds = seed_postgresql_all(
                            url, args.rows, args.events_per_incident, workdir
                        )
                        prep = f"seeded with COPY + ANALYZE in {seconds:.0f}s"
                        kpi_results.append(time_kpis(url, backend, prep, args.runs))
                report_kpis(kpi_results[-1], args.plans)
            if "import" not in args.skip:
                if backend == "sqlite":
                    maker: Callable[[int], Any] = lambda run: _SqliteFile(workdir, run)  # noqa: E731
                else:
                    maker = lambda run: pg_database("dutydesk_bench_reports")  # noqa: E731
                import_results.append(
                    time_import(
                        backend, maker, log, args.import_rows, incidents, args.import_runs,
                        workdir,
                    )
                )  # fmt: skip
                report_import(import_results[-1])
        banner(
            f"reports summary ({args.rows:,} incidents, "
            f"{args.rows * args.events_per_incident:,} events, 90 days by week)"
        )
        for res in kpi_results:
            report_kpis(res, False)
        for imp in import_results:
            report_import(imp)
        say(
            "\nKPI time = one read unit of work running the kpis function in this process "
            "(SQL + Python); cpu ms = this process's CPU time (SQLite runs in it: a figure that"
            " other load on the machine does not inflate; PostgreSQL's work is in the server);"
            " server cpu ms = PostgreSQL: CPU time of the database's server processes"
            " (/proc; parallel workers not included, they come and go within a query);"
            " /baseline = median / median of SELECT count(*) over the same window"
            " in the same run. Import = cli.imports._read + import_file_rows into a fresh "
            "migrated database (no progress bar); /csv.reader = a bare csv.reader pass."
        )
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
