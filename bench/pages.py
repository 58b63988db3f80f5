"""Benchmark: the agent workspace's pages, signed in through the browser form.

* the queue page ``/queues`` (every tab's capped count + one page of 50 rows + the filter
  choices) over ``--rows`` incidents (default 1,000,000), seeded and cached exactly as
  ``queue_query.py`` does, read as an agent who is a member of one group and serves one
  customer (tabs "My groups" and "All") and as an admin ("All");
* the incident page ``/incidents/{number}`` of an incident with 200 timeline entries (work
  notes and public replies added through the API), read as the admin.

Each page is requested ``--reps`` times over one keep-alive connection after a warm-up; the
time is request + full response over loopback (``dutydesk serve``, one process). The baseline
is the same server's ``GET /healthz`` p50, measured in the same run between the page requests.
Targets (issue 5): p95 under 100 ms for the queue page, under 50 ms for the incident page.

    .venv/bin/python bench/pages.py                  # 1M rows, SQLite + PostgreSQL
    .venv/bin/python bench/pages.py --rows 100000    # quick
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from _common import (
    DUTYDESK,
    HOST,
    api_json,
    banner,
    create_token,
    db_env,
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
from queue_query import AGENT_CUSTOMER, QUEUE_GROUP, seed_postgresql, sqlite_database

QUEUE_TARGET_MS = 100.0
INCIDENT_TARGET_MS = 50.0
TIMELINE = 200
PASSWORD = "bench password 1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """One keep-alive connection with cookies: signs in through /login like a browser."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[float, int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):  # the server closed it idle
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            t0 = time.perf_counter()
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - t0
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return elapsed, resp.status, data

    def sign_in(self, login: str) -> None:
        _, _, page = self.request("GET", "/login")
        token = CSRF.search(page.decode())
        assert token, "no CSRF token on /login"
        _, status, body = self.request(
            "POST", "/login", {"login": login, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        if status != 303:
            raise RuntimeError(f"sign-in of {login} failed: {status} {body[:300]!r}")

    def close(self) -> None:
        self.conn.close()


def add_user(database_url: str, workdir: Path, name: str, role: str) -> None:
    proc = subprocess.run(
        [
            DUTYDESK,
            "user",
            "add",
            name,
            "--role",
            role,
            "--email",
            f"{name}@example.com",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env=db_env(database_url),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"user add {name}: {proc.stderr}")


def incident_with_timeline(port: int, token: str) -> str:
    """An incident of the agent's group with TIMELINE entries: notes and replies."""
    created = api_json(
        port,
        "POST",
        "/api/v1/incidents",
        token,
        {
            "short_description": "Bench: a long story",
            "caller_id": 1,
            "impact": 2,
            "urgency": 2,
            "assignment_group_id": QUEUE_GROUP,
        },
    )
    number = str(created["number"])
    have = len(api_json(port, "GET", f"/api/v1/incidents/{number}/events", token))
    for i in range(TIMELINE - have):
        visibility = "public" if i % 3 == 0 else "work_note"
        api_json(
            port,
            "POST",
            f"/api/v1/incidents/{number}/comments",
            token,
            {
                "body": f"Step {i}: checked the relay logs, nothing new. @alice",
                "visibility": visibility,
            },
        )
    return number


def measure(
    browser: Browser, health: Browser, path: str, reps: int, healthz: list[float]
) -> list[float]:
    for _ in range(5):  # warm-up
        browser.request("GET", path)
    samples = []
    for _ in range(reps):
        elapsed, status, body = browser.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        samples.append(elapsed)
        healthz.append(health.request("GET", "/healthz")[0])
    return samples


def bench_backend(
    backend: str, url: str, workdir: Path, reps: int, prep: str, env: dict[str, str] | None = None
) -> list[list[str]]:
    say(f"  database ready: {prep}")
    add_user(url, workdir, "bob", "admin")
    add_user(url, workdir, "alice", "agent")
    token = create_token(url, workdir, "bob")
    rows: list[list[str]] = []
    server = dutydesk_server(url, workdir, name=f"dutydesk-pages-{backend}")
    server.env.update(env or {})
    with server:
        users = api_json(server.port, "GET", "/api/v1/admin/users", token)
        alice = next(u["id"] for u in users if u["username"] == "alice")
        api_json(server.port, "PUT", f"/api/v1/admin/groups/{QUEUE_GROUP}/members/{alice}", token)
        api_json(
            server.port, "PUT", f"/api/v1/admin/users/{alice}/customers/{AGENT_CUSTOMER}", token
        )
        t0 = time.monotonic()
        number = incident_with_timeline(server.port, token)
        say(f"  {number} with {TIMELINE} timeline entries in {time.monotonic() - t0:.0f}s")
        agent, admin, health = Browser(server.port), Browser(server.port), Browser(server.port)
        agent.sign_in("alice")
        admin.sign_in("bob")
        healthz: list[float] = []
        pages = (
            ("queue: My groups (agent)", agent, "/queues?tab=groups", QUEUE_TARGET_MS),
            ("queue: All (agent)", agent, "/queues?tab=all", QUEUE_TARGET_MS),
            ("queue: Breaching soon (agent)", agent, "/queues?tab=breaching", QUEUE_TARGET_MS),
            ("queue: All (admin)", admin, "/queues?tab=all", QUEUE_TARGET_MS),
            (
                f"incident, {TIMELINE} entries (admin)",
                admin,
                f"/incidents/{number}",
                INCIDENT_TARGET_MS,
            ),
            (
                f"incident, {TIMELINE} entries (agent)",
                agent,
                f"/incidents/{number}",
                INCIDENT_TARGET_MS,
            ),
        )
        measured = [
            (label, measure(b, health, path, reps, healthz), target)
            for label, b, path, target in pages
        ]
        for b in (agent, admin, health):
            b.close()
    hz = median(healthz)
    say(f"  healthz p50 {hz * 1000:.2f} ms ({len(healthz)} requests)")
    for label, samples, target in measured:
        p50, p95 = median(samples) * 1000, percentile(samples, 95) * 1000
        rows.append(
            [
                backend,
                label,
                f"{p50:.1f}",
                f"{p95:.1f}",
                f"{p95 / (hz * 1000):.0f}x",
                f"< {target:.0f}",
                verdict(p95 < target),
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--reps", type=int, default=60, help="requests per page")
    parser.add_argument("--no-cache", dest="cache", action="store_false")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the server, e.g. DUTYDESK_SERVE_WORKER=false",
    )
    parser.add_argument(
        "--with-retraining",
        action="store_true",
        help="let the server's worker retrain triage now (on a fresh 1M database it trains "
        "for minutes, in a child process, competing for the CPU with the pages measured)",
    )
    args = parser.parse_args()
    args.server_env = dict(kv.split("=", 1) for kv in args.server_env)
    if not args.with_retraining:
        args.server_env.setdefault("DUTYDESK_TRIAGE_RETRAIN_HOURS", "0")
    banner(f"pages: the agent workspace over {args.rows:,} incidents")
    say(machine_info())
    say(server_stack())
    workdir = Path(tempfile.mkdtemp(prefix="dutydesk-bench-pages-"))
    rows: list[list[str]] = []
    try:
        if args.backend in ("all", "sqlite"):
            banner("pages on sqlite")
            url, prep = sqlite_database(args.rows, workdir, args.cache)
            rows += bench_backend("sqlite", url, workdir, args.reps, prep, args.server_env)
        if args.backend in ("all", "postgresql"):
            ok, info = pg_reachable()
            if ok:
                banner("pages on postgresql")
                with pg_database() as url:
                    seconds = seed_postgresql(url, args.rows, workdir)
                    prep = f"COPY + ANALYZE in {seconds:.0f}s"
                    rows += bench_backend(
                        "postgresql", url, workdir, args.reps, prep, args.server_env
                    )
            else:
                say(f"\nPostgreSQL not reachable ({info}): skipped")
        banner("summary")
        say(table(["backend", "page", "p50 ms", "p95 ms", "p95/healthz", "target", ""], rows))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
