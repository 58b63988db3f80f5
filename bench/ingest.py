"""Benchmark: monitoring events per second through the receivers, and an alert storm.

1. Single events: ``POST /api/v1/events`` (one event per request) and
   ``POST /integrations/alertmanager/{token}`` (one alert per webhook) on ``dutydesk serve``,
   against a bare FastAPI endpoint that only validates the same JSON with the same model
   (``EventCreate``) and echoes it, measured in the same run, alternating. Keys are drawn
   from 500, so after the first few hundred events almost every event is a duplicate (the
   common case in production: a firing alert re-sent by the monitoring system).
2. The storm: 100,000 events over 500 keys in batches of 1,000 (the batch form), sent in
   order on one connection. Each key triggers, repeats, resolves and re-triggers five times
   (10 state changes and 190 duplicates per key: 95 % duplicates); afterwards the database
   must hold exactly 2,500 alerts, 100,000 occurrences and 2,500 incidents, all resolved.

Everything runs on 127.0.0.1; each backend gets its own database (a SQLite file in a temp
dir, or ``dutydesk_bench_<hex>`` on PostgreSQL, dropped afterwards).

    .venv/bin/python bench/ingest.py                      # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/ingest.py --backend sqlite --runs 3 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    HOST,
    Server,
    banner,
    cli,
    cpu_seconds,
    db_env,
    dutydesk_server,
    free_port,
    machine_info,
    median,
    pg_database,
    pg_reachable,
    say,
    server_stack,
    table,
    verdict,
)

TARGET_RATIO = 0.4
TARGET_BATCH_RATE = 20_000  # events/s in batches on SQLite
KEYS = 500
STORM_EVENTS = 100_000
BATCH = 1000
CYCLE = 40  # per key: trigger, 38 duplicates, resolve; five cycles over 200 events

BARE_SERVER = r"""
import sys
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from dutydesk.intake.schemas import EventCreate

app = FastAPI(title="bare")

@app.post("/api/v1/events", status_code=202)
async def events(body: EventCreate) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=202)

@app.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), workers=1, log_level="warning",
            proxy_headers=False, access_log=False)
"""


def event_body(key: str) -> bytes:
    return json.dumps(
        {
            "dedup_key": key,
            "summary": f"{key} is failing",
            "severity": "error",
            "source": "bench",
            "labels": {"bench": "ingest"},
        }
    ).encode()


def alertmanager_body(key: str) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "dutydesk",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "groupKey": key,
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": key, "severity": "warning"},
                    "annotations": {"summary": f"{key} is failing"},
                    "startsAt": "2026-11-22T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": key,
                }
            ],
        }
    ).encode()


# ----------------------------------------------------------------------------- load


async def _load(port: int, path: str, token: str, kind: str, window: float, conns: int) -> Any:
    statuses: dict[str, int] = {}
    done = 0
    start = time.perf_counter()
    deadline = start + window
    last = start
    rng = random.Random(7)

    async def client() -> None:
        nonlocal done, last
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < deadline:
                key = f"k{rng.randrange(KEYS)}"
                body = alertmanager_body(key) if kind == "alertmanager" else event_body(key)
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                writer.write(head + body)
                status = (await reader.readline()).split(b" ")[1].decode()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                statuses[status] = statuses.get(status, 0) + 1
                done += 1
                last = time.perf_counter()
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(conns)))
    return {"done": done, "elapsed": last - start, "statuses": statuses}


def load(
    server: Server, path: str, token: str, kind: str, args: argparse.Namespace
) -> dict[str, Any]:
    spec = json.dumps(
        {
            "port": server.port,
            "path": path,
            "token": token,
            "kind": kind,
            "window": args.duration,
            "conns": args.connections,
        }
    )
    cpu = cpu_seconds(server.pid)
    proc = subprocess.run(
        [sys.executable, __file__, "--load-worker", spec],
        capture_output=True,
        text=True,
        timeout=args.duration + 120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load client failed:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["rps"] = result["done"] / result["elapsed"] if result["elapsed"] else 0.0
    result["cpu_ms"] = (cpu_seconds(server.pid) - cpu) * 1000 / max(result["done"], 1)
    return result


# ----------------------------------------------------------------------------- storm


def storm_events() -> list[dict[str, Any]]:
    events = []
    for step in range(STORM_EVENTS // KEYS):
        for n in range(KEYS):
            key = f"storm-{n}"
            if step % CYCLE == CYCLE - 1:
                events.append({"dedup_key": key, "status": "resolved"})
            else:
                events.append(
                    {"dedup_key": key, "summary": f"{key} is failing", "severity": "warning"}
                )
    return events


def storm(server: Server, token: str) -> dict[str, Any]:
    events = storm_events()
    bodies = [json.dumps(events[i : i + BATCH]).encode() for i in range(0, len(events), BATCH)]
    conn = http.client.HTTPConnection(HOST, server.port, timeout=300)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    outcomes: dict[str, int] = {}
    cpu = cpu_seconds(server.pid)
    start = time.perf_counter()
    for body in bodies:
        conn.request("POST", "/api/v1/events", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 202:
            raise RuntimeError(f"storm batch answered {response.status}: {data[:300]!r}")
        for result in json.loads(data)["results"]:
            outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
    elapsed = time.perf_counter() - start
    conn.close()
    return {
        "events": len(events),
        "elapsed": elapsed,
        "rate": len(events) / elapsed,
        "cpu_ms": (cpu_seconds(server.pid) - cpu) * 1000 / len(events),
        "outcomes": outcomes,
    }


def storm_counts(database_url: str, integration: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(a.occurrences), 0), count(DISTINCT a.incident_id),"
                " sum(CASE WHEN a.status = 'resolved' THEN 1 ELSE 0 END)"
                " FROM alert a JOIN integration i ON i.id = a.integration_id WHERE i.name = :n"
            ),
            {"n": integration},
        ).one()
        resolved = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE state = 'resolved' AND id IN "
                "(SELECT a.incident_id FROM alert a JOIN integration i ON i.id = a.integration_id"
                " WHERE i.name = :n)"
            ),
            {"n": integration},
        ).scalar_one()
    engine.dispose()
    return {
        "alerts": int(row[0]),
        "occurrences": int(row[1]),
        "incidents": int(row[2]),
        "alerts_resolved": int(row[3] or 0),
        "incidents_resolved": int(resolved),
    }


# ----------------------------------------------------------------------------- one backend


def integration_token(database_url: str, cwd: Path, name: str, kind: str) -> str:
    out = cli(["integration", "create", name, "--kind", kind], database_url, cwd=cwd)
    return out.strip().splitlines()[-1].strip()


def run_backend(
    name: str, database_url: str, args: argparse.Namespace, cwd: Path
) -> dict[str, Any]:
    banner(f"{name}: {database_url.split('@')[-1]}")
    cli(["migrate"], database_url, cwd=cwd)
    generic_token = integration_token(database_url, cwd, "bench-generic", "generic")
    am_token = integration_token(database_url, cwd, "bench-am", "alertmanager")
    storm_token = integration_token(database_url, cwd, "bench-storm", "generic")
    # The storm re-triggers each key five times within minutes: not flapping for this test.
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE integration SET flap_changes = 1000"))
    engine.dispose()
    bare_port = free_port()
    bare = Server(
        "bare-events",
        [sys.executable, "-c", BARE_SERVER, str(bare_port)],
        db_env("sqlite://"),
        cwd,
        bare_port,
    )
    rows: dict[str, list[dict[str, Any]]] = {"bare": [], "generic": [], "alertmanager": []}
    with bare, dutydesk_server(database_url, cwd) as real:
        quick = argparse.Namespace(**{**vars(args), "duration": 2.0})
        load(bare, "/api/v1/events", "-", "generic", quick)  # warm-up
        load(real, "/api/v1/events", generic_token, "generic", quick)
        # also the Alertmanager integration: its first run would otherwise open the alerts
        # and incidents of its keys (bare and generic are warmed the same way)
        load(real, f"/integrations/alertmanager/{am_token}", "-", "alertmanager", quick)
        for run in range(args.runs):
            rows["bare"].append(load(bare, "/api/v1/events", "-", "generic", args))
            rows["generic"].append(load(real, "/api/v1/events", generic_token, "generic", args))
            rows["alertmanager"].append(
                load(real, f"/integrations/alertmanager/{am_token}", "-", "alertmanager", args)
            )
            say(
                f"  run {run + 1}: bare {rows['bare'][-1]['rps']:.0f}/s, generic "
                f"{rows['generic'][-1]['rps']:.0f}/s, alertmanager "
                f"{rows['alertmanager'][-1]['rps']:.0f}/s"
            )
        stormed = storm(real, storm_token)
    counts = storm_counts(database_url, "bench-storm")
    bare_rps = median([r["rps"] for r in rows["bare"]])
    report = {"backend": name, "bare": bare_rps, "storm": stormed, "counts": counts}
    for kind in ("generic", "alertmanager"):
        rps = median([r["rps"] for r in rows[kind]])
        errors = sum(n for r in rows[kind] for s, n in r["statuses"].items() if s != "202")
        report[kind] = {
            "rps": rps,
            "ratio": rps / bare_rps if bare_rps else 0.0,
            "cpu_ms": median([r["cpu_ms"] for r in rows[kind]]),
            "errors": errors,
        }
    return report


def expected_counts() -> dict[str, int]:
    cycles = STORM_EVENTS // KEYS // CYCLE
    return {
        "alerts": KEYS * cycles,
        "occurrences": STORM_EVENTS,
        "incidents": KEYS * cycles,
        "alerts_resolved": KEYS * cycles,
        "incidents_resolved": KEYS * cycles,
    }


def summary(reports: list[dict[str, Any]]) -> bool:
    banner("Summary")
    ok = True
    rows = []
    for r in reports:
        for kind in ("generic", "alertmanager"):
            good = r[kind]["ratio"] >= TARGET_RATIO and r[kind]["errors"] == 0
            ok &= good
            rows.append(
                [
                    r["backend"],
                    kind,
                    f"{r[kind]['rps']:.0f}",
                    f"{r['bare']:.0f}",
                    f"{r[kind]['ratio']:.2f}",
                    f"{r[kind]['cpu_ms']:.2f}",
                    r[kind]["errors"],
                    verdict(good),
                ]
            )
    say(
        table(
            ["backend", "receiver", "events/s", "bare/s", "ratio", "cpu ms/ev", "non-202", "≥0.4"],
            rows,
        )
    )
    say("")
    rows = []
    for r in reports:
        exact = r["counts"] == expected_counts()
        fast = r["backend"] != "sqlite" or r["storm"]["rate"] >= TARGET_BATCH_RATE
        ok &= exact
        rows.append(
            [
                r["backend"],
                f"{r['storm']['rate']:.0f}",
                f"{r['storm']['cpu_ms'] * 1000:.0f}",
                json.dumps(r["counts"]),
                verdict(exact),
                verdict(fast) if r["backend"] == "sqlite" else "-",
            ]
        )
    say(table(["backend", "storm events/s", "cpu µs/ev", "counts", "exact", "≥20k/s"], rows))
    say(f"expected: {json.dumps(expected_counts())}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--load-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_worker:
        spec = json.loads(args.load_worker)
        result = asyncio.run(
            _load(
                spec["port"],
                spec["path"],
                spec["token"],
                spec["kind"],
                spec["window"],
                spec["conns"],
            )
        )
        print(json.dumps(result))
        return
    say(machine_info())
    say(server_stack())
    reports = []
    with tempfile.TemporaryDirectory(prefix="dd-bench-ingest-") as tmp:
        cwd = Path(tmp)
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{cwd / 'ingest.db'}"
            reports.append(run_backend("sqlite", url, args, cwd))
        if args.backend in ("postgresql", "both"):
            reachable, info = pg_reachable()
            if reachable:
                with pg_database() as url:
                    reports.append(run_backend("postgresql", url, args, cwd))
            else:
                say(f"PostgreSQL skipped: {info}")
    summary(reports)


if __name__ == "__main__":
    main()
