"""Profile the agent workspace's pages in-process: where the CPU of one page goes.

Copies the 1M-incident SQLite database that ``queue_query.py`` / ``pages.py`` cache (seeding
it when missing; ``--rows`` for a smaller one, ``--database-url`` for another database that
already holds incidents), adds the admin bob and the agent alice as ``pages.py`` does and an
incident with 200 timeline entries, then requests each page ``--requests`` times through
``httpx.ASGITransport`` with the read threads run inline, so one cProfile on this thread sees
everything the server does for a page: authentication, the reads, the template, the response.

    .venv/bin/python bench/profile_pages.py                        # 1M rows, every page
    .venv/bin/python bench/profile_pages.py --page incident --limit 40
    .venv/bin/python bench/profile_pages.py --no-profile           # CPU per page only
    .venv/bin/python bench/profile_pages.py --backend postgresql   # a fresh seeded database
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from _common import create_token, pg_database
from pages import PASSWORD, TIMELINE, add_user
from queue_query import AGENT_CUSTOMER, QUEUE_GROUP, seed_postgresql, sqlite_database
from sqlalchemy import event

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database, make_engine

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = {
    "groups": "/queues?tab=groups",
    "all-agent": "/queues?tab=all",
    "breaching": "/queues?tab=breaching",
    "all-admin": "/queues?tab=all",
    "incident": "/incidents/{number}",
}


async def _inline(fn: Any, *args: Any, **_: Any) -> Any:
    return fn(*args)


async def sign_in(client: httpx.AsyncClient, login: str) -> None:
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token, "no CSRF token on /login"
    form = {"login": login, "password": PASSWORD, "csrf_token": token.group(1)}
    response = await client.post("/login", data=form)
    assert response.status_code == 303, response.text[:300]


async def prepare(app: Any, admin_token: str) -> str:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers
    ) as api:
        users = (await api.get("/api/v1/admin/users")).json()
        alice = next(u["id"] for u in users if u["username"] == "alice")
        await api.put(f"/api/v1/admin/groups/{QUEUE_GROUP}/members/{alice}")
        await api.put(f"/api/v1/admin/users/{alice}/customers/{AGENT_CUSTOMER}")
        body = {
            "short_description": "Bench: a long story",
            "caller_id": 1,
            "impact": 2,
            "urgency": 2,
            "assignment_group_id": QUEUE_GROUP,
        }
        number = str((await api.post("/api/v1/incidents", json=body)).json()["number"])
        have = len((await api.get(f"/api/v1/incidents/{number}/events")).json())
        for i in range(TIMELINE - have):
            comment = {
                "body": f"Step {i}: checked the relay logs, nothing new. @alice",
                "visibility": "public" if i % 3 == 0 else "work_note",
            }
            await api.post(f"/api/v1/incidents/{number}/comments", json=comment)
    return number


async def run(app: Any, args: argparse.Namespace, number: str) -> None:
    transport = httpx.ASGITransport(app=app)
    clients = {}
    for who in ("alice", "bob"):
        client = httpx.AsyncClient(transport=transport, base_url="http://bench")
        await sign_in(client, who)
        clients[who] = client
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]  # reads run on this thread
    chosen = [args.page] if args.page else list(PAGES)
    rows = []
    for name in chosen:
        who = "bob" if name in ("all-admin", "incident") else "alice"
        path = PAGES[name].format(number=number)
        if name == "incident" and args.limit:
            path += f"?limit={args.limit}"
        client = clients[who]
        for _ in range(3):  # warm-up
            assert (await client.get(path)).status_code == 200
        profile = cProfile.Profile(time.thread_time) if args.profile else None
        cpu, walls = [], []
        for _ in range(args.requests):
            t0, c0 = time.perf_counter(), time.thread_time()
            if profile is not None:
                profile.enable()
            response = await client.get(path)
            if profile is not None:
                profile.disable()
            cpu.append(time.thread_time() - c0)
            walls.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.text[:300]
        cpu.sort()
        walls.sort()
        rows.append((name, who, path, cpu[len(cpu) // 2], cpu[int(len(cpu) * 0.95)], walls))
        if profile is not None:
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats(args.sort).print_stats(args.limit_profile)
            if args.callers:
                stats.print_callers(args.callers)
            print(f"\n===== {name} ({who}) {path}: profile of {args.requests} requests")
            print(out.getvalue())
    for client in clients.values():
        await client.aclose()
    print(f"\n{'page':<12} {'user':<6} {'CPU p50 ms':>10} {'CPU p95 ms':>10} {'wall p50 ms':>11}")
    for name, who, _path, p50, p95, walls in rows:
        wall = walls[len(walls) // 2] * 1000
        print(f"{name:<12} {who:<6} {p50 * 1000:>10.1f} {p95 * 1000:>10.1f} {wall:>11.1f}")


def watch_statements(database: Database, into: dict[str, list[float]]) -> None:
    """Wall time of every statement the database runs, by SQL text (warm-up included)."""
    started: list[float] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def before(*_: Any) -> None:
        started.append(time.perf_counter())

    @event.listens_for(database.engine, "after_cursor_execute")
    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        into.setdefault(statement, []).append(time.perf_counter() - started.pop())


def print_statements(statements: dict[str, list[float]], top: int) -> None:
    ranked = sorted(statements.items(), key=lambda kv: -sum(kv[1]))[:top]
    print(f"\n===== the {top} statements with the most total time")
    for sql, times in ranked:
        times.sort()
        one_line = " ".join(sql.split())
        print(
            f"{sum(times) * 1000:9.1f} ms total  {len(times):5d}x  "
            f"p50 {times[len(times) // 2] * 1000:7.2f} ms  max {times[-1] * 1000:7.2f} ms"
        )
        print(f"    {one_line[:400]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql"], default="sqlite", help="a seeded copy"
    )
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--page", choices=sorted(PAGES), default=None)
    parser.add_argument("--limit", type=int, default=None, help="timeline entries to show")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--sql", type=int, default=0, help="print the N slowest statements")
    parser.add_argument("--limit-profile", type=int, default=40)
    parser.add_argument("--callers", default=None, help="print who calls functions matching this")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dd-pages-")))
        url = args.database_url
        if url is None and args.backend == "postgresql":
            url = stack.enter_context(pg_database("dutydesk_bench_pages"))
            print(f"database: seeded by COPY in {seed_postgresql(url, args.rows, workdir):.0f}s")
        elif url is None:
            url, prep = sqlite_database(args.rows, workdir, use_cache=True)
            print(f"database: {prep}", flush=True)
        for name, role in (("bob", "admin"), ("alice", "agent")):
            try:
                add_user(url, workdir, name, role)
            except RuntimeError as exc:  # a --database-url used before
                if "already exists" not in str(exc):
                    raise
        admin_token = create_token(url, workdir, "bob")
        settings = Settings(database_url=url, storage_dir=workdir / "files", serve_worker=False)
        database = Database(make_engine(url))
        statements: dict[str, list[float]] = {}
        if args.sql:
            watch_statements(database, statements)
        app = create_app(settings, database)

        async def go() -> None:
            async with app.router.lifespan_context(app):
                number = await prepare(app, admin_token)
                await run(app, args, number)

        asyncio.run(go())
        if args.sql:
            print_statements(statements, args.sql)
    return 0


if __name__ == "__main__":
    sys.exit(main())
