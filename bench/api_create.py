"""Benchmark: incidents created per second through ``POST /api/v1/incidents``.

The real endpoint (token auth, validation, logging checklist, priority, number counter,
three hash-chained history events, two SLA clocks, routing, one transaction) is compared
with a bare FastAPI endpoint that only validates the same body with the same Pydantic model
(``IncidentCreate``) and echoes it. Both run under the same uvicorn settings (one process,
loop/http "auto", access log off), in the same run, alternating, so the ratio real/bare is
meaningful on a noisy machine. Load comes from ``wrk`` (32 connections, one wrk thread) with
a Lua script; without wrk an asyncio client in a second process does the same (``--client
asyncio`` forces it).

A third server, the "plain ORM insert" baseline (``_plain_server.py``; ``--no-plain`` skips
it), runs in the same rotation (bare, plain, real): an ``async def`` endpoint, no thread
pool, that validates the same body and inserts it as one row of the real ``Incident`` model
(same table, same indexes, same engine settings) with a SQLAlchemy ``Session``, one commit per
request, nothing else (no auth, no history, no SLA). It writes into a database of its own
(a second SQLite file / a second PostgreSQL database, migrated the same way), so the ratio
real/plain says what the full ITIL create costs over a plain ORM insert on this machine, in
the same minutes. The target stays real/bare >= 0.4; plain/bare and real/plain are reported
next to it, without a target.

A run sends POSTs for ``--duration`` seconds and then stops sending but lets every request
in flight finish (no request is cut off), so afterwards the number of incidents in the
database must equal the number of 201 responses exactly (for the plain server too, in its
own database).

    .venv/bin/python bench/api_create.py                  # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/api_create.py --backend sqlite --runs 3 --duration 5
    .venv/bin/python bench/api_create.py --no-plain       # bare and real only, as before
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    HOST,
    Server,
    banner,
    bare_server,
    baseline_server,
    cli,
    cpu_seconds,
    db_env,
    dutydesk_server,
    machine_info,
    median,
    percentile,
    pg_backend_pids,
    pg_database,
    pg_reachable,
    prepare_admin,
    say,
    server_stack,
    table,
    verdict,
)

TARGET_RATIO = 0.4
PATH = "/api/v1/incidents"
DRAIN_SECONDS = 3.0  # after the sending window: time for requests in flight to finish

WRK_LUA = r"""
-- POST /api/v1/incidents for a fixed window, then stop sending and let requests in flight
-- finish (delay() parks every connection), so no request is cut off when wrk stops.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } dd_timespec;
int clock_gettime(int clk, dd_timespec *ts);
]]
local ts = ffi.new("dd_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  token, window, tag, path = args[1], tonumber(args[2]), args[3], args[4]
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
  seq, sent, received, created, last_received = 0, 0, 0, 0, 0
  statuses = {}
  first_sent, deadline = nil, nil
  -- wrk calls request() once on the first thread to check the script before any connection
  -- exists (script_verify_request); that call sends nothing and is not counted.
  verifying = (tid == 1)
end

local function start_clock()
  if deadline == nil then
    first_sent = now()
    deadline = first_sent + window
  end
end

function delay()
  start_clock()
  if now() >= deadline then return 3600000 end  -- park the connection for good
  return 0
end

function request()
  if verifying then
    verifying = false
    return wrk.format("POST", path, headers, "{}")
  end
  start_clock()
  seq = seq + 1
  sent = sent + 1
  local body = string.format(
    '{"short_description":"bench %s t%d #%d","caller_id":1,"impact":2,"urgency":2,'
    .. '"channel":"api"}', tag, tid, seq)
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  received = received + 1
  last_received = now()
  if status == 201 then created = created + 1 end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local sent_all, received_all, created_all, first, last = 0, 0, 0, nil, 0
  local st = {}
  for _, t in ipairs(threads) do
    sent_all = sent_all + (t:get("sent") or 0)
    received_all = received_all + (t:get("received") or 0)
    created_all = created_all + (t:get("created") or 0)
    local f, l = t:get("first_sent"), t:get("last_received") or 0
    if f ~= nil and (first == nil or f < first) then first = f end
    if l > last then last = l end
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do st[k] = (st[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(st) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"sent":%d,"received":%d,"created":%d,"elapsed":%.6f,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"statuses":{%s}}\n',
    sent_all, received_all, created_all, (first and (last - first) or 0),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ",")))
end
"""


@dataclass
class Result:
    label: str
    sent: int
    received: int
    created: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    errors: dict[str, int] = field(default_factory=dict)
    server_cpu: float = 0.0  # CPU seconds the server process used during the run
    db_cpu: float = 0.0  # CPU seconds of the PostgreSQL backends serving it (PostgreSQL only)

    @property
    def rps(self) -> float:
        return self.received / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per response."""
        return 1000 * self.server_cpu / self.received if self.received else 0.0

    @property
    def db_cpu_ms(self) -> float:
        return 1000 * self.db_cpu / self.received if self.received else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.startswith("2"))

    @property
    def unanswered(self) -> int:
        return self.sent - self.received


# ----------------------------------------------------------------------------- load: wrk


def run_wrk(
    port: int, token: str, window: float, tag: str, args: argparse.Namespace, script: Path
) -> Result:
    cmd = [
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{math.ceil(window + DRAIN_SECONDS)}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        f"http://{HOST}:{port}",
        "--",
        token,
        f"{window}",
        tag,
        PATH,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=window + DRAIN_SECONDS + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Result(
        tag,
        data["sent"],
        data["received"],
        data["created"],
        data["elapsed"],
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["statuses"],
        data["errors"],
    )


# ----------------------------------------------------------------------------- load: asyncio


def run_asyncio(port: int, token: str, window: float, tag: str, args: argparse.Namespace) -> Result:
    """The same load from a second process: N concurrent keep-alive clients on raw streams."""
    cmd = [
        sys.executable,
        __file__,
        "--asyncio-worker",
        json.dumps(
            {
                "port": port,
                "token": token,
                "window": window,
                "tag": tag,
                "connections": args.connections,
            }
        ),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=window + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"asyncio client failed:\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return Result(
        tag,
        data["sent"],
        data["received"],
        data["created"],
        data["elapsed"],
        data["p50_ms"],
        data["p99_ms"],
        data["statuses"],
    )


async def _asyncio_load(
    port: int, token: str, window: float, tag: str, connections: int
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counts = {"sent": 0, "received": 0, "created": 0}
    start = time.perf_counter()
    deadline = start + window
    last = start

    async def client(cid: int) -> None:
        nonlocal last
        reader, writer = await asyncio.open_connection(HOST, port)
        seq = 0
        try:
            while time.perf_counter() < deadline:
                seq += 1
                body = json.dumps(
                    {
                        "short_description": f"bench {tag} t{cid} #{seq}",
                        "caller_id": 1,
                        "impact": 2,
                        "urgency": 2,
                        "channel": "api",
                    }
                ).encode()
                head = (
                    f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                t0 = time.perf_counter()
                writer.write(head + body)
                counts["sent"] += 1
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                await reader.readexactly(length)
                t1 = time.perf_counter()
                code = status_line.split()[1].decode()
                counts["received"] += 1
                counts["created"] += code == "201"
                statuses[code] = statuses.get(code, 0) + 1
                latencies.append(t1 - t0)
                last = max(last, t1)
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(connections)))
    return {
        **counts,
        "elapsed": last - start,
        "statuses": statuses,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def _asyncio_worker(spec: str) -> None:
    params = json.loads(spec)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        _asyncio_load(
            params["port"], params["token"], params["window"], params["tag"], params["connections"]
        )
    )
    print(json.dumps(result))


# ----------------------------------------------------------------------------- one backend


@dataclass
class BackendReport:
    backend: str
    bare: list[Result]
    real: list[Result]
    warmup_created: int
    db_incidents: int
    db_distinct: int
    db_events: int
    chain_ok: bool | None
    chain_seconds: float
    # The plain ORM insert baseline (empty / None with --no-plain), on its own database.
    plain: list[Result] = field(default_factory=list)
    plain_warmup_created: int = 0
    plain_db_incidents: int | None = None
    plain_db_distinct: int | None = None

    @property
    def created_total(self) -> int:
        return self.warmup_created + sum(r.created for r in self.real)

    @property
    def plain_created_total(self) -> int:
        return self.plain_warmup_created + sum(r.created for r in self.plain)

    @property
    def plain_unanswered(self) -> int:
        return sum(r.unanswered for r in self.plain)

    @property
    def plain_writes_ok(self) -> bool:
        return self.plain_db_incidents == self.plain_created_total == self.plain_db_distinct

    @property
    def plain_ratio(self) -> float:
        """plain/bare: what one ORM insert and commit per request costs over validation."""
        bare = median([r.rps for r in self.bare])
        return median([r.rps for r in self.plain]) / bare if bare and self.plain else math.nan

    @property
    def real_plain_ratio(self) -> float:
        """real/plain: the full ITIL create against the plain ORM insert."""
        plain = median([r.rps for r in self.plain]) if self.plain else math.nan
        return median([r.rps for r in self.real]) / plain if plain else math.nan

    @property
    def unanswered(self) -> int:
        return sum(r.unanswered for r in self.real)

    @property
    def ratio(self) -> float:
        bare = median([r.rps for r in self.bare])
        return median([r.rps for r in self.real]) / bare if bare else 0.0

    @property
    def writes_ok(self) -> bool:
        return self.db_incidents == self.created_total == self.db_distinct


def load(
    server: Server,
    token: str,
    window: float,
    tag: str,
    args: argparse.Namespace,
    script: Path,
    database_url: str | None = None,
) -> Result:
    """One load run against a server, with the CPU the server (and PostgreSQL) spent on it."""
    backends = pg_backend_pids(database_url) if database_url else []
    db_before = {pid: cpu_seconds(pid) for pid in backends}
    cpu_before = cpu_seconds(server.pid)
    if args.client == "wrk":
        result = run_wrk(server.port, token, window, tag, args, script)
    else:
        result = run_asyncio(server.port, token, window, tag, args)
    result.server_cpu = cpu_seconds(server.pid) - cpu_before
    if database_url:
        after = {pid: cpu_seconds(pid) for pid in pg_backend_pids(database_url)}
        result.db_cpu = sum(max(0.0, cpu - db_before.get(pid, 0.0)) for pid, cpu in after.items())
    return result


def plain_server(database_url: str, cwd: Path) -> Server:
    """The plain ORM insert baseline (``_plain_server.py``) on its own database."""
    return baseline_server("plain", "_plain_server.py", database_url, cwd)


def prepare_plain(database_url: str, cwd: Path, user: str = "bob") -> None:
    """Migrate the plain server's database like the real one, and add the same first user
    (the requests name caller 1, a foreign key)."""
    cli(["migrate"], database_url, cwd=cwd)
    cli(
        ["user", "add", user, "--role", "admin", "--email", f"{user}@example.com"],
        database_url,
        cwd=cwd,
    )


def bench_backend(
    backend: str,
    database_url: str,
    workdir: Path,
    args: argparse.Namespace,
    script: Path,
    plain_url: str | None = None,
) -> BackendReport:
    banner(f"api_create on {backend}")
    t0 = time.monotonic()
    token = prepare_admin(database_url, workdir)
    say(f"  migrated, admin bob + API token created in {time.monotonic() - t0:.1f}s")
    if plain_url:
        t0 = time.monotonic()
        prepare_plain(plain_url, workdir)
        say(f"  plain server's own database migrated, bob added in {time.monotonic() - t0:.1f}s")
    bare_results: list[Result] = []
    plain_results: list[Result] = []
    real_results: list[Result] = []
    real = dutydesk_server(database_url, workdir, name=f"dutydesk-{backend}")
    real.env.update(args.server_env)
    bare = bare_server(workdir)
    plain = plain_server(plain_url, workdir) if plain_url else None
    pg_url = database_url if backend == "postgresql" else None
    plain_pg_url = plain_url if backend == "postgresql" else None
    with real, bare, plain or contextlib.nullcontext():
        say(
            f"  real server pid {real.pid} port {real.port}; bare server pid {bare.pid} "
            f"port {bare.port}; client {args.client}, {args.connections} connections"
            + (f"; real server env {args.server_env}" if args.server_env else "")
        )
        if plain:
            say(f"  plain server pid {plain.pid} port {plain.port}")
        w_bare = load(bare, token, args.warmup, "warmup-bare", args, script)
        w_plain = (
            load(plain, token, args.warmup, "warmup-plain", args, script, plain_pg_url)
            if plain
            else None
        )
        w_real = load(real, token, args.warmup, "warmup-real", args, script, pg_url)
        say(
            f"  warm-up {args.warmup:.0f}s each: bare {w_bare.rps:,.0f} req/s, "
            f"real {w_real.rps:,.0f} req/s ({w_real.created} incidents)"
            + (f"; plain {w_plain.rps:,.0f} req/s ({w_plain.created} incidents)" if w_plain else "")
        )
        rotation: list[tuple[str, Server, list[Result], str | None]] = [
            ("bare", bare, bare_results, None)
        ]
        if plain:
            rotation.append(("plain", plain, plain_results, plain_pg_url))
        rotation.append(("real", real, real_results, pg_url))
        rows = []
        for i in range(1, args.runs + 1):
            for kind, server, out, run_pg_url in rotation:
                r = load(server, token, args.duration, f"{kind}{i}", args, script, run_pg_url)
                out.append(r)
                rows.append(
                    [
                        f"{i}",
                        kind,
                        f"{r.rps:,.0f}",
                        f"{r.p50_ms:.2f}",
                        f"{r.p99_ms:.2f}",
                        f"{r.non_2xx}",
                        f"{r.unanswered}",
                        f"{r.received:,}",
                        f"{r.cpu_ms:.2f}",
                        f"{r.db_cpu_ms:.2f}" if pg_url else "-",
                    ]
                )
                say(
                    f"  run {i} {kind:4s}: {r.rps:8,.0f} req/s  p50 {r.p50_ms:7.2f} ms  "
                    f"p99 {r.p99_ms:7.2f} ms  non-2xx {r.non_2xx}  server CPU "
                    f"{r.cpu_ms:.2f} ms/req  statuses {r.statuses}"
                )
                if any(r.errors.values()):
                    say(f"      socket errors: {r.errors}")
    say("")
    say(
        table(
            [
                "run",
                "server",
                "req/s",
                "p50 ms",
                "p99 ms",
                "non-2xx",
                "cut off",
                "responses",
                "srv CPU ms/req",
                "PG CPU ms/req",
            ],
            rows,
        )
    )
    counts = count_rows(database_url)
    plain_counts = count_rows(plain_url) if plain_url else None
    chain_ok, chain_seconds = audit(database_url, workdir) if args.audit else (None, 0.0)
    return BackendReport(
        backend,
        bare_results,
        real_results,
        w_real.created,
        counts[0],
        counts[1],
        counts[2],
        chain_ok,
        chain_seconds,
        plain=plain_results,
        plain_warmup_created=w_plain.created if w_plain else 0,
        plain_db_incidents=plain_counts[0] if plain_counts else None,
        plain_db_distinct=plain_counts[1] if plain_counts else None,
    )


def count_rows(database_url: str) -> tuple[int, int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            incidents = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
            distinct = conn.execute(
                text("SELECT count(DISTINCT short_description) FROM incident")
            ).scalar_one()
            events = conn.execute(text("SELECT count(*) FROM incident_event")).scalar_one()
    finally:
        engine.dispose()
    return int(incidents), int(distinct), int(events)


def audit(database_url: str, workdir: Path) -> tuple[bool, float]:
    from _common import DUTYDESK

    t0 = time.monotonic()
    proc = subprocess.run(
        [DUTYDESK, "audit", "verify"],
        env=db_env(database_url),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode == 0, time.monotonic() - t0


# ----------------------------------------------------------------------------- summary


def summarize(reports: list[BackendReport], args: argparse.Namespace) -> None:
    banner(
        "api_create summary  (medians of "
        f"{args.runs} alternating runs of {args.duration:.0f}s, {args.connections} connections)"
    )
    # The columns of old stay first and in their order (the real/bare target and its status
    # included); the plain baseline's columns follow them.
    with_plain = any(rep.plain for rep in reports)
    rows = []
    for rep in reports:
        b, r, p = rep.bare, rep.real, rep.plain
        row = [
            rep.backend,
            f"{median([x.rps for x in b]):,.0f}",
            f"{median([x.p50_ms for x in b]):.2f}/{median([x.p99_ms for x in b]):.2f}",
            f"{median([x.rps for x in r]):,.0f}",
            f"{median([x.p50_ms for x in r]):.2f}/{median([x.p99_ms for x in r]):.2f}",
            f"{sum(x.non_2xx for x in b)}/{sum(x.non_2xx for x in r)}",
            f"{median([x.cpu_ms for x in b]):.2f}/{median([x.cpu_ms for x in r]):.2f}",
            f"{rep.ratio:.3f}",
            f">= {TARGET_RATIO}",
            verdict(rep.ratio >= TARGET_RATIO),
        ]
        if with_plain:
            row += (
                [
                    f"{median([x.rps for x in p]):,.0f}",
                    f"{median([x.p50_ms for x in p]):.2f}/{median([x.p99_ms for x in p]):.2f}",
                    f"{sum(x.non_2xx for x in p)}",
                    f"{median([x.cpu_ms for x in p]):.2f}",
                    f"{rep.plain_ratio:.3f}",
                    f"{rep.real_plain_ratio:.3f}",
                ]
                if p
                else ["-"] * 6
            )
        rows.append(row)
    headers = [
        "backend",
        "bare req/s",
        "bare p50/p99 ms",
        "real req/s",
        "real p50/p99 ms",
        "non-2xx b/r",
        "CPU ms/req b/r",
        "real/bare",
        "target",
        "status",
    ]
    if with_plain:
        headers += [
            "plain req/s",
            "plain p50/p99 ms",
            "non-2xx p",
            "CPU ms/req p",
            "plain/bare",
            "real/plain",
        ]
    say(table(headers, rows))
    say("")
    for rep in reports:
        check = "OK" if rep.writes_ok else "MISMATCH"
        say(
            f"writes on {rep.backend}: {rep.db_incidents:,} incidents in the database, "
            f"{rep.created_total:,} responses 201 (warm-up {rep.warmup_created:,} + runs), "
            f"{rep.db_distinct:,} distinct request bodies, {rep.db_events:,} history events, "
            f"{rep.unanswered} requests cut off -> {check}"
        )
        if rep.plain_db_incidents is not None:
            check = "OK" if rep.plain_writes_ok else "MISMATCH"
            say(
                f"plain writes on {rep.backend}: {rep.plain_db_incidents:,} incidents in the "
                f"plain server's database, {rep.plain_created_total:,} responses 201 (warm-up "
                f"{rep.plain_warmup_created:,} + runs), {rep.plain_db_distinct:,} distinct "
                f"request bodies, {rep.plain_unanswered} requests cut off -> {check}"
            )
        if rep.chain_ok is not None:
            say(
                f"hash chains on {rep.backend}: `dutydesk audit verify` "
                f"{'intact' if rep.chain_ok else 'FAILED'} ({rep.chain_seconds:.1f}s)"
            )
    say(
        f"server: {server_stack()}; client: {args.client}"
        + (f"; real server env {args.server_env}" if args.server_env else "")
    )
    say(
        "req/s = responses / (first request .. last response); p50/p99 = client-side latency; "
        "CPU ms/req = server process CPU time / responses (PG CPU = its backends)"
    )
    if with_plain:
        say(
            "plain = one ORM insert of the same body into the incident table, one commit per "
            "request, no auth/history/SLA (_plain_server.py, its own database); "
            "plain/bare and real/plain have no target"
        )


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend",
        choices=["all", "sqlite", "postgresql"],
        default="all",
        help="all = SQLite, plus PostgreSQL when reachable",
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per server")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--client", choices=["auto", "wrk", "asyncio"], default="auto")
    parser.add_argument(
        "--no-audit",
        dest="audit",
        action="store_false",
        help="skip `dutydesk audit verify` afterwards",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the real server, e.g. "
        "DUTYDESK_SQLITE_SYNCHRONOUS=NORMAL or DUTYDESK_WRITE_CONCURRENCY=1",
    )
    parser.add_argument(
        "--no-plain",
        dest="plain",
        action="store_false",
        help="skip the plain ORM insert baseline (the third server)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    parser.add_argument("--asyncio-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.asyncio_worker:
        _asyncio_worker(args.asyncio_worker)
        return 0
    args.server_env = dict(kv.split("=", 1) for kv in args.server_env)
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "asyncio"
    if args.client == "wrk" and not shutil.which("wrk"):
        say("wrk is not installed (apt-get install -y wrk); use --client asyncio")
        return 2

    banner("api_create: POST /api/v1/incidents vs a bare FastAPI endpoint (same model)")
    say(machine_info())
    say(server_stack())
    workdir = Path(tempfile.mkdtemp(prefix="dutydesk-bench-create-"))
    script = workdir / "post.lua"
    script.write_text(WRK_LUA)
    reports: list[BackendReport] = []
    try:
        if args.backend in ("all", "sqlite"):
            url = f"sqlite:///{workdir / 'sqlite' / 'dutydesk.db'}"
            plain_url = f"sqlite:///{workdir / 'sqlite' / 'plain.db'}" if args.plain else None
            (workdir / "sqlite").mkdir()
            reports.append(bench_backend("sqlite", url, workdir, args, script, plain_url))
        if args.backend in ("all", "postgresql"):
            ok, info = pg_reachable()
            if ok:
                with (
                    pg_database() as url,
                    pg_database("dutydesk_bench_plain")
                    if args.plain
                    else contextlib.nullcontext(None) as plain_url,
                ):
                    reports.append(
                        bench_backend("postgresql", url, workdir, args, script, plain_url)
                    )
            else:
                say(f"\nPostgreSQL not reachable ({info}): skipped")
        summarize(reports, args)
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
